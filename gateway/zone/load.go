package zone

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"net/netip"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/zonegate/zonegate/protocols/inspect"
	"github.com/zonegate/zonegate/protocols/modbus"
)

// MaxFileSize bounds the model files Load reads.
const MaxFileSize = 16 << 20

// LoadFile reads, parses and validates a zone model file. On failure the
// error is a Diagnostics listing every problem as FILE:LINE:COLUMN: message.
func LoadFile(path string) (*Model, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read zone model: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("read zone model: %w", err)
	}
	if st.Size() > MaxFileSize {
		return nil, Diagnostics{{File: path, Pos: Pos{1, 1}, Message: fmt.Sprintf("file is %d bytes; a zone model may have at most %d", st.Size(), MaxFileSize)}}
	}
	data := make([]byte, st.Size())
	if _, err := f.ReadAt(data, 0); err != nil && st.Size() > 0 {
		return nil, fmt.Errorf("read zone model: %w", err)
	}
	return Load(path, data)
}

// Load parses and validates a zone model; name is used in messages.
func Load(name string, data []byte) (*Model, error) {
	l := &loader{reporter: reporter{file: name}}
	m := l.parse(data)
	if len(l.diags) == 0 {
		validate(m, &l.reporter)
	}
	if len(l.diags) > 0 {
		return nil, l.finish()
	}
	return m, nil
}

type loader struct {
	reporter
	aliasUses int
}

func posOf(n *yaml.Node) Pos { return Pos{Line: n.Line, Column: n.Column} }

var yamlLineErr = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

func (l *loader) parse(data []byte) *Model {
	m := &Model{File: l.file}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		l.yamlError(err)
		return m
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		l.errorf(Pos{1, 1}, "the file is empty: a zone model starts with `version: 1`, then gateway, zones, assets and conduits")
		return m
	}
	// A second document would be silently ignored, and a syntax error in
	// it not reported: a zone model is exactly one document.
	var extra yaml.Node
	if err := dec.Decode(&extra); err != nil && !errors.Is(err, io.EOF) {
		l.yamlError(err)
	} else if err == nil && !emptyDocument(&extra) {
		l.errorf(Pos{max(extra.Line, 1), max(extra.Column, 1)}, "a second YAML document starts here: a zone model is one document; remove this `---` and merge what follows into the model above")
	}
	root := doc.Content[0]
	seen := map[string]bool{}
	l.fields(root, "the zone model", []string{"version", "gateway", "zones", "assets", "conduits"}, func(key string, k, v *yaml.Node) {
		seen[key] = true
		switch key {
		case "version":
			if n, ok := l.integer(v, "version"); ok {
				m.Version = n
				if n != SupportedVersion {
					l.errorf(posOf(v), "unsupported version %d: this zonegate reads version %d models; write `version: %d` or upgrade zonegate", n, SupportedVersion, SupportedVersion)
				}
			}
		case "gateway":
			l.gateway(v, &m.Gateway)
		case "zones":
			l.each(v, "zones", func(n *yaml.Node) { m.Zones = append(m.Zones, l.zone(n)) })
		case "assets":
			l.each(v, "assets", func(n *yaml.Node) { m.Assets = append(m.Assets, l.asset(n)) })
		case "conduits":
			l.each(v, "conduits", func(n *yaml.Node) { m.Conduits = append(m.Conduits, l.conduit(n)) })
		}
	})
	if root.Kind == yaml.MappingNode {
		if !seen["version"] {
			l.errorf(posOf(root), "missing `version: 1` at the top of the model")
		}
		if !seen["gateway"] {
			l.errorf(posOf(root), "missing `gateway:` section: give at least `gateway: {name: GATEWAY-NAME}`")
		}
		if !seen["zones"] {
			l.errorf(posOf(root), "missing `zones:` list: a model needs at least one zone")
		}
	}
	m.index()
	return m
}

// emptyDocument reports whether a document holds nothing, as after a
// trailing `---`.
func emptyDocument(d *yaml.Node) bool {
	if len(d.Content) == 0 {
		return true
	}
	c := d.Content[0]
	return c.Kind == yaml.ScalarNode && c.Tag == "!!null" && c.Value == ""
}

