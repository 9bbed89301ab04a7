package rulesblock

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// parse returns the top node of a YAML text and a Reader whose problems are
// collected as "LINE:COLUMN: message".
func parse(t *testing.T, dir, src string) (*Reader, *yaml.Node, *[]string) {
	t.Helper()
	var doc yaml.Node
	require.NoError(t, yaml.Unmarshal([]byte(src), &doc))
	var problems []string
	r := NewReader(dir, func(at Pos, msg string) {
		problems = append(problems, fmt.Sprintf("%d:%d: %s", at.Line, at.Column, msg))
	})
	return r, doc.Content[0], &problems
}

func TestFieldsRefusesUnknownAndRepeatedKeys(t *testing.T) {
	r, n, problems := parse(t, ".", "mode: a\nmdoe: b\nmode: c\nunits: [1]\n")
	var seen []string
	ok := r.Fields(n, "the block", []string{"mode", "units"}, func(key string, _, v *yaml.Node) {
		seen = append(seen, key+"="+r.Resolve(v).Value)
	})
	assert.True(t, ok)
	assert.Equal(t, []string{"mode=a", "units="}, seen)
	assert.Equal(t, []string{
		`2:1: unknown key "mdoe" in the block: did you mean "mode"? (known keys: mode, units)`,
		`3:1: key "mode" repeated in the block (first at line 1): keep only one`,
	}, *problems)

	r, n, problems = parse(t, ".", "[1, 2]\n")
	assert.False(t, r.Fields(n, "the block", nil, nil))
	assert.Equal(t, []string{"1:1: the block must be a mapping of `key: value` lines, not a list"}, *problems)
}

func TestScalars(t *testing.T) {
	r, n, problems := parse(t, ".", "{a: x, b: 12, c: [1], d: ~, e: maybe}\n")
	get := func(key string) *yaml.Node {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				return n.Content[i+1]
			}
		}
		t.Fatalf("no key %s", key)
		return nil
	}
	s, ok := r.Str(get("a"), "a")
	assert.True(t, ok)
	assert.Equal(t, "x", s)
	i, ok := r.Int(get("b"), "b")
	assert.True(t, ok)
	assert.Equal(t, 12, i)
	_, ok = r.Int(get("a"), "a")
	assert.False(t, ok)
	_, ok = r.Str(get("c"), "c")
	assert.False(t, ok)
	_, ok = r.Str(get("d"), "d")
	assert.False(t, ok)
	assert.Equal(t, 1, r.OneOf(get("e"), "e", "yes", "maybe"))
	assert.Equal(t, -1, r.OneOf(get("a"), "a", "yes", "no"))
	var elems []string
	r.Each(get("c"), "c", func(e *yaml.Node) { elems = append(elems, e.Value) })
	r.Each(get("d"), "d", func(e *yaml.Node) { t.Errorf("an empty value has no elements") })
	r.Each(get("a"), "a", func(e *yaml.Node) { t.Errorf("a single value is not a list") })
	assert.Equal(t, []string{"1"}, elems)
	assert.Equal(t, []string{
		`1:5: a must be a whole number, not "x"`,
		"1:18: c must be a single value, not a list",
		"1:26: d must be a single value, not an empty value",
		`1:5: a "x" is not one of yes, no`,
		"1:5: a must be a list (lines starting with `- `), not the value \"x\"",
	}, *problems)
}

func TestPathIsRelativeToTheModel(t *testing.T) {
	r, n, problems := parse(t, "/etc/zonegate", "[tls/gw.crt, /srv/ca.pem, ../x.pem, '']\n")
	var got []string
	r.Each(n, "files", func(e *yaml.Node) {
		if p, ok := r.Path(e, "certificate"); ok {
			got = append(got, p)
		}
	})
	assert.Equal(t, []string{"/etc/zonegate/tls/gw.crt", "/srv/ca.pem", "/etc/x.pem"}, got)
	assert.Equal(t, []string{"1:37: certificate is empty: write the file's name"}, *problems)
	assert.Equal(t, "/etc/zonegate", r.Dir())
}

func TestAliasesAreBounded(t *testing.T) {
	var b strings.Builder
	b.WriteString("a: &a x\nlist: [")
	for i := 0; i < MaxAliasUses+5; i++ {
		b.WriteString("*a, ")
	}
	b.WriteString("*a]\n")
	r, n, problems := parse(t, ".", b.String())
	count := 0
	r.Fields(n, "the model", []string{"a", "list"}, func(key string, _, v *yaml.Node) {
		if key == "list" {
			r.Each(v, "list", func(e *yaml.Node) {
				if !IsNull(e) {
					count++
				}
			})
		}
	})
	assert.Equal(t, MaxAliasUses, count, "aliases followed up to the bound")
	require.Len(t, *problems, 1, "one message, however many aliases lie beyond the bound")
	assert.Contains(t, (*problems)[0], "more than 10000 uses of YAML aliases")
}

func TestClosest(t *testing.T) {
	names := []string{"holding_registers", "input_registers", "coils"}
	assert.Equal(t, "holding_registers", Closest("holding_register", names))
	assert.Equal(t, "coils", Closest("coil", names))
	assert.Equal(t, "", Closest("flux_capacitor", names))
}

func TestEntriesAndBool(t *testing.T) {
	r, n, problems := parse(t, ".", "operator: true\nengineer: false\noperator: yes\nadmin: [x]\n")
	var got []string
	ok := r.Entries(n, "roles", func(key string, _, v *yaml.Node) {
		if b, ok := r.Bool(v, "require_role"); ok {
			got = append(got, fmt.Sprintf("%s=%v", key, b))
		}
	})
	assert.True(t, ok)
	assert.Equal(t, []string{"operator=true", "engineer=false"}, got)
	assert.Equal(t, []string{
		`3:1: key "operator" repeated in roles (first at line 1): keep only one`,
		"4:8: require_role must be a single value, not a list",
	}, *problems)
	r, n, problems = parse(t, ".", "[a]\n")
	assert.False(t, r.Entries(n, "roles", nil))
	assert.Equal(t, []string{"1:1: roles must be a mapping of `key: value` lines, not a list"}, *problems)
}
