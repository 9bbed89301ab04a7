package seamtest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/zonegate/zonegate/gateway/zone"
	"github.com/zonegate/zonegate/gateway/zone/zonedoc"
	"github.com/zonegate/zonegate/protocols/inspect"
	"github.com/zonegate/zonegate/protocols/registry"
	"github.com/zonegate/zonegate/protocols/rulesblock"
)

// toyRules is what the toy protocol's inspector would compile.
type toyRules struct {
	Greeting string
	Ports    []int
	Key      string // the key file as written
	KeyPath  string // the key file, relative to the model's directory
}

type toyCanon struct {
	Greeting string `yaml:"greeting"`
	Ports    []int  `yaml:"ports,flow"`
	Key      string `yaml:"key_file,omitempty"`
}

const toyPort = 7777

// toy is a protocol in the shape of the real ones: a block with a choice,
// a list and a file name, a check that needs the conduit, a lint rule on
// its own conduits and one on conduits that carry its port uninspected,
// and its own drawing and report text.
var toy = rulesblock.Protocol{
	Protocol:     inspect.Protocol{Name: "toy", Title: "Toy", DefaultPort: 17777},
	TCPHint:      "tcp/7777",
	MissingBlock: "add one with a `greeting:`",
	Read: func(r *rulesblock.Reader, n *yaml.Node) any {
		rules := &toyRules{}
		r.Fields(n, "the toy block", []string{"greeting", "ports", "key_file"}, func(key string, _, v *yaml.Node) {
			switch key {
			case "greeting":
				if i := r.OneOf(v, "greeting", "hello", "hi"); i >= 0 {
					rules.Greeting = []string{"hello", "hi"}[i]
				}
			case "ports":
				r.Each(v, "ports", func(e *yaml.Node) {
					if p, ok := r.Int(e, "a port"); ok {
						rules.Ports = append(rules.Ports, p)
					}
				})
			case "key_file":
				rules.Key, _ = r.Str(v, "key_file")
				rules.KeyPath, _ = r.Path(v, "key_file")
			}
		})
		return rules
	},
	Check: func(c rulesblock.Conduit, errorf rulesblock.Errorf) {
		if len(c.Rules.(*toyRules).Ports) == 0 {
			errorf(c.At("toy"), "conduit %q: the toy block lists no port", c.Name)
		}
	},
	Canonical: func(rules any) any {
		r := rules.(*toyRules)
		ports := slices.Clone(r.Ports)
		slices.Sort(ports)
		return &toyCanon{Greeting: r.Greeting, Ports: ports, Key: r.Key}
	},
	Lint: func(c rulesblock.Conduit, warnf rulesblock.Warnf) {
		if r, ok := c.Rules.(*toyRules); ok && r.Greeting == "hi" && c.To.Importance == rulesblock.High {
			warnf(c.At("toy"), "toy-casual", "conduit %q greets high-importance zone %q with %q: say hello", c.Name, c.To.Name, r.Greeting)
		}
		for i, s := range c.Services {
			if c.Inspect != "toy" && s.Proto == "tcp" && s.HasPort(toyPort) {
				warnf(c.At(fmt.Sprintf("services.%d", i)), "toy-uninspected", "conduit %q carries Toy (%s) without inspection", c.Name, s)
			}
		}
	},
	Summary: func(rules any) []string {
		r := rules.(*toyRules)
		ports := make([]string, len(r.Ports))
		for i, p := range r.Ports {
			ports[i] = strconv.Itoa(p)
		}
		return []string{"greets " + r.Greeting, "ports " + strings.Join(ports, ", ")}
	},
	Words: func(rules any) string {
		return "Toy inspection. Greets with " + rules.(*toyRules).Greeting + "."
	},
}

func TestMain(m *testing.M) {
	registry.Register(registry.Protocol{Protocol: toy})
	os.Exit(m.Run())
}

// model is a valid model with a toy conduit from office (low) into control
// (high); the conduit starts on line 13, its toy block on line 19.
func model(block string) string {
	return `version: 1
gateway:
  name: gw
  management:
    zones: [office]
zones:
  - {name: office, importance: low, interfaces: [eth0], networks: [10.1.0.0/16]}
  - {name: control, importance: high, interfaces: [eth1], networks: [10.2.0.0/16]}
assets:
  - {name: plc, zone: control, address: 10.2.0.10}
  - {name: ws, zone: office, address: 10.1.0.10}
conduits:
  - name: c
    from: office
    to: control
    to_assets: [plc]
    services: [tcp/7777]
    inspect: toy
` + block
}

const helloBlock = `    toy:
      greeting: hello
      ports: [5, 3]
      key_file: keys/toy.pem
`

func load(t *testing.T, src string) *zone.Model {
	t.Helper()
	m, err := zone.Load("seam.yaml", []byte(src))
	require.NoError(t, err)
	return m
}