// yamlParserProblems are the problems yaml.v3 reports from its parser (not
// its scanner). For these it prints the 0-based line of the mark, so the
// line number is one less than the 1-based line of the file.
var yamlParserProblems = map[string]bool{
	"did not find expected <stream-start>":   true,
	"did not find expected <document start>": true,
	"found undefined tag handle":             true,
	"did not find expected node content":     true,
	"did not find expected '-' indicator":    true,
	"did not find expected key":              true,
	"did not find expected ',' or ']'":       true,
	"did not find expected ',' or '}'":       true,
	"found duplicate %YAML directive":        true,
	"found incompatible YAML document":       true,
	"found duplicate %TAG directive":         true,
}

// yamlError turns a YAML syntax error into diagnostics with positions.
func (l *loader) yamlError(err error) {
	var te *yaml.TypeError
	msgs := []string{err.Error()}
	if errors.As(err, &te) {
		msgs = te.Errors
	}
	for _, msg := range msgs {
		line, text := 1, strings.TrimPrefix(msg, "yaml: ")
		if sm := yamlLineErr.FindStringSubmatch(msg); sm != nil {
			line, _ = strconv.Atoi(sm[1])
			text = sm[2]
			if yamlParserProblems[text] {
				line++
			}
		}
		l.errorf(Pos{line, 1}, "YAML syntax error: %s", text)
	}
}

// maxAliasUses bounds how often aliases (*name) may be followed while
// reading one model: nested aliases multiply (a "billion laughs" file),
// and a model is read by the daemon while it holds its change lock.
const maxAliasUses = 10000

// errNode stands for the value of an alias the loader refused to follow.
var errNode = &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null"}

func (l *loader) resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		l.aliasUses++
		if l.aliasUses > maxAliasUses {
			if l.aliasUses == maxAliasUses+1 {
				l.errorf(posOf(n), "more than %d uses of YAML aliases (*name): write the model out instead", maxAliasUses)
			}
			return errNode
		}
		n = n.Alias
	}
	return n
}

// fields walks a mapping, reporting repeated and unknown keys and calling
// handle for each known one.
func (l *loader) fields(n *yaml.Node, what string, known []string, handle func(key string, k, v *yaml.Node)) bool {
	n = l.resolve(n)
	if n.Kind != yaml.MappingNode {
		l.errorf(posOf(n), "%s must be a mapping of `key: value` lines, not %s", what, describe(n))
		return false
	}
	seen := map[string]Pos{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := l.resolve(n.Content[i]), l.resolve(n.Content[i+1])
		key := k.Value
		if first, dup := seen[key]; dup {
			l.errorf(posOf(k), "key %q repeated in %s (first at line %d): keep only one", key, what, first.Line)
			continue
		}
		seen[key] = posOf(k)
		if !contains(known, key) {
			hint := "known keys: " + strings.Join(known, ", ")
			if c := closest(key, known); c != "" {
				hint = fmt.Sprintf("did you mean %q? (%s)", c, hint)
			}
			l.errorf(posOf(k), "unknown key %q in %s: %s", key, what, hint)
			continue
		}
		handle(key, k, v)
	}
	return true
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "an empty value"
		}
		return fmt.Sprintf("the value %q", n.Value)
	}
	return "this"
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// each calls fn for every element of a list.
func (l *loader) each(n *yaml.Node, what string, fn func(*yaml.Node)) {
	n = l.resolve(n)
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return
	}
	if n.Kind != yaml.SequenceNode {
		l.errorf(posOf(n), "%s must be a list (lines starting with `- `), not %s", what, describe(n))
		return
	}
	for _, e := range n.Content {
		fn(l.resolve(e))
	}
}

func (l *loader) str(n *yaml.Node, what string) (string, bool) {
	n = l.resolve(n)
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		l.errorf(posOf(n), "%s must be a single value, not %s", what, describe(n))
		return "", false
	}
	return n.Value, true
}

func (l *loader) integer(n *yaml.Node, what string) (int, bool) {
	s, ok := l.str(n, what)
	if !ok {
		return 0, false
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		l.errorf(posOf(n), "%s must be a whole number, not %q", what, s)
		return 0, false
	}
	return v, true
}

