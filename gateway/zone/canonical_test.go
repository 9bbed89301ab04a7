package zone

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// canonA is one model in block style with short spellings.
const canonA = `version: 1
gateway:
  name: gw
  management:
    zones: [maint, office]
zones:
  - name: office
    description: Office
    importance: low
    interfaces: [eth0, eth9]
    networks: [10.1.0.0/16, "fd00:1::/64"]
  - name: control
    importance: high
    interfaces: [eth1]
    networks: [10.2.0.0/16, 10.9.0.5/32]
  - name: maint
    importance: medium
    interfaces: [eth2]
    networks: [10.3.0.0/16]
assets:
  - name: plc-1
    zone: control
    address: 10.2.0.10
  - name: plc-2
    description: Second PLC
    zone: control
    address: 10.2.0.11
    importance: medium
  - name: ws-1
    zone: office
    address: "fd00:1::10"
conduits:
  - name: office-to-control
    description: HMI access
    from: office
    to: control
    from_assets: [ws-1]
    to_assets: [plc-2, plc-1]
    services: [tcp/443, icmp/echo-request, udp/100-200]
  - name: maint-to-control
    from: maint
    to: control
    services: [tcp/502, icmp/8]
    inspect: modbus
    modbus:
      units: [2, 1]
      allow:
        - read: holding_registers
          addresses: 0-99
        - write: holding_registers
          addresses: 10-19
          values: 0-1000
        - function: 8
        - write: coils
          addresses: 5
      max_rate: 6000/m
`

// canonB is the same model written every other way: sections, list entries
// and keys reordered, flow style, quoted scalars, defaults written out,
// longer spellings of addresses, services, functions, ranges and rates.
const canonB = `# the same model as canonA
"version": 1
zones:
  - {name: maint, importance: medium, interfaces: ["eth2"], networks: ['10.3.0.0/16']}
  - {name: control, networks: [10.9.0.5, "10.2.0.0/16"], interfaces: [eth1], importance: "high"}
  - name: "office"
    networks:
      - "fd00:1:0:0::/64"
      - 10.1.0.0/16
    interfaces:
      - eth9
      - eth0
    importance: low
    description: "Office"
conduits:
  - name: maint-to-control
    from: maint
    to: control
    services: [icmp/echo-request, "tcp/502-502"]
    inspect: modbus
    modbus:
      max_rate: 100/s
      mode: enforce
      on_deny: exception
      units: [1, 2]
      allow:
        - {function: diagnostics}
        - {write: coils, addresses: 5-5}
        - {write: holding_registers, values: "0-1000", addresses: 10-19}
        - {addresses: 0-99, read: holding_registers}
        - {read: holding_registers, addresses: 0-99}
  - {name: office-to-control, description: HMI access, from: office, to: control, from_assets: [ws-1], to_assets: [plc-1, plc-2], services: [udp/100-200, icmp/8, tcp/443-443]}
assets:
  - {name: ws-1, zone: office, address: "fd00:1:0::10"}
  - {name: plc-2, zone: control, address: 10.2.0.11, importance: medium, description: 'Second PLC'}
  - {name: plc-1, zone: control, address: 10.2.0.10, importance: high}
gateway: {management: {zones: [office, maint]}, name: "gw"}
`

var digestRE = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

func digestOf(t *testing.T, src string) string {
	t.Helper()
	m := mustLoad(t, src)
	d := m.Digest()
	require.Regexp(t, digestRE, d, "digest is not sha256:<64 hex>")
	// The digest is a function of the canonical form: the model loaded
	// from its canonical YAML has the same digest.
	again, err := Load("canonical.yaml", m.Canonical())
	require.NoError(t, err, "the canonical form does not load")
	require.Equal(t, d, again.Digest(), "digest changed by a round trip through the canonical form")
	return d
}

