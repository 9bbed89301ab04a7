package zone

import (
	"strings"
	"testing"
)

// validationCase is one model with exactly one problem.
type validationCase struct {
	name    string
	src     string
	pos     string   // LINE:COLUMN of the one diagnostic
	phrases []string // each must appear in the printed diagnostic
}

func runValidationCases(t *testing.T, tests []validationCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantOnly(t, loadErrors(t, tt.src), tt.src, tt.pos, tt.phrases...)
		})
	}
}

func TestValidateGateway(t *testing.T) {
	r := func(old, new string) string { return replaceOnce(t, zonesText, old, new) }
	runValidationCases(t, []validationCase{
		{"name starts with a dash", r("name: gw", "name: -gw"), "3:9", []string{`gateway name "-gw" must be 1-64 letters, digits`}},
		{"name with a space", r("name: gw", `name: "line 3"`), "3:9", []string{`gateway name "line 3"`}},
		{"name too long", r("name: gw", "name: "+strings.Repeat("g", 65)), "3:9", []string{"must be 1-64"}},
		{"management zone not defined, near miss", r("zones: [maint]", "zones: [maintenance]"), "5:13",
			[]string{`management zone "maintenance" is not defined: did you mean "maint"?`}},
		{"management zone not defined", r("zones: [maint]", "zones: [office, dmz]"), "5:21",
			[]string{`management zone "dmz" is not defined: define it under`}},
	})
	// Boundaries that are fine.
	mustLoad(t, r("name: gw", "name: "+strings.Repeat("g", 64)))
	mustLoad(t, r("name: gw", "name: Line3_GW.plant-1"))
	mustLoad(t, r("name: gw", "name: 3gw"))
}

