package zone

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/zonegate/zonegate/protocols/registry"
	"github.com/zonegate/zonegate/protocols/rulesblock"
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
		return nil, Diagnostics{{File: path, Pos: Pos{Line: 1, Column: 1}, Message: fmt.Sprintf("file is %d bytes; a zone model may have at most %d", st.Size(), MaxFileSize)}}
	}
	data := make([]byte, st.Size())
	if _, err := f.ReadAt(data, 0); err != nil && st.Size() > 0 {
		return nil, fmt.Errorf("read zone model: %w", err)
	}
	return Load(path, data)
}

// Load parses and validates a zone model; name is used in messages, and
// relative file names in the model are relative to its directory.
func Load(name string, data []byte) (*Model, error) {
	return LoadWith(name, data, Options{})
}

// Options change how LoadWith reads a model.
type Options struct {
	// Dir is the directory relative file names in the model (in rules
	// blocks, such as certificates) are relative to; "": the directory of
	// the name given to LoadWith. Set it when the text comes from
	// elsewhere than that file, as a pushed model does.
	Dir string
}

// LoadWith is Load with options.
func LoadWith(name string, data []byte, opt Options) (*Model, error) {
	l := &loader{reporter: reporter{file: name}}
	dir := opt.Dir
	if dir == "" {
		dir = filepath.Dir(name)
	}
	l.Reader = rulesblock.NewReader(dir, l.add)
	m := l.parse(data)
	if len(l.diags) == 0 {
		validate(m, &l.reporter)
	}
	if len(l.diags) > 0 {
		return nil, l.finish()
	}
	return m, nil
}

// loader reads a model file: the zone model's own keys here, each rules
// block through its protocol, all with one rulesblock.Reader.
type loader struct {
	reporter
	*rulesblock.Reader
}