func TestCanonicalSameModelWrittenDifferently(t *testing.T) {
	a, b := mustLoad(t, canonA), mustLoad(t, canonB)
	if ca, cb := a.Canonical(), b.Canonical(); !bytes.Equal(ca, cb) {
		t.Fatalf("canonical forms differ:\n--- A\n%s\n--- B\n%s", ca, cb)
	}
	if a.Digest() != b.Digest() {
		t.Errorf("digests differ: %s vs %s", a.Digest(), b.Digest())
	}
	// The file name is not part of the model.
	m, err := Load("elsewhere/other-name.yaml", []byte(canonA))
	if err != nil {
		t.Fatal(err)
	}
	if m.Digest() != a.Digest() {
		t.Errorf("the digest depends on the file name")
	}
	// The canonical form spells things the short way and writes defaults out.
	c := string(a.Canonical())
	for _, want := range []string{
		"networks: [10.2.0.0/16, 10.9.0.5/32]",
		"interfaces: [eth0, eth9]",
		"zones: [maint, office]",
		"services: [icmp/echo-request, tcp/502]",
		"services: [icmp/echo-request, tcp/443, udp/100-200]",
		"to_assets: [plc-1, plc-2]",
		"mode: enforce",
		"on_deny: exception",
		"units: [1, 2]",
		"function: diagnostics",
		"max_rate: 100/s",
		"- write: coils\n              addresses: \"5\"",
	} {
		if !strings.Contains(c, want) {
			t.Errorf("canonical form lacks %q:\n%s", want, c)
		}
	}
	// plc-1 inherits the importance of its zone, written out.
	if !strings.Contains(c, "name: plc-1\n      zone: control\n      address: 10.2.0.10\n      importance: high\n") {
		t.Errorf("asset importance default not written out:\n%s", c)
	}
}