func TestValidateZones(t *testing.T) {
	r := func(old, new string) string { return replaceOnce(t, zonesText, old, new) }
	runValidationCases(t, []validationCase{
		// names
		{"duplicate name", r("name: control", "name: office"), "11:11", []string{`zone name "office" is already used at line 7: names must be unique`}},
		{"upper case", r("name: control", "name: Control"), "11:11", []string{`zone name "Control" must match [a-z][a-z0-9-]* and be at most 15 characters`}},
		{"starts with a digit", r("name: control", "name: 1control"), "11:11", []string{`zone name "1control" must match`}},
		{"underscore", r("name: control", "name: con_trol"), "11:11", []string{`zone name "con_trol" must match`}},
		{"16 characters", r("name: control", "name: control-room-abc"), "11:11", []string{`zone name "control-room-abc"`, "at most 15 characters"}},
		{"missing name", r("  - name: control\n", "  - description: no name\n"), "11:5", []string{"zone needs a `name:`"}},
		{"empty name", r("name: control", `name: ""`), "11:11", []string{"zone needs a `name:`"}},
		// importance
		{"missing importance", r("    importance: high\n", ""), "11:5", []string{`zone "control" needs ` + "`importance: low|medium|high`"}},
		{"invalid importance", r("importance: high", "importance: critical"), "12:17", []string{`importance "critical" is not one of low, medium, high`}},
		{"importance in capitals", r("importance: high", "importance: High"), "12:17", []string{`importance "High" is not one of`}},
		// interfaces
		{"interface in two zones", r("[eth1]", "[eth0]"), "13:18", []string{`interface "eth0" is already in zone "office": an interface belongs to exactly one zone`}},
		{"interface listed twice", r("[eth1]", "[eth1, eth1]"), "13:24", []string{`interface "eth1" is listed twice in zone "control"`}},
		{"interface with a slash", r("[eth1]", "[eth/1]"), "13:18", []string{`interface name "eth/1" is not a valid Linux interface name`}},
		{"interface with a colon", r("[eth1]", "[eth1:0]"), "13:18", []string{`interface name "eth1:0" is not a valid`}},
		{"interface with a space", r("[eth1]", `["eth 1"]`), "13:18", []string{`interface name "eth 1" is not a valid`}},
		{"interface dot", r("[eth1]", "[.]"), "13:18", []string{`interface name "." is not a valid`}},
		{"interface dot dot", r("[eth1]", "[..]"), "13:18", []string{`interface name ".." is not a valid`}},
		{"interface empty", r("[eth1]", `[""]`), "13:18", []string{`interface name "" is not a valid`}},
		{"interface 16 characters", r("[eth1]", "[abcdefghijklmnop]"), "13:18", []string{`interface name "abcdefghijklmnop" is not a valid`, "1-15 characters"}},
		{"no interfaces", r("interfaces: [eth1]", "interfaces: []"), "13:17", []string{`zone "control" needs at least one gateway interface`}},
		{"interfaces missing", r("    interfaces: [eth1]\n", ""), "11:5", []string{`zone "control" needs at least one gateway interface`}},
		// networks
		{"overlaps another zone", r("[10.2.0.0/16, ", "[10.1.128.0/17, "), "14:16",
			[]string{`network 10.1.128.0/17 of zone "control" overlaps 10.1.0.0/16 of zone "office": zones must not share addresses`}},
		{"IPv6 overlaps another zone", r("[10.3.0.0/16]", `[10.3.0.0/16, "fd00::/16"]`), "18:29",
			[]string{`network fd00::/16 of zone "maint" overlaps fd00:2::/64 of zone "control"`}},
		{"same network in two zones", r("[10.3.0.0/16]", "[10.1.0.0/16]"), "18:16",
			[]string{`network 10.1.0.0/16 of zone "maint" overlaps 10.1.0.0/16 of zone "office"`}},
		{"overlap within a zone", r("[10.3.0.0/16]", "[10.3.0.0/16, 10.3.7.0/24]"), "18:29",
			[]string{`network 10.3.7.0/24 overlaps 10.3.0.0/16, already in zone "maint": list each address range once`}},
		{"address inside a zone network", r("[10.3.0.0/16]", "[10.3.0.0/16, 10.3.0.9]"), "18:29",
			[]string{`network 10.3.0.9/32 overlaps 10.3.0.0/16, already in zone "maint"`}},
		{"host bits set", r("[10.3.0.0/16]", "[10.3.0.1/16]"), "18:16",
			[]string{`network "10.3.0.1/16" has host bits set: did you mean 10.3.0.0/16?`}},
		{"IPv6 host bits set", r(`"fd00:2::/64"`, `"fd00:2::1/64"`), "14:29",
			[]string{`network "fd00:2::1/64" has host bits set: did you mean fd00:2::/64?`}},
		{"prefix too long", r("[10.3.0.0/16]", "[10.3.0.0/33]"), "18:16", []string{`network "10.3.0.0/33" is not an IPv4 or IPv6 CIDR`}},
		{"not an address", r("[10.3.0.0/16]", "[maint-net]"), "18:16", []string{`network "maint-net" is not an IPv4 or IPv6 CIDR`}},
		{"IPv6 zone index", r("[10.3.0.0/16]", `["fe80::1%eth2"]`), "18:16", []string{`network "fe80::1%eth2" is not`}},
		{"IPv4-mapped prefix", r("[10.3.0.0/16]", `["::ffff:10.3.0.0/112"]`), "18:16", []string{"IPv4-mapped IPv6 prefix: write the IPv4 network instead"}},
		{"no networks", r("networks: [10.3.0.0/16]", "networks: []"), "18:15", []string{`zone "maint" needs at least one network`}},
		{"networks missing", r("    networks: [10.3.0.0/16]\n", ""), "15:5", []string{`zone "maint" needs at least one network`}},
	})
}

func TestValidZoneBoundaries(t *testing.T) {
	r := func(old, new string) string { return replaceOnce(t, zonesText, old, new) }
	m := mustLoad(t, r("name: control", "name: control-room-a"))
	if m.Zone("control-room-a") == nil {
		t.Errorf("15-character zone name not loaded")
	}
	mustLoad(t, r("name: control", "name: c0-"))
	mustLoad(t, r("[eth1]", "[abcdefghijklmno, eth1.20, br-lan]"))

	// A single address is a /32 (or /128) network; an IPv4-mapped address is unmapped.
	m = mustLoad(t, r("[10.3.0.0/16]", `[10.3.0.1, "fd00:3::1", "::ffff:10.4.0.1"]`))
	var got []string
	for _, n := range m.Zone("maint").Networks {
		got = append(got, n.String())
	}
	if want := "10.3.0.1/32 fd00:3::1/128 10.4.0.1/32"; strings.Join(got, " ") != want {
		t.Errorf("networks = %v, want %s", got, want)
	}
	// IPv4 and IPv6 networks never overlap each other.
	src := replaceOnce(t, zonesText, `, "fd00:2::/64"`, "")
	mustLoad(t, replaceOnce(t, src, "[10.3.0.0/16]", `[10.3.0.0/16, "::/0"]`))
}