// strList reads a list of single values and records each element's position
// under prefix.N.
func (l *loader) strList(n *yaml.Node, what string, at *positions, prefix string) []string {
	var out []string
	l.each(n, what, func(e *yaml.Node) {
		if s, ok := l.str(e, "each entry of "+what); ok {
			at.set(fmt.Sprintf("%s.%d", prefix, len(out)), posOf(e))
			out = append(out, s)
		}
	})
	return out
}

// oneOf reads a value that must be one of options and returns its index,
// or -1 after reporting what is allowed.
func (l *loader) oneOf(n *yaml.Node, what string, options ...string) int {
	s, ok := l.str(n, what)
	if !ok {
		return -1
	}
	for i, o := range options {
		if s == o {
			return i
		}
	}
	l.errorf(posOf(n), "%s %q is not one of %s", what, s, strings.Join(options, ", "))
	return -1
}

func (l *loader) importance(n *yaml.Node) Importance {
	return Importance(l.oneOf(n, "importance", "low", "medium", "high") + 1) // -1 is ImportanceUnset
}

// securityLevel reads an IEC 62443 target security level, 1-4; 0 after an
// error.
func (l *loader) securityLevel(n *yaml.Node) int {
	s, ok := l.str(n, "security_level")
	if !ok {
		return 0
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < MinSecurityLevel || v > MaxSecurityLevel {
		l.errorf(posOf(n), "security_level %q is not an IEC 62443 target security level: write 1, 2, 3 or 4 (SL-T), or remove the line", s)
		return 0
	}
	return v
}

func (l *loader) gateway(n *yaml.Node, g *Gateway) {
	g.at.self = posOf(n)
	l.fields(n, "gateway", []string{"name", "management"}, func(key string, k, v *yaml.Node) {
		switch key {
		case "name":
			g.Name, _ = l.str(v, "gateway name")
			g.at.set("name", posOf(v))
		case "management":
			g.at.set("management", posOf(k))
			l.fields(v, "gateway.management", []string{"zones"}, func(_ string, _, v *yaml.Node) {
				g.ManagementZones = l.strList(v, "management zones", &g.at, "management.zones")
			})
		}
	})
}

func (l *loader) zone(n *yaml.Node) *Zone {
	z := &Zone{}
	z.at.self = posOf(n)
	l.fields(n, "a zone", []string{"name", "description", "importance", "interfaces", "networks", "security_level", "owner"}, func(key string, k, v *yaml.Node) {
		z.at.set(key, posOf(v))
		switch key {
		case "name":
			z.Name, _ = l.str(v, "zone name")
		case "description":
			z.Description, _ = l.str(v, "description")
		case "importance":
			z.Importance = l.importance(v)
		case "security_level":
			z.SecurityLevel = l.securityLevel(v)
		case "owner":
			z.Owner, _ = l.str(v, "owner")
		case "interfaces":
			z.Interfaces = l.strList(v, "interfaces", &z.at, "interfaces")
		case "networks":
			for i, s := range l.strList(v, "networks", &z.at, "networks") {
				p, err := parseNetwork(s)
				if err != nil {
					l.errorf(z.at.pos(fmt.Sprintf("networks.%d", i)), "%v", err)
					continue
				}
				z.at.set(fmt.Sprintf("networks.%d", len(z.Networks)), z.at.pos(fmt.Sprintf("networks.%d", i)))
				z.Networks = append(z.Networks, p)
			}
		}
	})
	return z
}

// parseNetwork accepts a CIDR with no host bits set, or a single address.
func parseNetwork(s string) (netip.Prefix, error) {
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			return netip.Prefix{}, fmt.Errorf("network %q is not an IPv4 or IPv6 CIDR such as 192.168.20.0/24 or fd00:20::/64", s)
		}
		return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("network %q is not an IPv4 or IPv6 CIDR such as 192.168.20.0/24 or fd00:20::/64", s)
	}
	if p.Addr().Is4In6() {
		return netip.Prefix{}, fmt.Errorf("network %q is an IPv4-mapped IPv6 prefix: write the IPv4 network instead", s)
	}
	if m := p.Masked(); m != p {
		return netip.Prefix{}, fmt.Errorf("network %q has host bits set: did you mean %s?", s, m)
	}
	return p, nil
}