// loadErrors loads src and returns its errors as printed, one per line.
func loadErrors(t *testing.T, src string) []string {
	t.Helper()
	_, err := zone.Load("seam.yaml", []byte(src))
	require.Error(t, err)
	var ds zone.Diagnostics
	require.True(t, errors.As(err, &ds), "%T", err)
	return strings.Split(ds.Error(), "\n")
}

func TestToyBlockIsRead(t *testing.T) {
	m := load(t, model(helloBlock))
	c := m.Conduit("c")
	rules, ok := c.InspectRules().(*toyRules)
	require.True(t, ok, "InspectRules is what the protocol's reader returned: %T", c.InspectRules())
	assert.Equal(t, "hello", rules.Greeting)
	assert.Equal(t, []int{5, 3}, rules.Ports)
	assert.Equal(t, "keys/toy.pem", rules.Key)
	assert.Equal(t, filepath.Join(".", "keys/toy.pem"), rules.KeyPath)
	assert.Same(t, rules, c.Rules)
}

func TestToyFileNamesAreRelativeToTheModel(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "model.yaml")
	require.NoError(t, os.WriteFile(path, []byte(model(helloBlock)), 0o644))
	m, err := zone.LoadFile(path)
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(dir, "keys", "toy.pem"), m.Conduit("c").Rules.(*toyRules).KeyPath)

	m, err = zone.LoadWith("pushed model", []byte(model(helloBlock)), zone.Options{Dir: "/etc/zonegate"})
	require.NoError(t, err)
	assert.Equal(t, "/etc/zonegate/keys/toy.pem", m.Conduit("c").Rules.(*toyRules).KeyPath)

	abs := strings.Replace(model(helloBlock), "keys/toy.pem", "/srv/toy.pem", 1)
	m, err = zone.LoadWith("pushed model", []byte(abs), zone.Options{Dir: "/etc/zonegate"})
	require.NoError(t, err)
	assert.Equal(t, "/srv/toy.pem", m.Conduit("c").Rules.(*toyRules).KeyPath)
}

func TestToyErrorsHavePositions(t *testing.T) {
	for _, tt := range []struct {
		name, src string
		want      []string
	}{
		{"unknown key in the block", model("    toy:\n      greting: hello\n      ports: [1]\n"),
			[]string{`seam.yaml:20:7: unknown key "greting" in the toy block: did you mean "greeting"? (known keys: greeting, ports, key_file)`}},
		{"bad choice and bad number", model("    toy:\n      greeting: howdy\n      ports: [1, x]\n"),
			[]string{`seam.yaml:20:17: greeting "howdy" is not one of hello, hi`, `seam.yaml:21:18: a port must be a whole number, not "x"`}},
		{"block not a mapping", model("    toy: [hello]\n"),
			[]string{"seam.yaml:19:10: the toy block must be a mapping of `key: value` lines, not a list"}},
		{"empty file name", model("    toy:\n      greeting: hello\n      ports: [1]\n      key_file: ''\n"),
			[]string{"seam.yaml:22:17: key_file is empty: write the file's name"}},
		{"protocol's own check", model("    toy:\n      greeting: hello\n"),
			[]string{`seam.yaml:20:7: conduit "c": the toy block lists no port`}},
		{"no block", model(""),
			[]string{"seam.yaml:18:14: conduit \"c\" has `inspect: toy` but no `toy:` block: add one with a `greeting:`"}},
		{"no tcp service", strings.Replace(model(helloBlock), "services: [tcp/7777]", "services: [udp/7777]", 1),
			[]string{"seam.yaml:18:14: conduit \"c\" has `inspect: toy` but no tcp service: add tcp/7777"}},
		{"block of another protocol", strings.Replace(model(helloBlock), "    inspect: toy\n", "    inspect: modbus\n", 1),
			[]string{"seam.yaml:18:14: conduit \"c\" has `inspect: modbus` but no `modbus:` block: add one with an `allow:` list (everything not allowed is denied)",
				"seam.yaml:20:7: conduit \"c\" has a `toy:` block but no `inspect: toy`: add `inspect: toy` or remove the block"}},
		{"unknown inspection", strings.Replace(model(helloBlock), "inspect: toy", "inspect: toys", 1),
			[]string{"seam.yaml:18:14: inspect \"toys\" is not supported: use `inspect: modbus` or `inspect: opcua` or `inspect: toy`"}},
		{"typo in the block's key", strings.Replace(model(helloBlock), "    toy:\n", "    toyy:\n", 1),
			[]string{`seam.yaml:19:5: unknown key "toyy" in a conduit: did you mean "toy"? (known keys: name, description, from, to, from_assets, to_assets, services, inspect, modbus, opcua, toy)`}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, loadErrors(t, tt.src))
		})
	}
}

