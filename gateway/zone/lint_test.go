package zone

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zonegate/zonegate/protocols/modbus/modbusrules"
)

// lintText has two low zones (office, vendor), two medium zones (dmz, mes)
// and two high zones (control, safety). Conduits start on line 14.
const lintText = `version: 1
gateway:
  name: gw
  management:
    zones: [dmz]
zones:
  - {name: office, importance: low, interfaces: [eth0], networks: [10.1.0.0/16]}
  - {name: dmz, importance: medium, interfaces: [eth1], networks: [10.2.0.0/16]}
  - {name: mes, importance: medium, interfaces: [eth2], networks: [10.3.0.0/16]}
  - {name: control, importance: high, interfaces: [eth3], networks: [10.4.0.0/16]}
  - {name: safety, importance: high, interfaces: [eth4], networks: [10.5.0.0/16]}
  - {name: vendor, importance: low, interfaces: [eth5], networks: [10.6.0.0/16]}
conduits:
`

// lintOf loads src, which must be valid, and returns its lint warnings.
func lintOf(t *testing.T, src string) Diagnostics {
	t.Helper()
	ds := mustLoad(t, src).Lint()
	if len(ds) > 0 {
		checkWellFormed(t, ds, testFile, src)
	}
	for _, d := range ds {
		if d.Severity != SeverityWarning || d.Rule == "" {
			t.Errorf("lint diagnostic %q is not a warning with a rule", d)
		}
		if !strings.Contains(d.String(), ": warning: ["+d.Rule+"] ") {
			t.Errorf("lint diagnostic %q does not print its rule in brackets", d)
		}
	}
	return ds
}

type lintWant struct{ pos, phrase string }

type lintCase struct {
	name     string
	conduits string     // appended to lintText (line 14 on)
	want     []lintWant // the warnings of the rule under test, in order; none for a negative case
}

func runLintCases(t *testing.T, rule string, tests []lintCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := lintText + tt.conduits
			ds := lintOf(t, src)
			got := withRule(ds, rule)
			if len(got) != len(tt.want) {
				t.Fatalf("got %d [%s] warnings, want %d:\n%s", len(got), rule, len(tt.want), explain(ds, src))
			}
			for i, w := range tt.want {
				if d := got[i]; posString(d.Pos) != w.pos || !strings.Contains(d.String(), "["+rule+"] ") || !strings.Contains(d.Message, w.phrase) {
					t.Errorf("warning %d is %q; want at %s containing %q:\n%s", i, d, w.pos, w.phrase, explain(ds, src))
				} else if showDiags {
					t.Logf("\n%s", explain(got[i:i+1], src))
				}
			}
		})
	}
}

func TestLintModbusUninspected(t *testing.T) {
	runLintCases(t, modbusrules.RuleModbusUninspected, []lintCase{
		{"low into high", "  - {name: c, from: office, to: control, services: [tcp/502]}\n",
			[]lintWant{{"14:53", `conduit "c" carries Modbus (tcp/502) from low zone "office" into high zone "control" without inspection: add ` + "`inspect: modbus`"}}},
		{"medium into high, port range", "  - {name: c, from: dmz, to: control, services: [icmp, tcp/500-510]}\n",
			[]lintWant{{"14:56", `carries Modbus (tcp/500-510) from medium zone "dmz" into high zone "control"`}}},
		{"low into medium, whole tcp", "  - {name: c, from: office, to: dmz, services: [tcp]}\n",
			[]lintWant{{"14:49", `carries Modbus (tcp) from low zone "office" into medium zone "dmz"`}}},
		{"one warning per service", "  - {name: c, from: office, to: control, services: [tcp/502, tcp/1-1000]}\n",
			[]lintWant{{"14:53", "(tcp/502)"}, {"14:62", "(tcp/1-1000)"}}},
		{"inspected", "  - {name: c, from: dmz, to: control, services: [tcp/502], inspect: modbus, modbus: {allow: [{read: coils, addresses: 0-9}]}}\n", nil},
		{"downward", "  - {name: c, from: control, to: office, services: [tcp/502]}\n", nil},
		{"same importance", "  - {name: c, from: dmz, to: mes, services: [tcp/502]}\n", nil},
		{"another port", "  - {name: c, from: office, to: control, services: [tcp/503, tcp/1-501, tcp/503-600]}\n", nil},
		{"udp 502", "  - {name: c, from: office, to: control, services: [udp/502]}\n", nil},
	})
}