func TestValidateAssets(t *testing.T) {
	r := func(old, new string) string { return replaceOnce(t, assetsText, old, new) }
	runValidationCases(t, []validationCase{
		{"duplicate name", r("name: ws-1", "name: plc-1"), "23:11", []string{`asset name "plc-1" is already used at line 20: names must be unique`}},
		{"invalid name", r("name: plc-1", "name: PLC_1"), "20:11", []string{`asset name "PLC_1" must match [a-z][a-z0-9-]* and be at most 48 characters`}},
		{"49 characters", r("name: plc-1", "name: "+strings.Repeat("p", 49)), "20:11", []string{"at most 48 characters"}},
		{"missing name", r("  - name: plc-1\n    zone: control\n", "  - zone: control\n"), "20:5", []string{"asset needs a `name:`"}},
		{"address outside its zone", r("address: 10.1.0.10", "address: 10.2.0.11"), "25:14",
			[]string{`address 10.2.0.11 of asset "ws-1" is outside the networks of zone "office" (10.1.0.0/16): fix the address or add its network to the zone`}},
		{"IPv6 address outside its zone", r("address: 10.2.0.10", `address: "fd00:3::1"`), "22:14",
			[]string{`address fd00:3::1 of asset "plc-1" is outside the networks of zone "control" (10.2.0.0/16, fd00:2::/64)`}},
		{"address outside every zone", r("address: 10.2.0.10", "address: 192.0.2.1"), "22:14", []string{`address 192.0.2.1 of asset "plc-1" is outside`}},
		{"duplicate address", r("    zone: office\n    address: 10.1.0.10", "    zone: control\n    address: 10.2.0.10"), "25:14",
			[]string{`address 10.2.0.10 of asset "ws-1" is already the address of asset "plc-1"`}},
		{"duplicate address, IPv4-mapped", r("    zone: office\n    address: 10.1.0.10", "    zone: control\n    address: \"::ffff:10.2.0.10\""), "25:14",
			[]string{`address 10.2.0.10 of asset "ws-1" is already the address of asset "plc-1"`}},
		{"address with prefix", r("address: 10.2.0.10", "address: 10.2.0.10/32"), "22:14",
			[]string{`address "10.2.0.10/32" is not an IPv4 or IPv6 address (one host, no prefix length)`}},
		{"host name as address", r("address: 10.2.0.10", "address: plc-1.local"), "22:14", []string{`address "plc-1.local" is not an IPv4 or IPv6 address`}},
		{"unknown zone, near miss", r("zone: control", "zone: contrl"), "21:11",
			[]string{`asset "plc-1" is in zone "contrl", which is not defined: did you mean "control"?`}},
		{"unknown zone", r("zone: control", "zone: dmz"), "21:11", []string{`asset "plc-1" is in zone "dmz", which is not defined: define it under ` + "`zones:`"}},
		{"missing zone", r("    zone: control\n", ""), "20:5", []string{`asset "plc-1" needs a ` + "`zone:`"}},
		{"missing address", r("    address: 10.2.0.10\n", ""), "20:5", []string{`asset "plc-1" needs an ` + "`address:`"}},
		{"invalid importance", r("    address: 10.2.0.10\n", "    address: 10.2.0.10\n    importance: vital\n"), "23:17", []string{`importance "vital" is not one of low, medium, high`}},
	})
}

func TestValidAssets(t *testing.T) {
	src := assetsText + `  - name: hmi-1
    zone: control
    address: "fd00:2::10"
    importance: medium
  - name: ` + strings.Repeat("a", 48) + `
    zone: maint
    address: "::ffff:10.3.0.1"
`
	m := mustLoad(t, src)
	if a := m.Asset("plc-1"); a.Importance != High {
		t.Errorf("asset importance defaults to its zone's: got %v, want high", a.Importance)
	}
	if a := m.Asset("hmi-1"); a.Importance != Medium || a.Address.String() != "fd00:2::10" {
		t.Errorf("hmi-1 = %+v", a)
	}
	if a := m.Asset(strings.Repeat("a", 48)); a == nil || a.Address.String() != "10.3.0.1" {
		t.Errorf("IPv4-mapped asset address must be unmapped: %+v", a)
	}
}

