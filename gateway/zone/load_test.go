package zone

import (
	"errors"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/zonegate/zonegate/protocols/modbus"
	"github.com/zonegate/zonegate/protocols/modbus/modbusrules"
	"github.com/zonegate/zonegate/protocols/registry"
)

const examplePath = "../../configs/example-factory.yaml"

func TestLoadExample(t *testing.T) {
	m, err := LoadFile(examplePath)
	if err != nil {
		t.Fatalf("LoadFile(%s): %v", examplePath, err)
	}
	if m.File != examplePath || m.Version != 1 || m.Gateway.Name != "line3-gw" {
		t.Errorf("File, Version, Gateway.Name = %q, %d, %q", m.File, m.Version, m.Gateway.Name)
	}
	if !slices.Equal(m.Gateway.ManagementZones, []string{"maintenance"}) {
		t.Errorf("ManagementZones = %v", m.Gateway.ManagementZones)
	}
	if len(m.Zones) != 7 || len(m.Assets) != 8 || len(m.Conduits) != 9 {
		t.Errorf("got %d zones, %d assets, %d conduits; want 7, 8, 9", len(m.Zones), len(m.Assets), len(m.Conduits))
	}
	if !m.IsManagementZone("maintenance") || m.IsManagementZone("office") {
		t.Errorf("IsManagementZone is wrong")
	}

	control := m.Zone("control")
	if control == nil || control.Importance != High || !slices.Equal(control.Interfaces, []string{"eth3"}) {
		t.Fatalf("zone control = %+v", control)
	}
	wantNets := []netip.Prefix{netip.MustParsePrefix("198.18.40.0/24"), netip.MustParsePrefix("fd00:40::/64")}
	if !slices.Equal(control.Networks, wantNets) {
		t.Errorf("control networks = %v, want %v", control.Networks, wantNets)
	}
	if z := m.ZoneOfAddr(netip.MustParseAddr("fd00:40::1")); z != control {
		t.Errorf("ZoneOfAddr(fd00:40::1) = %v, want control", z)
	}
	if z := m.ZoneOfAddr(netip.MustParseAddr("::ffff:198.18.40.7")); z != control {
		t.Errorf("ZoneOfAddr(IPv4-mapped) = %v, want control", z)
	}
	if z := m.ZoneOfAddr(netip.MustParseAddr("192.0.2.1")); z != nil {
		t.Errorf("ZoneOfAddr(192.0.2.1) = %v, want nil", z.Name)
	}
	if a := m.Asset("plc-1"); a == nil || a.Zone != "control" || a.Address != netip.MustParseAddr("198.18.40.10") || a.Importance != High {
		t.Errorf("asset plc-1 = %+v", a)
	}
	if m.Zone("nope") != nil || m.Asset("nope") != nil || m.Conduit("nope") != nil {
		t.Errorf("lookups of unknown names must return nil")
	}

	c := m.Conduit("scada-to-plc")
	if c == nil {
		t.Fatal("conduit scada-to-plc missing")
	}
	if c.From != "supervisory" || c.To != "control" || c.Inspect != modbusrules.Name ||
		!slices.Equal(c.FromAssets, []string{"scada-1", "hmi-1"}) || !slices.Equal(c.ToAssets, []string{"plc-1", "plc-2"}) {
		t.Errorf("conduit scada-to-plc = %+v", c)
	}
	wantSvcs := []Service{{Proto: TCP, PortLo: 502, PortHi: 502, ICMPType: -1}, {Proto: ICMP, ICMPType: 8}}
	if !slices.Equal(c.Services, wantSvcs) {
		t.Errorf("services = %+v, want %+v", c.Services, wantSvcs)
	}
	spec := modbusSpec(c)
	if spec == nil || spec.Mode != modbus.ModeEnforce || spec.OnDeny != modbus.DenyException ||
		!slices.Equal(spec.Units, []uint8{1}) || spec.MaxRate != 100 || len(spec.Rules) != 5 {
		t.Fatalf("modbus spec = %+v", spec)
	}
	w := spec.Rules[2]
	if w.Access != modbus.AccessWrite || w.Table != modbus.HoldingRegisters || w.Addresses != (modbus.Range{Lo: 10, Hi: 19}) ||
		w.Values == nil || *w.Values != (modbus.Range{Lo: 0, Hi: 1000}) {
		t.Errorf("third rule = %+v", w)
	}
	if f := spec.Rules[4]; f.Access != modbus.AccessFunction || f.Function != modbus.FuncEncapsulatedInterface || f.MEIType == nil || *f.MEIType != 14 {
		t.Errorf("function rule = %+v", f)
	}
	if s := modbusSpec(m.Conduit("scada-to-sis")); s.OnDeny != modbus.DenyReset {
		t.Errorf("scada-to-sis on_deny = %v, want reset", s.OnDeny)
	}
	if s := modbusSpec(m.Conduit("eng-to-plc")); s.Units != nil {
		t.Errorf("eng-to-plc has no units: line, so Units must be nil (any unit), got %v", s.Units)
	}

	// Load on the same bytes gives the same model.
	data, err := os.ReadFile(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	m2, err := Load(examplePath, data)
	if err != nil {
		t.Fatal(err)
	}
	if m.Digest() != m2.Digest() {
		t.Errorf("LoadFile and Load disagree")
	}
}

func TestLoadExampleLint(t *testing.T) {
	m, err := LoadFile(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	ds := m.Lint()
	if len(ds) != 2 {
		t.Fatalf("example lints with %d warnings, want 2 transitive-path:\n%s", len(ds), ds.Error())
	}
	for _, d := range ds {
		if d.Severity != SeverityWarning || d.Rule != RuleTransitivePath || d.File != examplePath {
			t.Errorf("unexpected warning %q", d)
		}
	}
	want := []struct{ pos, path string }{
		{"93:5", "office -> mes -> supervisory (via office-to-mes, mes-to-scada)"},
		{"226:5", "vendor -> maintenance -> control (via vendor-to-eng, eng-to-plc)"},
	}
	for i, w := range want {
		if got := posString(ds[i].Pos); got != w.pos || !strings.Contains(ds[i].Message, w.path) {
			t.Errorf("warning %d = %q, want at %s with %q", i, ds[i], w.pos, w.path)
		}
	}
}

func TestLoadFile(t *testing.T) {
	dir := t.TempDir()

	t.Run("missing file", func(t *testing.T) {
		_, err := LoadFile(filepath.Join(dir, "nope.yaml"))
		if !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("err = %v, want fs.ErrNotExist", err)
		}
		var ds Diagnostics
		if errors.As(err, &ds) {
			t.Errorf("an I/O error must not be a Diagnostics")
		}
	})

	t.Run("diagnostics name the path", func(t *testing.T) {
		p := filepath.Join(dir, "bad.yaml")
		if err := os.WriteFile(p, []byte(strings.Replace(zonesText, "version: 1", "version: 2", 1)), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := LoadFile(p)
		var ds Diagnostics
		if !errors.As(err, &ds) || len(ds) == 0 {
			t.Fatalf("err = %v, want Diagnostics", err)
		}
		if !strings.HasPrefix(ds.Error(), p+":1:10: unsupported version 2") {
			t.Errorf("error = %q", ds.Error())
		}
	})

	t.Run("empty file", func(t *testing.T) {
		p := filepath.Join(dir, "empty.yaml")
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := LoadFile(p)
		var ds Diagnostics
		if !errors.As(err, &ds) || findDiag(ds, "1:1", "the file is empty") < 0 {
			t.Errorf("err = %v", err)
		}
	})

	t.Run("too large", func(t *testing.T) {
		p := filepath.Join(dir, "huge.yaml")
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		// Sparse: no 16 MiB written.
		if err := f.Truncate(MaxFileSize + 1); err != nil {
			t.Fatal(err)
		}
		f.Close()
		_, err = LoadFile(p)
		var ds Diagnostics
		if !errors.As(err, &ds) || len(ds) != 1 || ds[0].Pos != (Pos{Line: 1, Column: 1}) || !strings.Contains(ds[0].Message, "at most 16777216") {
			t.Errorf("err = %v", err)
		}
	})

	t.Run("ok", func(t *testing.T) {
		p := filepath.Join(dir, "ok.yaml")
		if err := os.WriteFile(p, []byte(zonesText), 0o644); err != nil {
			t.Fatal(err)
		}
		m, err := LoadFile(p)
		if err != nil || m.File != p {
			t.Fatalf("LoadFile = %v, %v", m, err)
		}
	})
}

func TestDiagnosticString(t *testing.T) {
	e := Diagnostic{File: "f.yaml", Pos: Pos{Line: 3, Column: 7}, Message: "boom"}
	w := Diagnostic{File: "f.yaml", Pos: Pos{Line: 10, Column: 1}, Severity: SeverityWarning, Rule: "some-rule", Message: "careful"}
	if got := e.String(); got != "f.yaml:3:7: boom" {
		t.Errorf("error String = %q", got)
	}
	if got := w.String(); got != "f.yaml:10:1: warning: [some-rule] careful" {
		t.Errorf("warning String = %q", got)
	}
	if got := (Diagnostics{e, w}).Error(); got != "f.yaml:3:7: boom\nf.yaml:10:1: warning: [some-rule] careful" {
		t.Errorf("Diagnostics.Error = %q", got)
	}
}

func TestLoadYAMLSyntaxErrors(t *testing.T) {
	tests := []struct {
		name, src, pos, phrase string
	}{
		{"mapping value inside a value", "version: 1\ngateway:\n  name: gw\n  bad: x: y\n", "4:1", "mapping values are not allowed"},
		{"tab indentation", "version: 1\n\tgateway: x\n", "2:1", "tab character"},
		{"unclosed flow list", "version: 1\ngateway:\n  name: [gw\nzones: []\n", "3:1", "did not find expected ',' or ']'"},
		{"unclosed flow mapping", "version: 1\ngateway: {name: gw\nzones: []\n", "2:1", "did not find expected ',' or '}'"},
		{"bad indentation", "version: 1\ngateway:\n  name: gw\n zones: x\n", "4:1", "did not find expected key"},
		{"unterminated quote", "version: 1\ngateway: {name: \"gw}\n", "2:1", "found unexpected end of stream"},
		{"unknown anchor", "version: 1\ngateway: *gw\n", "1:1", "unknown anchor 'gw'"},
		{"control character", "version: 1\x00\n", "1:1", "control characters are not allowed"},
		{"error in a second document", zonesText + "---\nzones: [\n", "21:1", "did not find expected node content"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ds := loadErrors(t, tt.src)
			wantOnly(t, ds, tt.src, tt.pos, "YAML syntax error: ", tt.phrase)
			// Printed as FILE:LINE:COLUMN: message.
			if !strings.HasPrefix(ds.Error(), testFile+":"+tt.pos+": YAML syntax error: ") {
				t.Errorf("printed as %q", ds.Error())
			}
		})
	}
}

func TestLoadEmpty(t *testing.T) {
	for _, src := range []string{"", "\n\n", "   \n", "# only a comment\n", "# one\n# two\n"} {
		ds := loadErrors(t, src)
		wantOnly(t, ds, src, "1:1", "the file is empty", "version: 1")
	}
	// A document marker alone is a document with nothing in it.
	src := "---\n"
	wantOnly(t, loadErrors(t, src), src, "2:1", "the zone model must be a mapping", "not an empty value")
}

func TestLoadMultipleDocuments(t *testing.T) {
	// A second document must not be ignored silently.
	src := zonesText + "---\nconduits: []\n"
	wantOnly(t, loadErrors(t, src), src, "19:1", "second YAML document", "one document")

	src = zonesText + "--- ~\n"
	wantOnly(t, loadErrors(t, src), src, "19:1", "second YAML document")

	// Markers that open or end the one document, or a trailing empty one, are fine.
	for _, src := range []string{"---\n" + zonesText, zonesText + "...\n", zonesText + "---\n", zonesText + "---\n# nothing more\n"} {
		mustLoad(t, src)
	}
}

func TestLoadMissingSections(t *testing.T) {
	zone := "zones: [{name: a, importance: low, interfaces: [e0], networks: [10.0.0.0/8]}]\n"
	tests := []struct {
		name, src, pos string
		phrases        []string
	}{
		{"version", "gateway: {name: gw}\n" + zone, "1:1", []string{"missing `version: 1`"}},
		{"gateway", "version: 1\n" + zone, "1:1", []string{"missing `gateway:` section"}},
		{"zones", "version: 1\ngateway: {name: gw}\n", "1:1", []string{"missing `zones:` list"}},
		{"at the first key", "# a comment first\n\nversion: 1\n" + zone, "3:1", []string{"missing `gateway:`"}},
		{"empty zones list", "version: 1\ngateway: {name: gw}\nzones: []\n", "1:1", []string{"the model has no zones"}},
		{"null zones", "version: 1\ngateway: {name: gw}\nzones:\n", "1:1", []string{"the model has no zones"}},
		{"gateway name", "version: 1\ngateway: {management: {zones: [a]}}\n" + zone, "2:10", []string{"gateway needs a `name:`"}},
		{"empty gateway name", "version: 1\ngateway: {name: \"\"}\n" + zone, "2:17", []string{"gateway needs a `name:`"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantOnly(t, loadErrors(t, tt.src), tt.src, tt.pos, tt.phrases...)
		})
	}

	t.Run("everything", func(t *testing.T) {
		src := "{}\n"
		ds := loadErrors(t, src)
		if len(ds) != 3 {
			t.Errorf("got %d diagnostics, want 3:\n%s", len(ds), explain(ds, src))
		}
		for _, p := range []string{"version", "gateway", "zones"} {
			wantDiag(t, ds, src, "1:1", "missing `"+p)
		}
	})
}

func TestLoadVersion(t *testing.T) {
	rest := "gateway: {name: gw}\nzones: [{name: a, importance: low, interfaces: [e0], networks: [10.0.0.0/8]}]\n"
	tests := []struct {
		version, pos string
		phrases      []string // nil: loads
	}{
		{"1", "", nil},
		{`"1"`, "", nil},
		{"2", "1:10", []string{"unsupported version 2", "write `version: 1`"}},
		{"0", "1:10", []string{"unsupported version 0"}},
		{"1.0", "1:10", []string{"version must be a whole number"}},
		{"one", "1:10", []string{"version must be a whole number", `"one"`}},
		{"[1]", "1:10", []string{"version must be a single value, not a list"}},
		{"", "1:9", []string{"version must be a single value, not an empty value"}},
	}
	for _, tt := range tests {
		t.Run(tt.version, func(t *testing.T) {
			src := "version: " + tt.version + "\n" + rest
			if tt.phrases == nil {
				if m := mustLoad(t, src); m.Version != 1 {
					t.Errorf("Version = %d", m.Version)
				}
				return
			}
			wantOnly(t, loadErrors(t, src), src, tt.pos, tt.phrases...)
		})
	}
}

func TestLoadUnknownKeys(t *testing.T) {
	tests := []struct {
		level, src, pos string
		phrases         []string
	}{
		{"top", zonesText + "conduit: []\n", "19:1",
			[]string{`unknown key "conduit" in the zone model`, `did you mean "conduits"?`}},
		{"top, no near miss", zonesText + "colour: red\n", "19:1",
			[]string{`unknown key "colour" in the zone model`, "known keys: version, gateway, zones, assets, conduits"}},
		{"gateway", replaceOnce(t, zonesText, "  name: gw\n", "  nmae: gw\n"), "3:3",
			[]string{`unknown key "nmae" in gateway`, `did you mean "name"?`}},
		{"management", replaceOnce(t, zonesText, "    zones: [maint]", "    zone: [maint]"), "5:5",
			[]string{`unknown key "zone" in gateway.management`, `did you mean "zones"?`}},
		{"zone", replaceOnce(t, zonesText, "    importance: high\n", "    importanse: high\n"), "12:5",
			[]string{`unknown key "importanse" in a zone`, `did you mean "importance"?`}},
		{"zone, no near miss", replaceOnce(t, zonesText, "    importance: high\n", "    importance: high\n    vlan: 20\n"), "13:5",
			[]string{`unknown key "vlan" in a zone`, "known keys: name, description, importance, interfaces, networks, security_level, owner"}},
		{"asset", replaceOnce(t, assetsText, "    address: 10.2.0.10", "    adress: 10.2.0.10"), "22:5",
			[]string{`unknown key "adress" in an asset`, `did you mean "address"?`}},
		{"conduit", conduitsText + "  - {name: c, from: office, to: control, service: [tcp/443]}\n", "27:42",
			[]string{`unknown key "service" in a conduit`, `did you mean "services"?`}},
		{"modbus block", conduitsText + `  - name: c
    from: maint
    to: control
    services: [tcp/502]
    inspect: modbus
    modbus:
      on-deny: reset
      allow: [{read: coils, addresses: 0-9}]
`, "33:7", []string{`unknown key "on-deny" in the modbus block`, `did you mean "on_deny"?`}},
		{"allow rule", conduitsText + `  - name: c
    from: maint
    to: control
    services: [tcp/502]
    inspect: modbus
    modbus:
      allow:
        - write: holding_registers
          addresses: 0-9
          value: 0-100
`, "36:11", []string{`unknown key "value" in a modbus allow rule`, `did you mean "values"?`}},
	}
	for _, tt := range tests {
		t.Run(tt.level, func(t *testing.T) {
			wantOnly(t, loadErrors(t, tt.src), tt.src, tt.pos, tt.phrases...)
		})
	}
}

func TestLoadRepeatedKeys(t *testing.T) {
	tests := []struct {
		name, src, pos string
		phrases        []string
	}{
		{"top", zonesText + "version: 1\n", "19:1", []string{`key "version" repeated in the zone model (first at line 1)`}},
		{"gateway", replaceOnce(t, zonesText, "  name: gw\n", "  name: gw\n  name: gw2\n"), "4:3", []string{`key "name" repeated in gateway (first at line 3)`}},
		{"zone, quoted", replaceOnce(t, zonesText, "    importance: low\n", "    importance: low\n    \"name\": other\n"), "9:5", []string{`key "name" repeated in a zone (first at line 7)`}},
		{"conduit", conduitsText + "  - {name: c, from: office, to: control, services: [tcp/1], services: [tcp/2]}\n", "27:61", []string{`key "services" repeated in a conduit`}},
		{"modbus rule", conduitsText + "  - {name: c, from: maint, to: control, services: [tcp/502], inspect: modbus, modbus: {allow: [{read: coils, read: coils, addresses: 1}]}}\n", "27:110", []string{`key "read" repeated in a modbus allow rule`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantOnly(t, loadErrors(t, tt.src), tt.src, tt.pos, tt.phrases...)
		})
	}
}

func TestLoadWrongKinds(t *testing.T) {
	modbusConduit := func(block string) string {
		return conduitsText + "  - name: c\n    from: maint\n    to: control\n    services: [tcp/502]\n    inspect: modbus\n    modbus: " + block + "\n"
	}
	tests := []struct {
		name, src, pos string
		phrases        []string
	}{
		{"root is a list", "- version: 1\n", "1:1", []string{"the zone model must be a mapping of `key: value` lines, not a list"}},
		{"root is a scalar", "zonegate\n", "1:1", []string{`the zone model must be a mapping`, `not the value "zonegate"`}},
		{"gateway is a list", replaceOnce(t, zonesText, "gateway:\n  name: gw\n  management:\n    zones: [maint]\n", "gateway: [gw]\n"), "2:10", []string{"gateway must be a mapping", "not a list"}},
		{"management is a list", replaceOnce(t, zonesText, "  management:\n    zones: [maint]\n", "  management: [maint]\n"), "4:15", []string{"gateway.management must be a mapping", "not a list"}},
		{"zones is a mapping", head + "  office: {importance: low}\n", "7:3", []string{"zones must be a list (lines starting with `- `), not a mapping"}},
		{"a zone is a scalar", head + "  - office\n", "7:5", []string{`a zone must be a mapping`, `not the value "office"`}},
		{"zone name is a list", replaceOnce(t, zonesText, "name: office", "name: [office]"), "7:11", []string{"zone name must be a single value, not a list"}},
		{"interfaces is a scalar", replaceOnce(t, zonesText, "[eth0]", "eth0"), "9:17", []string{"interfaces must be a list", `not the value "eth0"`}},
		{"nested interface list", replaceOnce(t, zonesText, "[eth0]", "[[eth0]]"), "9:18", []string{"each entry of interfaces must be a single value, not a list"}},
		{"networks is a mapping", replaceOnce(t, zonesText, "[10.1.0.0/16]", "{v4: 10.1.0.0/16}"), "10:15", []string{"networks must be a list", "not a mapping"}},
		{"empty importance", replaceOnce(t, zonesText, "importance: low", "importance:"), "8:16", []string{"importance must be a single value, not an empty value"}},
		{"assets is a scalar", zonesText + "assets: plc-1\n", "19:9", []string{"assets must be a list", `not the value "plc-1"`}},
		{"asset address is a list", replaceOnce(t, assetsText, "address: 10.2.0.10", "address: [10.2.0.10]"), "22:14", []string{"asset address must be a single value, not a list"}},
		{"conduits is a mapping", assetsText + "conduits: {c: {from: a}}\n", "26:11", []string{"conduits must be a list", "not a mapping"}},
		{"services is a scalar", conduitsText + "  - {name: c, from: office, to: control, services: tcp/443}\n", "27:52", []string{"services must be a list", `not the value "tcp/443"`}},
		{"modbus is a list", modbusConduit("[read]"), "32:13", []string{"the modbus block must be a mapping", "not a list"}},
		{"allow is a mapping", modbusConduit("{allow: {read: coils}}"), "32:21", []string{"allow must be a list", "not a mapping"}},
		{"allow rule is a scalar", modbusConduit("{allow: [read]}"), "32:22", []string{"a modbus allow rule must be a mapping", `not the value "read"`}},
		{"units is a mapping", modbusConduit("{units: {a: 1}, allow: [{read: coils, addresses: 1}]}"), "32:21", []string{"units must be a list", "not a mapping"}},
		{"addresses is a list", modbusConduit("{allow: [{read: coils, addresses: [1, 2]}]}"), "32:47", []string{"addresses must be a single value, not a list"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantOnly(t, loadErrors(t, tt.src), tt.src, tt.pos, tt.phrases...)
		})
	}
}

func TestLoadAliases(t *testing.T) {
	// Anchors and aliases are plain YAML and work anywhere.
	src := replaceOnce(t, zonesText, "    interfaces: [eth0]\n", "    interfaces: &office-ifs [eth0]\n")
	src = strings.Replace(src, "  - name: maint\n", "  - name: maint\n    description: &d shared\n", 1)
	m := mustLoad(t, src+"assets:\n  - {name: a, zone: maint, address: 10.3.0.1, description: *d}\n")
	if m.Asset("a").Description != "shared" {
		t.Errorf("alias not resolved: %+v", m.Asset("a"))
	}
	// An alias to a list where a name is expected is still a kind error. It
	// points at the aliased node (where the list is written), not at the alias.
	src = zonesText + "assets:\n  - {name: *office-ifs, zone: office, address: 10.1.0.1}\n"
	src = replaceOnce(t, src, "    interfaces: [eth0]\n", "    interfaces: &office-ifs [eth0]\n")
	wantOnly(t, loadErrors(t, src), src, "9:17", "asset name must be a single value, not a list")
}

func TestLoadReportsEveryProblem(t *testing.T) {
	// Independent load errors are all reported, top to bottom.
	src := replaceOnce(t, zonesText, "importance: low", "importance: critical")
	src = replaceOnce(t, src, "[10.3.0.0/16]", "[10.3.0.1/16]")
	src += "colour: red\n"
	ds := loadErrors(t, src)
	if len(ds) != 3 {
		t.Fatalf("got %d diagnostics, want 3:\n%s", len(ds), explain(ds, src))
	}
	wantDiag(t, ds, src, "8:17", `importance "critical"`)
	wantDiag(t, ds, src, "18:16", "host bits set")
	wantDiag(t, ds, src, "19:1", `unknown key "colour"`)
	if !regexp.MustCompile(`^test\.yaml:8:17: .*\ntest\.yaml:18:16: .*\ntest\.yaml:19:1: `).MatchString(ds.Error()) {
		t.Errorf("Error() = %q", ds.Error())
	}
}

// TestProtocolBlocksTakeNoConduitKey: a protocol whose name were one of a
// conduit's own keys would never have its block read.
func TestProtocolBlocksTakeNoConduitKey(t *testing.T) {
	for _, name := range registry.Names() {
		if slices.Contains(conduitKeys, name) {
			t.Errorf("protocol %q is named like a conduit's own key", name)
		}
	}
}