func TestToyLint(t *testing.T) {
	casual := strings.Replace(model(helloBlock), "greeting: hello", "greeting: hi", 1)
	var got []string
	for _, d := range load(t, casual).Lint() {
		got = append(got, d.String())
	}
	assert.Equal(t, []string{`seam.yaml:20:7: warning: [toy-casual] conduit "c" greets high-importance zone "control" with "hi": say hello`}, got)
	assert.Empty(t, load(t, model(helloBlock)).Lint())

	// A protocol's rule sees every conduit, also those it does not
	// inspect; the zone model's advice names every inspection.
	plain := strings.Replace(model(""), "    inspect: toy\n", "", 1)
	plain = strings.Replace(plain, "  - {name: office, importance: low,", "  - {name: office, importance: low, security_level: 1,", 1)
	plain = strings.Replace(plain, "  - {name: control, importance: high,", "  - {name: control, importance: high, security_level: 3,", 1)
	got = nil
	for _, d := range load(t, plain).Lint() {
		got = append(got, d.String())
	}
	require.Len(t, got, 2)
	assert.Equal(t, `seam.yaml:13:5: warning: [sl-target-gap] conduit "c" leads from zone "office" (SL-T 1) into zone "control" (SL-T 3) without inspection: the higher zone's security level is not enforced at this boundary; add inspection (`+"`inspect: modbus` or `inspect: opcua` or `inspect: toy`"+`), route the flow through a zone of the higher level, or lower the target of "control"`, got[0])
	assert.Equal(t, `seam.yaml:17:16: warning: [toy-uninspected] conduit "c" carries Toy (tcp/7777) without inspection`, got[1])
}

func TestToyCanonicalFormAndDigest(t *testing.T) {
	m := load(t, model(helloBlock))
	canon := string(m.Canonical())
	assert.Contains(t, canon, "      inspect: toy\n      toy:\n        greeting: hello\n        ports: [3, 5]\n        key_file: keys/toy.pem\n")

	// The same block written differently: same canonical form, same digest.
	other := load(t, model("    toy: {key_file: keys/toy.pem, ports: [3, 5], greeting: hello}\n"))
	assert.Equal(t, canon, string(other.Canonical()))
	assert.Equal(t, m.Digest(), other.Digest())

	// Every field of the block is part of the digest.
	for _, change := range [][2]string{{"greeting: hello", "greeting: hi"}, {"ports: [5, 3]", "ports: [5, 4]"}, {"key_file: keys/toy.pem", "key_file: keys/toy2.pem"}} {
		changed := load(t, strings.Replace(model(helloBlock), change[0], change[1], 1))
		assert.NotEqual(t, m.Digest(), changed.Digest(), "after %s -> %s", change[0], change[1])
	}

	// The canonical form loads back to the same model.
	again, err := zone.Load("canonical.yaml", []byte(canon))
	require.NoError(t, err)
	assert.Equal(t, m.Digest(), again.Digest())
	assert.Equal(t, canon, string(again.Canonical()))
}

func TestToyDiff(t *testing.T) {
	a := load(t, model(helloBlock))
	b := load(t, strings.Replace(model(helloBlock), "greeting: hello", "greeting: hi", 1))
	var got []string
	for _, c := range zone.Diff(a, b) {
		got = append(got, c.String())
	}
	assert.Equal(t, []string{"~ conduit c: toy greeting: hello -> hi"}, got)

	plain := load(t, strings.Replace(model(""), "    inspect: toy\n", "", 1))
	got = nil
	for _, c := range zone.Diff(plain, a) {
		got = append(got, c.String())
	}
	assert.Equal(t, []string{"~ conduit c: inspect: (none) -> toy; toy: (none) -> {greeting: hello, ports: [3, 5], key_file: keys/toy.pem}"}, got)
}

func TestToyDrawingAndReport(t *testing.T) {
	m := load(t, model(helloBlock))
	for _, f := range zonedoc.DiagramFormats {
		out, ok := zonedoc.Diagram(m, f, zonedoc.DiagramOptions{})
		require.True(t, ok)
		for _, want := range []string{"inspect toy:", "greets hello", "ports 5, 3"} {
			assert.Contains(t, string(out), want, "%s drawing", f)
		}
	}
	assert.Contains(t, string(zonedoc.SVG(m, zonedoc.DiagramOptions{})), "thick red arrow = Modbus or OPC UA or Toy inspected")
	md := string(zonedoc.Markdown(m, zonedoc.ReportOptions{Date: time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)}))
	assert.Contains(t, md, "Toy inspection. Greets with hello.")
	assert.Contains(t, md, "Inspection and Modbus or OPC UA or Toy policy")
	assert.Contains(t, md, "1 of them carry Modbus or OPC UA or Toy through deep inspection")
}

// TestModbusModelsKeepTheirDigest: registering a protocol changes no digest
// of a model that does not use it.
func TestModbusModelsKeepTheirDigest(t *testing.T) {
	m, err := zone.LoadFile("../../../configs/example-factory.yaml")
	require.NoError(t, err)
	want, err := os.ReadFile("../testdata/example-factory.digest")
	require.NoError(t, err)
	assert.Equal(t, strings.TrimSpace(string(want)), m.Digest())
}