func TestCanonicalIsLoadableFixedPoint(t *testing.T) {
	example, err := os.ReadFile(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	for name, src := range map[string]string{"A": canonA, "B": canonB, "example": string(example), "zones only": zonesText} {
		t.Run(name, func(t *testing.T) {
			m := mustLoad(t, src)
			c := m.Canonical()
			m2 := mustLoad(t, string(c))
			if c2 := m2.Canonical(); !bytes.Equal(c, c2) {
				t.Errorf("canonical form is not a fixed point:\n--- first\n%s\n--- second\n%s", c, c2)
			}
			if m.Digest() != m2.Digest() {
				t.Errorf("digest changed by a round trip through the canonical form")
			}
		})
	}
}

func TestCanonicalGolden(t *testing.T) {
	m, err := LoadFile(examplePath)
	require.NoError(t, err)
	golden := filepath.Join("testdata", "example-factory.canonical.yaml")
	goldenDigest := filepath.Join("testdata", "example-factory.digest")
	got := m.Canonical()
	if *update {
		require.NoError(t, os.WriteFile(golden, got, 0o644))
		require.NoError(t, os.WriteFile(goldenDigest, []byte(m.Digest()+"\n"), 0o644))
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err, "run go test -run TestCanonicalGolden -update ./gateway/zone/ to create it")
	assert.Equal(t, string(want), string(got), "canonical form of the example changed, and with it every digest; if intended, rerun with -update")
	wantDigest, err := os.ReadFile(goldenDigest)
	require.NoError(t, err, "run go test -run TestCanonicalGolden -update ./gateway/zone/ to create it")
	assert.Equal(t, strings.TrimSpace(string(wantDigest)), m.Digest(), "digest of the example changed (every stored version's digest with it); if intended, rerun with -update and say so in the README")
	fromGolden, err := Load("golden.yaml", want)
	require.NoError(t, err)
	assert.Equal(t, m.Digest(), fromGolden.Digest(), "the golden canonical form has another digest than the example")
}

func TestCanonicalEquivalentSpellings(t *testing.T) {
	want := digestOf(t, canonA)
	tests := []struct{ name, old, new string }{
		{"asset importance written out", "    address: 10.2.0.10\n", "    address: 10.2.0.10\n    importance: high\n"},
		{"/32 omitted", "10.9.0.5/32", "10.9.0.5"},
		{"IPv6 network spelt long", `"fd00:1::/64"`, `"fd00:0001:0000::/64"`},
		{"IPv6 address spelt long", `"fd00:1::10"`, `"FD00:1:0:0:0:0:0:10"`},
		{"rate per second", "6000/m", "100/s"},
		{"rate per hour", "6000/m", "360000/h"},
		{"rate with spaces and decimals", "6000/m", "' 100.0 / s '"},
		{"explicit enforce", "    modbus:\n", "    modbus:\n      mode: enforce\n"},
		{"explicit exception", "    modbus:\n", "    modbus:\n      on_deny: exception\n"},
		{"units reordered", "[2, 1]", "[1, 2]"},
		{"single port as range", "tcp/443", "tcp/443-443"},
		{"ICMP type by number", "icmp/echo-request", "icmp/8"},
		{"function by name", "function: 8", "function: diagnostics"},
		{"function by quoted number", "function: 8", `function: "8"`},
		{"single address as range", "addresses: 5\n", "addresses: 5-5\n"},
		{"range with spaces", "addresses: 0-99", `addresses: " 0 - 99 "`},
		{"quoted name", "  name: gw", `  name: "gw"`},
		{"single-quoted description", "description: HMI access", "description: 'HMI access'"},
		{"comments", "conduits:\n", "# conduits follow\nconduits: # the flows\n"},
		{"management zones reordered", "[maint, office]", "[office, maint]"},
		{"to_assets reordered", "[plc-2, plc-1]", "[plc-1, plc-2]"},
		{"allow rule repeated", "        - function: 8\n", "        - function: 8\n        - function: diagnostics\n"},
		{"flow style modbus rule", "        - write: coils\n          addresses: 5\n", "        - {addresses: 5, write: coils}\n"},
		{"version quoted", "version: 1", `version: "1"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := replaceOnce(t, canonA, tt.old, tt.new)
			if got := digestOf(t, src); got != want {
				a, b := mustLoad(t, canonA).Canonical(), mustLoad(t, src).Canonical()
				t.Errorf("digest changed:\n--- before\n%s\n--- after\n%s", a, b)
			}
		})
	}
}

func TestCanonicalSemanticChanges(t *testing.T) {
	base := digestOf(t, canonA)
	// old is replaced once; with a leading * everywhere.
	tests := []struct{ name, old, new string }{
		{"gateway name", "  name: gw", "  name: gw2"},
		{"management zones", "[maint, office]", "[maint]"},
		{"zone description", "description: Office", "description: Office LAN"},
		{"zone description removed", "    description: Office\n", ""},
		{"zone importance", "importance: medium\n    interfaces: [eth2]", "importance: low\n    interfaces: [eth2]"},
		{"zone interface", "[eth0, eth9]", "[eth0, eth8]"},
		{"zone interface removed", "[eth0, eth9]", "[eth0]"},
		{"zone network", "10.9.0.5/32", "10.9.0.6/32"},
		{"zone network length", "10.9.0.5/32", "10.9.0.4/31"},
		{"asset address", "address: 10.2.0.10", "address: 10.2.0.12"},
		{"asset IPv6 address", `"fd00:1::10"`, `"fd00:1::11"`},
		{"asset importance", "    address: 10.2.0.10\n", "    address: 10.2.0.10\n    importance: medium\n"},
		{"asset description", "description: Second PLC", "description: Second PLC!"},
		{"asset renamed everywhere", "*ws-1", "ws-2"},
		{"conduit name", "name: office-to-control", "name: office-to-ctrl"},
		{"conduit description", "description: HMI access", "description: HMI  access"},
		{"from_assets removed", "    from_assets: [ws-1]\n", ""},
		{"to_assets changed", "[plc-2, plc-1]", "[plc-2]"},
		{"a port", "tcp/443", "tcp/444"},
		{"a port range", "udp/100-200", "udp/100-201"},
		{"tcp to udp", "tcp/443", "udp/443"},
		{"a service removed", ", udp/100-200", ""},
		{"an ICMP type", "icmp/echo-request", "icmp/echo-reply"},
		{"ICMP to ICMPv6", "icmp/echo-request", "icmpv6/echo-request"},
		{"whole protocol", "udp/100-200", "udp"},
		{"modbus mode", "    modbus:\n", "    modbus:\n      mode: monitor\n"},
		{"modbus on_deny", "    modbus:\n", "    modbus:\n      on_deny: reset\n"},
		{"units changed", "[2, 1]", "[1, 3]"},
		{"units removed", "      units: [2, 1]\n", ""},
		{"addresses", "addresses: 0-99", "addresses: 0-98"},
		{"values", "values: 0-1000", "values: 0-999"},
		{"values removed", "          values: 0-1000\n", ""},
		{"function", "function: 8", "function: 7"},
		{"table", "read: holding_registers", "read: input_registers"},
		{"read becomes write", "- read: holding_registers\n          addresses: 0-99", "- write: holding_registers\n          addresses: 0-99"},
		{"rule removed", "        - function: 8\n", ""},
		{"max_rate", "6000/m", "6000/h"},
		{"max_rate removed", "      max_rate: 6000/m\n", ""},
	}
	seen := map[string]string{base: "the unchanged model"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var src string
			if old, all := strings.CutPrefix(tt.old, "*"); all {
				src = strings.ReplaceAll(canonA, old, tt.new)
			} else {
				src = replaceOnce(t, canonA, tt.old, tt.new)
			}
			got := digestOf(t, src)
			if other, dup := seen[got]; dup {
				t.Errorf("digest %s is the same as for %s", got, other)
			}
			seen[got] = tt.name
		})
	}
}