// okConduit is a valid conduit on lines 27-30 of conduitsText+okConduit.
const okConduit = `  - name: c1
    from: office
    to: control
    services: [tcp/443]
`

func TestValidateConduits(t *testing.T) {
	base := conduitsText + okConduit
	r := func(old, new string) string { return replaceOnce(t, base, old, new) }
	add := func(line string) string { return r("    to: control\n", "    to: control\n"+line+"\n") } // line 30
	svc := func(s string) string { return r("[tcp/443]", "["+s+"]") }                                // at 30:16
	runValidationCases(t, []validationCase{
		{"duplicate name", base + okConduit, "31:11", []string{`conduit name "c1" is already used at line 27: names must be unique`}},
		{"invalid name", r("name: c1", "name: C1"), "27:11", []string{`conduit name "C1" must match [a-z][a-z0-9-]*`}},
		{"missing name", r("  - name: c1\n    from: office\n", "  - from: office\n"), "27:5", []string{"conduit needs a `name:`"}},
		// zones
		{"unknown from zone, near miss", r("from: office", "from: ofice"), "28:11",
			[]string{`conduit "c1": from zone "ofice" is not defined: did you mean "office"?`}},
		{"unknown to zone, near miss", r("to: control", "to: ctrl"), "29:9",
			[]string{`conduit "c1": to zone "ctrl" is not defined: did you mean "control"?`}},
		{"unknown to zone", r("to: control", "to: dmz"), "29:9", []string{`conduit "c1": to zone "dmz" is not defined: define it under ` + "`zones:`"}},
		{"missing from", r("    from: office\n", ""), "27:5", []string{`conduit "c1" needs ` + "`from:` naming a zone"}},
		{"missing to", r("    to: control\n", ""), "27:5", []string{`conduit "c1" needs ` + "`to:` naming a zone"}},
		{"from equals to", r("to: control", "to: office"), "29:9",
			[]string{`conduit "c1" goes from zone "office" to itself`, "conduits join two different zones"}},
		// assets
		{"unknown asset, near miss", add("    to_assets: [plc1]"), "30:17", []string{`conduit "c1": asset "plc1" is not defined: did you mean "plc-1"?`}},
		{"unknown asset", add("    to_assets: [historian]"), "30:17", []string{`asset "historian" is not defined: define it under ` + "`assets:`"}},
		{"asset on the wrong side", add("    from_assets: [plc-1]"), "30:19",
			[]string{`conduit "c1": asset "plc-1" is in zone "control", not in "office": from_assets lists assets of the conduit's from zone`}},
		{"to asset on the wrong side", add("    to_assets: [plc-1, ws-1]"), "30:24",
			[]string{`asset "ws-1" is in zone "office", not in "control": to_assets lists assets of the conduit's to zone`}},
		{"asset listed twice", add("    to_assets: [plc-1, plc-1]"), "30:24", []string{`conduit "c1": asset "plc-1" is listed twice in to_assets`}},
		// services
		{"port 0", svc("tcp/0"), "30:16", []string{`service "tcp/0": port 0 is outside 1-65535`}},
		{"port 70000", svc("tcp/70000"), "30:16", []string{`service "tcp/70000": port 70000 is outside 1-65535`}},
		{"inverted range", svc("udp/200-100"), "30:16", []string{`service "udp/200-100": port range is inverted: write udp/100-200`}},
		{"range end out of range", svc("udp/100-65536"), "30:16", []string{`port 65536 is outside 1-65535`}},
		{"misspelt ICMP type", svc("icmp/echo-requst"), "30:16", []string{`service "icmp/echo-requst": unknown icmp type "echo-requst": did you mean icmp/echo-request?`}},
		{"unknown ICMPv6 type", svc("icmpv6/bogus"), "30:16", []string{`service "icmpv6/bogus": unknown icmpv6 type "bogus": use a number 0-255 or one of`, "echo-request"}},
		{"ICMP type 256", svc("icmp/256"), "30:16", []string{`unknown icmp type "256"`}},
		{"sctp", svc("sctp/1"), "30:16", []string{`service "sctp/1": unknown protocol "sctp": did you mean tcp?`}},
		{"gre", svc("gre"), "30:16", []string{`unknown protocol "gre": write proto/port such as tcp/502`}},
		{"port not a number", svc("tcp/abc"), "30:16", []string{`service "tcp/abc": port "abc" is not a number`}},
		{"empty port", svc("tcp/"), "30:16", []string{`port "" is not a number`}},
		{"second service bad", svc("tcp/443, udp/x"), "30:25", []string{`service "udp/x"`}},
		{"duplicate service", svc("tcp/443, udp/53, tcp/443-443"), "30:33", []string{"service tcp/443 is listed twice (also entry 1): remove one"}},
		{"duplicate ICMP type by number", svc("icmp/echo-request, icmp/8"), "30:35", []string{"service icmp/echo-request is listed twice (also entry 1)"}},
		{"duplicate whole protocol", svc("udp, udp"), "30:21", []string{"service udp is listed twice"}},
		{"no services", svc(""), "30:15", []string{`conduit "c1" needs ` + "`services:`"}},
		{"null services", r("services: [tcp/443]", "services:"), "30:14", []string{`conduit "c1" needs ` + "`services:`"}},
		{"services missing", r("    services: [tcp/443]\n", ""), "27:5", []string{`conduit "c1" needs ` + "`services:` such as [tcp/502, icmp/echo-request]"}},
		{"unknown inspection", base + "    inspect: http\n", "31:14", []string{`inspect "http" is not supported: use ` + "`inspect: modbus` or `inspect: opcua`"}},
	})
}