func TestLintWholeProtocolIntoHigh(t *testing.T) {
	runLintCases(t, RuleWholeProtocolHigh, []lintCase{
		{"icmp", "  - {name: c, from: dmz, to: control, services: [icmp]}\n",
			[]lintWant{{"14:50", `conduit "c" allows all of icmp into high-importance zone "control": name the ports or types it needs`}}},
		{"udp and icmpv6", "  - {name: c, from: control, to: safety, services: [udp/53, udp, icmpv6]}\n",
			[]lintWant{{"14:61", "allows all of udp"}, {"14:66", "allows all of icmpv6"}}},
		{"tcp", "  - {name: c, from: office, to: control, services: [tcp]}\n",
			[]lintWant{{"14:53", "allows all of tcp"}}},
		{"into medium", "  - {name: c, from: office, to: dmz, services: [udp, icmp]}\n", nil},
		{"out of high", "  - {name: c, from: control, to: dmz, services: [udp, icmp]}\n", nil},
		{"named types and ports", "  - {name: c, from: dmz, to: control, services: [icmp/echo-request, icmpv6/0, udp/1-100]}\n", nil},
	})
}

func TestLintMonitorIntoHigh(t *testing.T) {
	modbus := func(from, to, mode string) string {
		return "  - {name: c, from: " + from + ", to: " + to + ", services: [tcp/502], inspect: modbus, modbus: {mode: " + mode + ", allow: [{read: coils, addresses: 0-9}]}}\n"
	}
	runLintCases(t, modbusrules.RuleMonitorIntoHigh, []lintCase{
		{"monitor into high", modbus("dmz", "control", "monitor"),
			[]lintWant{{"14:85", `conduit "c" only monitors Modbus into high-importance zone "control": denied requests still reach the devices`}}},
		{"monitor with no rules", "  - {name: c, from: dmz, to: safety, services: [tcp/502], inspect: modbus, modbus: {mode: monitor}}\n",
			[]lintWant{{"14:84", `into high-importance zone "safety"`}}},
		{"enforce into high", modbus("dmz", "control", "enforce"), nil},
		{"monitor into medium", modbus("office", "dmz", "monitor"), nil},
	})
}

func TestLintNoManagementZone(t *testing.T) {
	tests := []struct {
		name, src string
		want      string // position of the warning; "" for none
	}{
		{"management zones", lintText, ""},
		{"no management", replaceOnce(t, lintText, "  management:\n    zones: [dmz]\n", ""), "3:3"},
		{"empty management list", replaceOnce(t, lintText, "[dmz]", "[]"), "3:3"},
		{"flow style gateway", replaceOnce(t, lintText, "gateway:\n  name: gw\n  management:\n    zones: [dmz]\n", "gateway: {name: gw}\n"), "2:10"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ds := lintOf(t, tt.src)
			got := withRule(ds, RuleNoManagementZone)
			switch {
			case tt.want == "" && len(got) != 0:
				t.Errorf("unexpected warning:\n%s", explain(got, tt.src))
			case tt.want != "" && (len(got) != 1 || posString(got[0].Pos) != tt.want ||
				!strings.Contains(got[0].String(), "warning: [no-management-zone] no management zone: nobody can reach the gateway's own services")):
				t.Errorf("want one [no-management-zone] warning at %s, got:\n%s", tt.want, explain(ds, tt.src))
			}
		})
	}
}

