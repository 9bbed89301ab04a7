package zone

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// TestAliasBombIsRefused: nested aliases multiply the work of reading a
// model; the loader stops following them after a bound instead of
// spending minutes (the daemon reads pushed models under its change lock).
func TestAliasBombIsRefused(t *testing.T) {
	// 400 aliases of a conduit whose allow list holds 40 aliases of one
	// rule: 16,000 alias uses, and each level more multiplies them.
	var c strings.Builder
	c.WriteString("version: 1\ngateway: {name: g}\nzones:\n" +
		"  - {name: a, importance: low, interfaces: [e0], networks: [198.18.0.0/24]}\n" +
		"  - {name: b, importance: low, interfaces: [e1], networks: [198.18.1.0/24]}\n")
	c.WriteString("conduits:\n  - &c1 {name: c, from: a, to: b, services: [tcp/502], inspect: modbus, modbus: {allow: [" +
		"&r {read: coils, addresses: 0-1}" + strings.Repeat(", *r", 39) + "]}}\n")
	for i := 0; i < 400; i++ {
		c.WriteString("  - *c1\n")
	}
	_, err := Load("bomb.yaml", []byte(c.String()))
	var ds Diagnostics
	if !errors.As(err, &ds) {
		t.Fatalf("error %v, want diagnostics", err)
	}
	if !strings.Contains(ds.Error(), "uses of YAML aliases") {
		t.Errorf("the alias bound was not reported:\n%s", firstLines(ds.Error(), 5))
	}
}

func TestDiagnosticsAreCapped(t *testing.T) {
	var b strings.Builder
	b.WriteString("version: 1\ngateway: {name: g}\nzones:\n")
	for i := 0; i < 1000; i++ {
		fmt.Fprintf(&b, "  - {name: Bad_%d, importance: low, interfaces: [e%d], networks: [198.18.%d.0/24]}\n", i, i, i%256)
	}
	_, err := Load("many.yaml", []byte(b.String()))
	var ds Diagnostics
	if !errors.As(err, &ds) {
		t.Fatalf("error %v, want diagnostics", err)
	}
	if len(ds) != maxDiagnostics+1 || !strings.Contains(ds[len(ds)-1].Message, "more problem(s) not shown") {
		t.Fatalf("%d diagnostics, last %q; want %d and a summary line", len(ds), ds[len(ds)-1].Message, maxDiagnostics+1)
	}
}

func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "\n")
}