func TestValidConduits(t *testing.T) {
	m := mustLoad(t, conduitsText+`  - name: a
    description: both directions are separate conduits
    from: office
    to: control
    from_assets: [ws-1]
    to_assets: [plc-1]
    services: [tcp, udp/1-65535, icmp, icmpv6/128, tcp/443]
  - name: b
    from: control
    to: office
    services: [udp/53]
`)
	c := m.Conduit("a")
	if len(c.Services) != 5 || c.Inspect != "" || c.Rules != nil {
		t.Errorf("conduit a = %+v", c)
	}
	if m.Conduit("b").From != "control" {
		t.Errorf("conduit b = %+v", m.Conduit("b"))
	}
}

// modbusConduit is a valid inspected conduit from maint to control:
//
//	27  - name: mb
//	31    inspect: modbus        (value at 31:14)
//	32    modbus:
//	33      mode: enforce        (block at 33:7, value at 33:13)
//	34      allow:
//	35        - read: holding_registers   (rule at 35:11, table at 35:17)
//	36          addresses: 0-99           (value at 36:22)
const modbusConduit = `  - name: mb
    from: maint
    to: control
    services: [tcp/502]
    inspect: modbus
    modbus:
      mode: enforce
      allow:
        - read: holding_registers
          addresses: 0-99
`

