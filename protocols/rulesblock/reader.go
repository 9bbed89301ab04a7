package rulesblock

import (
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Reader reads the YAML nodes of one model file: it reports every problem
// with its position, refuses unknown and repeated keys (naming the key that
// was probably meant), and follows aliases (*name) only up to a bound for
// the whole file. The zone model reads the whole file with the Reader it
// hands to the protocols' block readers, so that both speak alike.
type Reader struct {
	dir       string
	report    func(at Pos, msg string)
	aliasUses int
}

// NewReader returns a Reader that sends its problems to report. dir is the
// directory of the model file: relative file names in the model are
// relative to it.
func NewReader(dir string, report func(at Pos, msg string)) *Reader {
	return &Reader{dir: dir, report: report}
}

// Dir is the directory of the model file.
func (r *Reader) Dir() string { return r.dir }

// Errorf reports a problem at a position of the model file.
func (r *Reader) Errorf(at Pos, format string, args ...any) {
	r.report(at, fmt.Sprintf(format, args...))
}

// MaxAliasUses bounds how often aliases (*name) may be followed while
// reading one model: nested aliases multiply (a "billion laughs" file),
// and a model is read by the daemon while it holds its change lock.
const MaxAliasUses = 10000

// errNode stands for the value of an alias the reader refused to follow.
var errNode = &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null"}

// Resolve follows aliases to the node they name. Every node a block reader
// looks at goes through it (the other methods do so themselves).
func (r *Reader) Resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		r.aliasUses++
		if r.aliasUses > MaxAliasUses {
			if r.aliasUses == MaxAliasUses+1 {
				r.Errorf(PosOf(n), "more than %d uses of YAML aliases (*name): write the model out instead", MaxAliasUses)
			}
			return errNode
		}
		n = n.Alias
	}
	return n
}

// Fields walks a mapping, reporting repeated and unknown keys and calling
// handle for each known one, with the key and the value resolved. what
// names the mapping in messages ("the modbus block"). It returns false
// when n is not a mapping.
func (r *Reader) Fields(n *yaml.Node, what string, known []string, handle func(key string, k, v *yaml.Node)) bool {
	return r.Entries(n, what, func(key string, k, v *yaml.Node) {
		if !slices.Contains(known, key) {
			hint := "known keys: " + strings.Join(known, ", ")
			if c := Closest(key, known); c != "" {
				hint = fmt.Sprintf("did you mean %q? (%s)", c, hint)
			}
			r.Errorf(PosOf(k), "unknown key %q in %s: %s", key, what, hint)
			return
		}
		handle(key, k, v)
	})
}

// Entries walks a mapping whose keys are names the model chooses (such as
// role names), reporting repeated keys and calling handle for each entry
// with the key and the value resolved. It returns false when n is not a
// mapping.
func (r *Reader) Entries(n *yaml.Node, what string, handle func(key string, k, v *yaml.Node)) bool {
	n = r.Resolve(n)
	if n.Kind != yaml.MappingNode {
		r.Errorf(PosOf(n), "%s must be a mapping of `key: value` lines, not %s", what, Describe(n))
		return false
	}
	seen := map[string]Pos{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := r.Resolve(n.Content[i]), r.Resolve(n.Content[i+1])
		key := k.Value
		if first, dup := seen[key]; dup {
			r.Errorf(PosOf(k), "key %q repeated in %s (first at line %d): keep only one", key, what, first.Line)
			continue
		}
		seen[key] = PosOf(k)
		handle(key, k, v)
	}
	return true
}

// Describe names what a node holds, for messages: "a list", "a mapping",
// "an empty value", `the value "x"`.
func Describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	case yaml.ScalarNode:
		if IsNull(n) {
			return "an empty value"
		}
		return fmt.Sprintf("the value %q", n.Value)
	}
	return "this"
}

// IsNull reports whether a (resolved) node is an empty value.
func IsNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

// Each calls fn for every element of a list, resolved; an empty value is an
// empty list.
func (r *Reader) Each(n *yaml.Node, what string, fn func(e *yaml.Node)) {
	n = r.Resolve(n)
	if IsNull(n) {
		return
	}
	if n.Kind != yaml.SequenceNode {
		r.Errorf(PosOf(n), "%s must be a list (lines starting with `- `), not %s", what, Describe(n))
		return
	}
	for _, e := range n.Content {
		fn(r.Resolve(e))
	}
}

// Str reads a single value.
func (r *Reader) Str(n *yaml.Node, what string) (string, bool) {
	n = r.Resolve(n)
	if n.Kind != yaml.ScalarNode || IsNull(n) {
		r.Errorf(PosOf(n), "%s must be a single value, not %s", what, Describe(n))
		return "", false
	}
	return n.Value, true
}

// Int reads a whole number.
func (r *Reader) Int(n *yaml.Node, what string) (int, bool) {
	s, ok := r.Str(n, what)
	if !ok {
		return 0, false
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		r.Errorf(PosOf(n), "%s must be a whole number, not %q", what, s)
		return 0, false
	}
	return v, true
}

// Bool reads true or false.
func (r *Reader) Bool(n *yaml.Node, what string) (value, ok bool) {
	switch i := r.OneOf(n, what, "false", "true"); i {
	case 0, 1:
		return i == 1, true
	}
	return false, false
}

// OneOf reads a value that must be one of options and returns its index,
// or -1 after reporting what is allowed.
func (r *Reader) OneOf(n *yaml.Node, what string, options ...string) int {
	s, ok := r.Str(n, what)
	if !ok {
		return -1
	}
	if i := slices.Index(options, s); i >= 0 {
		return i
	}
	r.Errorf(PosOf(n), "%s %q is not one of %s", what, s, strings.Join(options, ", "))
	return -1
}

// Path reads a file name. A relative name is relative to the model file's
// directory: Path returns it joined to Dir. It does not look at the file
// (a model is also checked away from the gateway). Keep the name as
// written in the canonical form if the digest must not depend on where
// the model file lies.
func (r *Reader) Path(n *yaml.Node, what string) (string, bool) {
	s, ok := r.Str(n, what)
	if !ok {
		return "", false
	}
	if s == "" {
		r.Errorf(PosOf(r.Resolve(n)), "%s is empty: write the file's name", what)
		return "", false
	}
	if filepath.IsAbs(s) {
		return filepath.Clean(s), true
	}
	return filepath.Join(r.dir, s), true
}

// Closest returns the candidate nearest to s by edit distance when it is
// close enough to be a likely typo, or "".
func Closest(s string, candidates []string) string {
	best, bestDist := "", len(s)/2+2
	for _, c := range candidates {
		if d := editDistance(s, c); d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