func (l *loader) asset(n *yaml.Node) *Asset {
	a := &Asset{}
	a.at.self = posOf(n)
	l.fields(n, "an asset", []string{"name", "description", "zone", "address", "importance"}, func(key string, k, v *yaml.Node) {
		a.at.set(key, posOf(v))
		switch key {
		case "name":
			a.Name, _ = l.str(v, "asset name")
		case "description":
			a.Description, _ = l.str(v, "description")
		case "zone":
			a.Zone, _ = l.str(v, "asset zone")
		case "address":
			if s, ok := l.str(v, "asset address"); ok {
				addr, err := netip.ParseAddr(s)
				if err != nil || addr.Zone() != "" {
					l.errorf(posOf(v), "address %q is not an IPv4 or IPv6 address (one host, no prefix length)", s)
				} else {
					a.Address = addr.Unmap()
				}
			}
		case "importance":
			a.Importance = l.importance(v)
		}
	})
	return a
}

func (l *loader) conduit(n *yaml.Node) *Conduit {
	c := &Conduit{}
	c.at.self = posOf(n)
	known := []string{"name", "description", "from", "to", "from_assets", "to_assets", "services", "inspect", "modbus"}
	var modbusNode *yaml.Node
	l.fields(n, "a conduit", known, func(key string, k, v *yaml.Node) {
		c.at.set(key, posOf(v))
		switch key {
		case "name":
			c.Name, _ = l.str(v, "conduit name")
		case "description":
			c.Description, _ = l.str(v, "description")
		case "from":
			c.From, _ = l.str(v, "from")
		case "to":
			c.To, _ = l.str(v, "to")
		case "from_assets":
			c.FromAssets = l.strList(v, "from_assets", &c.at, "from_assets")
		case "to_assets":
			c.ToAssets = l.strList(v, "to_assets", &c.at, "to_assets")
		case "services":
			for i, s := range l.strList(v, "services", &c.at, "services") {
				p := c.at.pos(fmt.Sprintf("services.%d", i))
				svc, err := ParseService(s)
				if err != nil {
					l.errorf(p, "%v", err)
					continue
				}
				c.at.set(fmt.Sprintf("services.%d", len(c.Services)), p)
				c.Services = append(c.Services, svc)
			}
		case "inspect":
			if s, ok := l.str(v, "inspect"); ok {
				if _, known := inspect.Lookup(s); !known {
					l.errorf(posOf(v), "inspect %q is not supported: %s", s, inspectChoices())
				} else {
					c.Inspect = s
				}
			}
		case "modbus":
			modbusNode = v
		}
	})
	if modbusNode != nil {
		c.Modbus = l.modbus(modbusNode)
	}
	return c
}

func (l *loader) modbus(n *yaml.Node) *modbus.Spec {
	spec := &modbus.Spec{}
	known := []string{"mode", "on_deny", "units", "allow", "max_rate", "response_timeout"}
	l.fields(n, "the modbus block", known, func(key string, k, v *yaml.Node) {
		switch key {
		case "mode":
			if i := l.oneOf(v, "modbus mode", "enforce", "monitor"); i >= 0 {
				spec.Mode = []modbus.Mode{modbus.ModeEnforce, modbus.ModeMonitor}[i]
			}
		case "on_deny":
			if i := l.oneOf(v, "on_deny", "exception", "reset"); i >= 0 {
				spec.OnDeny = []modbus.DenyAction{modbus.DenyException, modbus.DenyReset}[i]
			}
		case "units":
			seen := map[int]bool{}
			spec.Units = []uint8{}
			l.each(v, "units", func(e *yaml.Node) {
				u, ok := l.integer(e, "a unit identifier")
				switch {
				case !ok:
				case u < 0 || u > 255:
					l.errorf(posOf(e), "unit identifier %d is outside 0-255", u)
				case seen[u]:
					l.errorf(posOf(e), "unit identifier %d is listed twice: remove one", u)
				default:
					seen[u] = true
					spec.Units = append(spec.Units, uint8(u))
				}
			})
			if vn := l.resolve(v); (vn.Kind == yaml.SequenceNode && len(vn.Content) == 0) || (vn.Kind == yaml.ScalarNode && vn.Tag == "!!null") {
				// An empty list would allow no unit at all, while the
				// canonical form (and a reader) takes it for "any unit".
				l.errorf(posOf(v), "units lists no unit identifier: list the allowed units, such as [1], or remove `units:` to allow any unit")
			}
		case "allow":
			l.each(v, "allow", func(e *yaml.Node) {
				if r, ok := l.modbusRule(e); ok {
					spec.Rules = append(spec.Rules, r)
				}
			})
		case "max_rate":
			if s, ok := l.str(v, "max_rate"); ok {
				rate, err := parseRate(s)
				if err != nil {
					l.errorf(posOf(v), "%v", err)
				}
				spec.MaxRate = rate
			}
		case "response_timeout":
			if s, ok := l.str(v, "response_timeout"); ok {
				d, err := ParseResponseTimeout(s)
				if err != nil {
					l.errorf(posOf(v), "%v", err)
				}
				spec.ResponseTimeout = d
			}
		}
	})
	return spec
}

