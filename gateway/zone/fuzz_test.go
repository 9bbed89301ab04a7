package zone

import (
	"errors"
	"os"
	"testing"
)

// FuzzLoad checks that Load never panics and reports every problem as a
// Diagnostics with real positions; and that every model it accepts lints,
// and survives a round trip through its canonical form.
//
//	go test -run '^$' -fuzz FuzzLoad -fuzztime 1m ./gateway/zone/
func FuzzLoad(f *testing.F) {
	if example, err := os.ReadFile(examplePath); err == nil {
		f.Add(example)
	} else {
		f.Fatal(err)
	}
	for _, s := range []string{
		zonesText,
		assetsText,
		conduitsText + okConduit,
		conduitsText + modbusConduit,
		canonA,
		canonB,
		lintText + "  - {name: o-d, from: office, to: dmz, services: [tcp]}\n  - {name: d-c, from: dmz, to: control, services: [icmp]}\n",
		// broken models
		"",
		"---\n",
		"~\n",
		"- a\n",
		"{}\n",
		"version: 2\n",
		"version: 1\ngateway: *gw\n",
		"version: 1\ngateway:\n  name: [gw\n",
		"version: 1\n\tgateway: x\n",
		"version: 1\n---\nzones: [\n",
		"a: &a [*a]\n",
		"version: 1\ngateway: {name: gw}\nzones: [{name: a, importance: low, interfaces: [e0], networks: [10.0.0.1/8]}]\n",
		"version: 1\ngateway: {name: gw}\nzones: [{name: a, importance: low, interfaces: [e0], networks: [10.0.0.0/8]}, {name: a}]\n",
		"version: 1\ngateway: {name: gw}\nzones: [{name: a, importance: low, interfaces: [e0], networks: [10.0.0.0/8]}]\nconduits: [{name: c, from: a, to: b, services: [tcp/0, icmp/x]}]\n",
		conduitsText + "  - {name: c, from: maint, to: control, services: [tcp/502], inspect: modbus, modbus: {units: [1, 1, 256], max_rate: 0/s, allow: [{read: x}, {write: input_registers, addresses: 9-1}, {function: 3}]}}\n",
		"version: 1\ngateway: &g {name: gw}\nzones:\n  - &z {name: a, importance: low, interfaces: [e0], networks: [10.0.0.0/8]}\n  - *z\n",
		"version: 1\ngateway: {name: gw}\nzones: [{name: a, importance: !!binary aGk=, interfaces: [e0], networks: [\"::ffff:1.2.3.4/128\"]}]\n",
		"? [a]\n: b\n",
		"<<: {version: 1}\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		const name = "fuzz.yaml"
		m, err := Load(name, data)
		if err != nil {
			if m != nil {
				t.Fatalf("Load returned a model and an error")
			}
			var ds Diagnostics
			if !errors.As(err, &ds) {
				t.Fatalf("error is %T, not Diagnostics: %v", err, err)
			}
			if _, direct := err.(Diagnostics); !direct {
				t.Fatalf("error is %T, not Diagnostics itself", err)
			}
			if len(ds) == 0 {
				t.Fatalf("empty Diagnostics returned as an error")
			}
			for _, d := range ds {
				if d.File != name || d.Pos.Line < 1 || d.Pos.Column < 1 || d.Severity != SeverityError || d.Message == "" {
					t.Fatalf("bad diagnostic %#v", d)
				}
			}
			return
		}
		if m == nil {
			t.Fatalf("Load returned neither a model nor an error")
		}
		for _, d := range m.Lint() {
			if d.File != name || d.Pos.Line < 1 || d.Pos.Column < 1 || d.Severity != SeverityWarning || d.Rule == "" {
				t.Fatalf("bad lint diagnostic %#v", d)
			}
		}
		c := m.Canonical()
		m2, err := Load("canonical.yaml", c)
		if err != nil {
			t.Fatalf("the canonical form does not load: %v\n%s", err, c)
		}
		if m2.Digest() != m.Digest() {
			t.Fatalf("digest changed by a round trip through the canonical form:\n%s\n---\n%s", c, m2.Canonical())
		}
	})
}

func BenchmarkLoadExample(b *testing.B) {
	data, err := os.ReadFile(examplePath)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Load(examplePath, data); err != nil {
			b.Fatal(err)
		}
	}
}