func TestValidateModbus(t *testing.T) {
	base := conduitsText + modbusConduit
	r := func(old, new string) string { return replaceOnce(t, base, old, new) }
	// rule replaces the allow rule on lines 35-36.
	rule := func(lines string) string {
		return r("        - read: holding_registers\n          addresses: 0-99\n", lines)
	}
	// setting adds a line 34 to the modbus block.
	setting := func(line string) string { return r("      mode: enforce\n", "      mode: enforce\n      "+line+"\n") }
	runValidationCases(t, []validationCase{
		// tables and functions
		{"unknown table, near miss", r("read: holding_registers", "read: holding_register"), "35:17",
			[]string{`unknown Modbus table "holding_register": did you mean holding_registers?`}},
		{"unknown table", r("read: holding_registers", "read: memory"), "35:17",
			[]string{`unknown Modbus table "memory": use one of coils, discrete_inputs, holding_registers, input_registers`}},
		{"unknown function", rule("        - function: read_device_id\n"), "35:21", []string{`unknown Modbus function "read_device_id": use a code 1-127 or one of`}},
		{"function code with addresses (read)", rule("        - function: 3\n"), "35:21",
			[]string{"function code 3 has addresses: allow it with a `read: holding_registers` rule instead"}},
		{"function code with addresses (write)", rule("        - function: 15\n"), "35:21", []string{"function code 15 has addresses", "`write: coils`"}},
		{"function code 23", rule("        - function: 23\n"), "35:21", []string{"function code 23 has addresses", "`read: and write: holding_registers`"}},
		{"function code 0", rule("        - function: 0\n"), "35:21", []string{"Modbus function code 0 is outside 1-127"}},
		{"function code 128", rule("        - function: 128\n"), "35:21", []string{"Modbus function code 128 is outside 1-127"}},
		{"function with addresses", rule("        - function: diagnostics\n          addresses: 0-9\n"), "35:11",
			[]string{"a function: rule takes no addresses: or values: (function diagnostics has no address semantics)"}},
		{"write to input registers", r("read: holding_registers", "write: input_registers"), "35:18",
			[]string{"table input_registers is read-only in Modbus: a write rule needs coils or holding_registers"}},
		{"write to discrete inputs", r("read: holding_registers", "write: discrete_inputs"), "35:18", []string{"table discrete_inputs is read-only"}},
		{"two kinds in one rule", rule("        - read: holding_registers\n          write: holding_registers\n          addresses: 0-99\n"), "35:11",
			[]string{"a modbus allow rule needs exactly one of read:, write: or function: (found 2)"}},
		{"all three kinds", rule("        - {read: coils, write: coils, function: diagnostics, addresses: 1}\n"), "35:11", []string{"(found 3)"}},
		{"no kind", rule("        - addresses: 0-99\n"), "35:11", []string{"needs exactly one of read:, write: or function: (found 0)"}},
		// addresses and values
		{"missing addresses", rule("        - read: coils\n"), "35:11", []string{"a read rule needs `addresses: LO-HI` (zero-based PDU addresses, inclusive)"}},
		{"write missing addresses", rule("        - write: coils\n"), "35:11", []string{"a write rule needs `addresses: LO-HI`"}},
		{"inverted addresses", r("addresses: 0-99", "addresses: 99-0"), "36:22", []string{`addresses: range "99-0" is inverted: write the lower end first (0-99)`}},
		{"addresses out of range", r("addresses: 0-99", "addresses: 0-65536"), "36:22", []string{`addresses: range "0-65536" is outside 0-65535`}},
		{"negative address", r("addresses: 0-99", "addresses: -1"), "36:22", []string{`addresses: "-1" is not a number or a range LO-HI`}},
		{"addresses not numbers", r("addresses: 0-99", "addresses: a-z"), "36:22", []string{`addresses: "a-z" is not a number or a range LO-HI`}},
		{"inverted values", rule("        - write: holding_registers\n          addresses: 0-99\n          values: 1000-0\n"), "37:19",
			[]string{`values: range "1000-0" is inverted: write the lower end first (0-1000)`}},
		{"values out of range", rule("        - write: holding_registers\n          addresses: 0-99\n          values: 0-70000\n"), "37:19",
			[]string{`values: range "0-70000" is outside 0-65535`}},
		{"values on a coils write", rule("        - write: coils\n          addresses: 0-15\n          values: 0-1\n"), "37:19",
			[]string{"values: applies only to `write: holding_registers` rules"}},
		{"values on a read", rule("        - read: holding_registers\n          addresses: 0-15\n          values: 0-1\n"), "37:19",
			[]string{"values: applies only to `write: holding_registers` rules"}},
		// units
		{"unit 256", setting("units: [1, 256]"), "34:18", []string{"unit identifier 256 is outside 0-255"}},
		{"unit -1", setting("units: [-1]"), "34:15", []string{"unit identifier -1 is outside 0-255"}},
		{"unit twice", setting("units: [1, 2, 1]"), "34:21", []string{"unit identifier 1 is listed twice: remove one"}},
		{"unit not a number", setting("units: [plc]"), "34:15", []string{`a unit identifier must be a whole number, not "plc"`}},
		{"empty units", setting("units: []"), "34:14", []string{"units lists no unit identifier", "remove `units:` to allow any unit"}},
		{"null units", setting("units:"), "34:13", []string{"units lists no unit identifier"}},
		// the conduit around the block
		{"inspect without tcp", r("services: [tcp/502]", "services: [udp/502]"), "31:14",
			[]string{`conduit "mb" has ` + "`inspect: modbus` but no tcp service: add tcp/502"}},
		{"inspect without modbus block", r("    modbus:\n      mode: enforce\n      allow:\n        - read: holding_registers\n          addresses: 0-99\n", ""), "31:14",
			[]string{`conduit "mb" has ` + "`inspect: modbus` but no `modbus:` block"}},
		{"modbus block without inspect", r("    inspect: modbus\n", ""), "32:7",
			[]string{`conduit "mb" has a ` + "`modbus:` block but no `inspect: modbus`"}},
		{"enforce with empty allow", rule("") + "", "33:7", []string{`conduit "mb": the modbus block allows nothing, so every request would be denied`}},
		{"enforce by default with no allow", r("      mode: enforce\n      allow:\n        - read: holding_registers\n          addresses: 0-99\n", "      on_deny: reset\n"), "33:7",
			[]string{"the modbus block allows nothing"}},
		{"bad mode", r("mode: enforce", "mode: block"), "33:13", []string{`modbus mode "block" is not one of enforce, monitor`}},
		{"bad on_deny", setting("on_deny: drop"), "34:16", []string{`on_deny "drop" is not one of exception, reset`}},
		// max_rate
		{"rate without unit", setting("max_rate: 100"), "34:17", []string{`max_rate "100" must look like 100/s`}},
		{"zero rate", setting("max_rate: 0/s"), "34:17", []string{`max_rate "0/s" must look like 100/s`}},
		{"negative rate", setting("max_rate: -5/s"), "34:17", []string{`max_rate "-5/s" must look like`}},
		{"rate not a number", setting("max_rate: fast/s"), "34:17", []string{`max_rate "fast/s" must look like`}},
		{"NaN rate", setting("max_rate: NaN/s"), "34:17", []string{`max_rate "NaN/s" must look like`}},
		{"infinite rate", setting("max_rate: Inf/s"), "34:17", []string{`max_rate "Inf/s" must look like`}},
		{"rate per day", setting("max_rate: 100/d"), "34:17", []string{`max_rate "100/d": unit must be s, m or h, as in 100/s`}},
	})
}