// inspectChoices says which `inspect:` values the registered protocols
// allow.
func inspectChoices() string {
	names := inspect.Names()
	if len(names) == 1 {
		return "the only inspection is `inspect: " + names[0] + "`"
	}
	return "use `inspect: " + strings.Join(names, "` or `inspect: ") + "`"
}

// modbusRule reads one entry of a modbus allow list.
func (l *loader) modbusRule(n *yaml.Node) (modbus.Rule, bool) {
	var r modbus.Rule
	var kinds []string
	var addrNode, valNode, kindNode *yaml.Node
	var subNode *yaml.Node
	ok := l.fields(n, "a modbus allow rule", []string{"read", "write", "function", "addresses", "values", "sub_functions"}, func(key string, k, v *yaml.Node) {
		switch key {
		case "sub_functions":
			subNode = k
		case "read", "write", "function":
			kinds = append(kinds, key)
			kindNode = v
		case "addresses":
			addrNode = v
		case "values":
			valNode = v
		}
	})
	if !ok {
		return r, false
	}
	at := posOf(n)
	if len(kinds) != 1 {
		l.errorf(at, "a modbus allow rule needs exactly one of read:, write: or function: (found %d)", len(kinds))
		return r, false
	}
	name, good := l.str(kindNode, kinds[0])
	if !good {
		return r, false
	}
	switch kinds[0] {
	case "function":
		fr, err := modbus.ParseFunctionRule(name)
		if err != nil {
			l.errorf(posOf(kindNode), "%v", err)
			return r, false
		}
		if addrNode != nil || valNode != nil {
			l.errorf(at, "a function: rule takes no addresses: or values: (function %s has no address semantics)", name)
			return r, false
		}
		if subNode != nil {
			if fr.Function != modbus.FuncDiagnostics {
				l.errorf(posOf(subNode), "sub_functions: applies only to `function: diagnostics` (FC 8), not function %s: remove it", name)
				return r, false
			}
			subs, good := l.diagSubFunctions(n)
			if !good {
				return r, false
			}
			fr.SubFunctions = subs
		}
		return fr, true
	case "read":
		r.Access = modbus.AccessRead
	case "write":
		r.Access = modbus.AccessWrite
	}
	t, err := modbus.ParseTable(name)
	if err != nil {
		if c := closest(name, modbus.TableNames()); c != "" {
			err = fmt.Errorf("unknown Modbus table %q: did you mean %s?", name, c)
		}
		l.errorf(posOf(kindNode), "%v", err)
		return r, false
	}
	r.Table = t
	if subNode != nil {
		l.errorf(posOf(subNode), "sub_functions: applies only to `function: diagnostics` rules, not to a %s rule: remove it", kinds[0])
		return r, false
	}
	if r.Access == modbus.AccessWrite && !t.Writable() {
		l.errorf(posOf(kindNode), "table %s is read-only in Modbus: a write rule needs coils or holding_registers", t)
		return r, false
	}
	if addrNode == nil {
		l.errorf(at, "a %s rule needs `addresses: LO-HI` (zero-based PDU addresses, inclusive)", kinds[0])
		return r, false
	}
	s, good := l.str(addrNode, "addresses")
	if !good {
		return r, false
	}
	if r.Addresses, err = modbus.ParseRange(s, 65535); err != nil {
		l.errorf(posOf(addrNode), "addresses: %v", err)
		return r, false
	}
	if valNode != nil {
		if r.Access != modbus.AccessWrite || t != modbus.HoldingRegisters {
			l.errorf(posOf(valNode), "values: applies only to `write: holding_registers` rules")
			return r, false
		}
		s, good := l.str(valNode, "values")
		if !good {
			return r, false
		}
		vr, err := modbus.ParseRange(s, 65535)
		if err != nil {
			l.errorf(posOf(valNode), "values: %v", err)
			return r, false
		}
		r.Values = &vr
	}
	return r, true
}