func TestLintTransitivePath(t *testing.T) {
	runLintCases(t, RuleTransitivePath, []lintCase{
		{"two conduits", "" +
			"  - {name: o-d, from: office, to: dmz, services: [tcp/443]}\n" +
			"  - {name: d-c, from: dmz, to: control, services: [tcp/4840]}\n",
			[]lintWant{{"14:5", `low-importance zone "office" reaches high-importance zone "control" over 2 conduits: office -> dmz -> control (via o-d, d-c); make sure the middle zones terminate these flows`}}},
		{"three conduits, listed out of order", "" +
			"  - {name: m-c, from: mes, to: control, services: [tcp/4840]}\n" +
			"  - {name: d-m, from: dmz, to: mes, services: [tcp/443]}\n" +
			"  - {name: o-d, from: office, to: dmz, services: [tcp/443]}\n",
			[]lintWant{{"16:5", "over 3 conduits: office -> dmz -> mes -> control (via o-d, d-m, m-c)"}}},
		{"stops at the first high zone", "" +
			"  - {name: o-d, from: office, to: dmz, services: [tcp/443]}\n" +
			"  - {name: d-c, from: dmz, to: control, services: [tcp/4840]}\n" +
			"  - {name: c-s, from: control, to: safety, services: [tcp/502]}\n",
			[]lintWant{{"14:5", "office -> dmz -> control (via o-d, d-c)"}}},
		{"every low zone, every high zone", "" +
			"  - {name: o-d, from: office, to: dmz, services: [tcp/443]}\n" +
			"  - {name: v-d, from: vendor, to: dmz, services: [tcp/22]}\n" +
			"  - {name: d-c, from: dmz, to: control, services: [tcp/4840]}\n" +
			"  - {name: d-s, from: dmz, to: safety, services: [tcp/4840]}\n",
			[]lintWant{
				{"14:5", `low-importance zone "office" reaches 2 high-importance zones over two or more conduits: office -> dmz -> control (via o-d, d-c); office -> dmz -> safety (via o-d, d-s); make sure`},
				{"15:5", `low-importance zone "vendor" reaches 2 high-importance zones over two or more conduits: vendor -> dmz -> control (via v-d, d-c); vendor -> dmz -> safety (via v-d, d-s); make sure`},
			}},
		{"a single direct conduit", "  - {name: o-c, from: office, to: control, services: [tcp/443]}\n", nil},
		{"two low zones directly", "" +
			"  - {name: o-c, from: office, to: control, services: [tcp/443]}\n" +
			"  - {name: v-c, from: vendor, to: control, services: [tcp/443]}\n", nil},
		{"dead end in a medium zone", "" +
			"  - {name: o-d, from: office, to: dmz, services: [tcp/443]}\n" +
			"  - {name: m-c, from: mes, to: control, services: [tcp/4840]}\n", nil},
		{"starts in a medium zone", "" +
			"  - {name: d-m, from: dmz, to: mes, services: [tcp/443]}\n" +
			"  - {name: m-c, from: mes, to: control, services: [tcp/4840]}\n", nil},
		{"conduits are one-way", "" +
			"  - {name: c-d, from: control, to: dmz, services: [tcp/443]}\n" +
			"  - {name: d-o, from: dmz, to: office, services: [tcp/443]}\n", nil},
		{"through a high zone only", "" +
			"  - {name: o-c, from: office, to: control, services: [tcp/443]}\n" +
			"  - {name: c-s, from: control, to: safety, services: [tcp/502]}\n", nil},
		{"low to low", "" +
			"  - {name: o-v, from: office, to: vendor, services: [tcp/443]}\n" +
			"  - {name: v-d, from: vendor, to: dmz, services: [tcp/443]}\n", nil},
	})
}

func TestLintClean(t *testing.T) {
	// A model that follows every rule lints clean.
	src := lintText + "" +
		"  - {name: o-d, from: office, to: dmz, services: [tcp/443, icmp/echo-request]}\n" +
		"  - {name: d-c, from: dmz, to: control, services: [tcp/502], inspect: modbus, modbus: {allow: [{read: coils, addresses: 0-9}]}}\n" +
		"  - {name: c-o, from: control, to: office, services: [udp]}\n"
	src = replaceOnce(t, src, "{name: office, importance: low", "{name: office, importance: medium")
	src = replaceOnce(t, src, "{name: vendor, importance: low", "{name: vendor, importance: medium")
	if ds := lintOf(t, src); len(ds) != 0 {
		t.Errorf("want no warnings, got:\n%s", explain(ds, src))
	}
}

// TestLintTransitivePathGrouped: a low zone that reaches many high zones
// gets one warning with the count and the first few paths, so that a large
// model's lint output stays readable.
func TestLintTransitivePathGrouped(t *testing.T) {
	var b strings.Builder
	b.WriteString("version: 1\ngateway: {name: gw, management: {zones: [dmz]}}\nzones:\n")
	b.WriteString("  - {name: office, importance: low, interfaces: [eth0], networks: [10.0.0.0/16]}\n")
	b.WriteString("  - {name: dmz, importance: medium, interfaces: [eth1], networks: [10.1.0.0/16]}\n")
	for i := 1; i <= 6; i++ {
		fmt.Fprintf(&b, "  - {name: h%d, importance: high, interfaces: [eth%d], networks: [10.%d.0.0/16]}\n", i, i+1, i+1)
	}
	b.WriteString("conduits:\n  - {name: o-d, from: office, to: dmz, services: [tcp/443]}\n")
	for i := 1; i <= 6; i++ {
		fmt.Fprintf(&b, "  - {name: d-h%d, from: dmz, to: h%d, services: [tcp/4840]}\n", i, i)
	}
	src := b.String()
	got := withRule(lintOf(t, src), RuleTransitivePath)
	require.Len(t, got, 1, "one warning for the one low zone")
	assert.Equal(t, "13:5", posString(got[0].Pos), "at the first conduit out of the low zone")
	assert.Equal(t, `low-importance zone "office" reaches 6 high-importance zones over two or more conduits: `+
		`office -> dmz -> h1 (via o-d, d-h1); office -> dmz -> h2 (via o-d, d-h2); office -> dmz -> h3 (via o-d, d-h3); and 3 more; `+
		`make sure the middle zones terminate these flows`, got[0].Message)
	assert.Equal(t, SeverityWarning, got[0].Severity, "--strict fails on it like on every warning")
}