func posOf(n *yaml.Node) Pos { return rulesblock.PosOf(n) }

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
		l.errorf(Pos{Line: 1, Column: 1}, "the file is empty: a zone model starts with `version: 1`, then gateway, zones, assets and conduits")
		return m
	}
	// A second document would be silently ignored, and a syntax error in
	// it not reported: a zone model is exactly one document.
	var extra yaml.Node
	if err := dec.Decode(&extra); err != nil && !errors.Is(err, io.EOF) {
		l.yamlError(err)
	} else if err == nil && !emptyDocument(&extra) {
		l.errorf(Pos{Line: max(extra.Line, 1), Column: max(extra.Column, 1)}, "a second YAML document starts here: a zone model is one document; remove this `---` and merge what follows into the model above")
	}
	root := doc.Content[0]
	seen := map[string]bool{}
	l.Fields(root, "the zone model", []string{"version", "gateway", "zones", "assets", "conduits"}, func(key string, k, v *yaml.Node) {
		seen[key] = true
		switch key {
		case "version":
			if n, ok := l.Int(v, "version"); ok {
				m.Version = n
				if n != SupportedVersion {
					l.errorf(posOf(v), "unsupported version %d: this zonegate reads version %d models; write `version: %d` or upgrade zonegate", n, SupportedVersion, SupportedVersion)
				}
			}
		case "gateway":
			l.gateway(v, &m.Gateway)
		case "zones":
			l.Each(v, "zones", func(n *yaml.Node) { m.Zones = append(m.Zones, l.zone(n)) })
		case "assets":
			l.Each(v, "assets", func(n *yaml.Node) { m.Assets = append(m.Assets, l.asset(n)) })
		case "conduits":
			l.Each(v, "conduits", func(n *yaml.Node) { m.Conduits = append(m.Conduits, l.conduit(n)) })
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
		l.errorf(Pos{Line: line, Column: 1}, "YAML syntax error: %s", text)
	}
}

// strList reads a list of single values and records each element's position
// under prefix.N.
func (l *loader) strList(n *yaml.Node, what string, at *positions, prefix string) []string {
	var out []string
	l.Each(n, what, func(e *yaml.Node) {
		if s, ok := l.Str(e, "each entry of "+what); ok {
			at.set(fmt.Sprintf("%s.%d", prefix, len(out)), posOf(e))
			out = append(out, s)
		}
	})
	return out
}

func (l *loader) importance(n *yaml.Node) Importance {
	return Importance(l.OneOf(n, "importance", "low", "medium", "high") + 1) // -1 is ImportanceUnset
}

// securityLevel reads an IEC 62443 target security level, 1-4; 0 after an
// error.
func (l *loader) securityLevel(n *yaml.Node) int {
	s, ok := l.Str(n, "security_level")
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
	l.Fields(n, "gateway", []string{"name", "management"}, func(key string, k, v *yaml.Node) {
		switch key {
		case "name":
			g.Name, _ = l.Str(v, "gateway name")
			g.at.set("name", posOf(v))
		case "management":
			g.at.set("management", posOf(k))
			l.Fields(v, "gateway.management", []string{"zones"}, func(_ string, _, v *yaml.Node) {
				g.ManagementZones = l.strList(v, "management zones", &g.at, "management.zones")
			})
		}
	})
}

func (l *loader) zone(n *yaml.Node) *Zone {
	z := &Zone{}
	z.at.self = posOf(n)
	l.Fields(n, "a zone", []string{"name", "description", "importance", "interfaces", "networks", "security_level", "owner"}, func(key string, k, v *yaml.Node) {
		z.at.set(key, posOf(v))
		switch key {
		case "name":
			z.Name, _ = l.Str(v, "zone name")
		case "description":
			z.Description, _ = l.Str(v, "description")
		case "importance":
			z.Importance = l.importance(v)
		case "security_level":
			z.SecurityLevel = l.securityLevel(v)
		case "owner":
			z.Owner, _ = l.Str(v, "owner")
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
	l.Fields(n, "an asset", []string{"name", "description", "zone", "address", "importance"}, func(key string, k, v *yaml.Node) {
		a.at.set(key, posOf(v))
		switch key {
		case "name":
			a.Name, _ = l.Str(v, "asset name")
		case "description":
			a.Description, _ = l.Str(v, "description")
		case "zone":
			a.Zone, _ = l.Str(v, "asset zone")
		case "address":
			if s, ok := l.Str(v, "asset address"); ok {
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

// conduitKeys are a conduit's own keys; a protocol's block may not take
// one of these names.
var conduitKeys = []string{"name", "description", "from", "to", "from_assets", "to_assets", "services", "inspect"}

func (l *loader) conduit(n *yaml.Node) *Conduit {
	c := &Conduit{}
	c.at.self = posOf(n)
	// The conduit's own keys, then one rules block per protocol.
	known := append(slices.Clone(conduitKeys), registry.Names()...)
	type blockNode struct {
		p rulesblock.Protocol
		n *yaml.Node
	}
	var blocks []blockNode
	l.Fields(n, "a conduit", known, func(key string, k, v *yaml.Node) {
		c.at.set(key, posOf(v))
		switch key {
		case "name":
			c.Name, _ = l.Str(v, "conduit name")
		case "description":
			c.Description, _ = l.Str(v, "description")
		case "from":
			c.From, _ = l.Str(v, "from")
		case "to":
			c.To, _ = l.Str(v, "to")
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
			if s, ok := l.Str(v, "inspect"); ok {
				if _, known := registry.Lookup(s); !known {
					l.errorf(posOf(v), "inspect %q is not supported: %s", s, inspectChoices())
				} else {
					c.Inspect = s
				}
			}
		default:
			if p, ok := registry.Lookup(key); ok {
				blocks = append(blocks, blockNode{p.Protocol, v})
			}
		}
	})
	// Blocks are read after the conduit's other keys, in the order they
	// were written.
	for _, b := range blocks {
		rules := b.p.Read(l.Reader, b.n)
		c.blocks = append(c.blocks, block{name: b.p.Name, rules: rules})
		if b.p.Name == c.Inspect {
			c.Rules = rules
		}
	}
	return c
}