// diagSubFunctions reads the `sub_functions:` list of the diagnostics rule
// n: names or numbers 0-65535, no repeats, at least one.
func (l *loader) diagSubFunctions(rule *yaml.Node) ([]uint16, bool) {
	var v *yaml.Node
	for i := 0; i+1 < len(rule.Content); i += 2 {
		if l.resolve(rule.Content[i]).Value == "sub_functions" {
			v = rule.Content[i+1]
		}
	}
	good := true
	seen := map[uint16]bool{}
	subs := []uint16{}
	l.each(v, "sub_functions", func(e *yaml.Node) {
		s, ok := l.str(e, "a diagnostics sub-function")
		if !ok {
			good = false
			return
		}
		code, err := modbus.ParseDiagSubFunction(s)
		if err != nil {
			if c := closestOrContaining(s, modbus.DiagSubFunctionNames()); c != "" {
				err = fmt.Errorf("unknown diagnostics sub-function %q: did you mean %s? (or a number 0-65535)", s, c)
			}
			l.errorf(posOf(e), "%v", err)
			good = false
			return
		}
		if seen[code] {
			l.errorf(posOf(e), "diagnostics sub-function %s is listed twice: remove one", s)
			good = false
			return
		}
		seen[code] = true
		subs = append(subs, code)
	})
	if vn := l.resolve(v); good && len(subs) == 0 {
		l.errorf(posOf(vn), "sub_functions lists no sub-function: name the ones to allow, such as [return_query_data], or remove `sub_functions:` to allow the non-disruptive ones")
		return nil, false
	}
	return subs, good
}

// closestOrContaining is closest, or else the one candidate that contains
// s (as "restart" in "restart_communications").
func closestOrContaining(s string, candidates []string) string {
	if c := closest(s, candidates); c != "" {
		return c
	}
	var found []string
	for _, c := range candidates {
		if s != "" && strings.Contains(c, s) {
			found = append(found, c)
		}
	}
	if len(found) == 1 {
		return found[0]
	}
	return ""
}

// ParseResponseTimeout parses a `response_timeout:` value: a Go duration
// above 0 and at most modbus.MaxResponseTimeout, such as 500ms or 2s.
func ParseResponseTimeout(s string) (time.Duration, error) {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	switch {
	case err != nil:
		return 0, fmt.Errorf("response_timeout %q is not a duration: write it like 500ms, 1s or 2.5s", s)
	case d <= 0:
		return 0, fmt.Errorf("response_timeout %q must be above 0: write how long the device may take to answer, such as 500ms, or remove the line for the default", s)
	case d > modbus.MaxResponseTimeout:
		return 0, fmt.Errorf("response_timeout %q is above %v: a client does not wait that long; use a shorter time, such as 5s", s, modbus.MaxResponseTimeout)
	}
	return d, nil
}

// parseRate parses N/s, N/m or N/h into requests per second.
func parseRate(s string) (float64, error) {
	num, unit, ok := strings.Cut(strings.TrimSpace(s), "/")
	n, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	if !ok || err != nil || n <= 0 || math.IsInf(n, 0) || math.IsNaN(n) {
		return 0, fmt.Errorf("max_rate %q must look like 100/s (requests per second per connection; /m and /h also work)", s)
	}
	switch strings.TrimSpace(unit) {
	case "s":
		return n, nil
	case "m":
		return n / 60, nil
	case "h":
		return n / 3600, nil
	}
	return 0, fmt.Errorf("max_rate %q: unit must be s, m or h, as in 100/s", s)
}