func TestValidModbus(t *testing.T) {
	src := conduitsText + `  - name: mb
    from: maint
    to: control
    services: [tcp/502, tcp/5020, icmp]
    inspect: modbus
    modbus:
      mode: monitor
      on_deny: reset
      units: [0, 255, 7]
      max_rate: 6000/m
      allow:
        - {read: coils, addresses: 0}
        - {read: discrete_inputs, addresses: 0-65535}
        - {read: input_registers, addresses: " 10 - 20 "}
        - {write: coils, addresses: 0-15}
        - {write: holding_registers, addresses: 100-199, values: 0-65535}
        - {function: 8}
        - {function: 43}
        - {function: read_device_identification}
        - {function: 100}
  - name: monitor-only
    from: office
    to: control
    services: [tcp/502]
    inspect: modbus
    modbus: {mode: monitor, max_rate: 1/h}
`
	m := mustLoad(t, src)
	s := modbusSpec(m.Conduit("mb"))
	if len(s.Rules) != 9 || s.MaxRate != 100 || len(s.Units) != 3 {
		t.Errorf("spec = %+v", s)
	}
	if r := s.Rules[2]; r.Addresses.Lo != 10 || r.Addresses.Hi != 20 {
		t.Errorf("addresses with spaces = %+v", r.Addresses)
	}
	if s := modbusSpec(m.Conduit("monitor-only")); len(s.Rules) != 0 || s.MaxRate != 1.0/3600 {
		t.Errorf("monitor-only = %+v", s)
	}
}

func TestValidationReportsEveryProblem(t *testing.T) {
	// Validation errors in different places are all reported, sorted.
	src := conduitsText + okConduit
	src = replaceOnce(t, src, "to: control", "to: contrl")
	src = replaceOnce(t, src, "name: ws-1", "name: plc-1")
	src = replaceOnce(t, src, "[eth2]", "[eth0]")
	ds := loadErrors(t, src)
	if len(ds) != 3 {
		t.Fatalf("got %d diagnostics, want 3:\n%s", len(ds), explain(ds, src))
	}
	wantDiag(t, ds, src, "17:18", `interface "eth0" is already in zone "office"`)
	wantDiag(t, ds, src, "23:11", `asset name "plc-1" is already used`)
	wantDiag(t, ds, src, "29:9", `to zone "contrl" is not defined`)
}
