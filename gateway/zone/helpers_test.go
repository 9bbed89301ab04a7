package zone

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/zonegate/zonegate/protocols/modbus"
)

// The helpers below keep the tests to "load this YAML, expect that
// diagnostic". Positions are written "LINE:COLUMN", 1-based, as printed.

const testFile = "test.yaml"

// showDiags logs every expected diagnostic with a caret under its
// position: ZONE_TEST_SHOW=1 go test -v -run NAME ./gateway/zone/
var showDiags = os.Getenv("ZONE_TEST_SHOW") != ""

// head is the start of most test models: lines 1-6.
const head = `version: 1
gateway:
  name: gw
  management:
    zones: [maint]
zones:
`

// zonesText is a valid model with three zones; it ends on line 18.
const zonesText = head + `  - name: office
    importance: low
    interfaces: [eth0]
    networks: [10.1.0.0/16]
  - name: control
    importance: high
    interfaces: [eth1]
    networks: [10.2.0.0/16, "fd00:2::/64"]
  - name: maint
    importance: medium
    interfaces: [eth2]
    networks: [10.3.0.0/16]
`

// assetsText adds two assets (lines 19-25) to zonesText; further assets
// start on line 26.
const assetsText = zonesText + `assets:
  - name: plc-1
    zone: control
    address: 10.2.0.10
  - name: ws-1
    zone: office
    address: 10.1.0.10
`

// conduitsText opens the conduit list on line 26; conduits start on line 27.
const conduitsText = assetsText + "conduits:\n"

// load loads src under testFile and checks that any error is a well-formed
// Diagnostics.
func load(t testing.TB, src string) (*Model, Diagnostics) {
	t.Helper()
	m, err := Load(testFile, []byte(src))
	if err == nil {
		if m == nil {
			t.Fatalf("Load returned neither a model nor an error")
		}
		return m, nil
	}
	if m != nil {
		t.Errorf("Load returned a model together with an error")
	}
	var ds Diagnostics
	if !errors.As(err, &ds) {
		t.Fatalf("Load error is %T, not Diagnostics: %v", err, err)
	}
	checkWellFormed(t, ds, testFile, src)
	return nil, ds
}

// mustLoad loads src and fails the test on any error.
func mustLoad(t testing.TB, src string) *Model {
	t.Helper()
	m, ds := load(t, src)
	if ds != nil {
		t.Fatalf("Load failed:\n%s", explain(ds, src))
	}
	return m
}

// loadErrors loads src, expects it to fail and returns the diagnostics.
func loadErrors(t testing.TB, src string) Diagnostics {
	t.Helper()
	_, ds := load(t, src)
	if len(ds) == 0 {
		t.Fatalf("Load succeeded; want errors. Source:\n%s", numbered(src))
	}
	return ds
}

// checkWellFormed checks what every diagnostic must satisfy: the file name,
// a position inside the file, a message, sorted top to bottom.
func checkWellFormed(t testing.TB, ds Diagnostics, file, src string) {
	t.Helper()
	if len(ds) == 0 {
		t.Errorf("empty Diagnostics used as an error")
	}
	nlines := strings.Count(src, "\n") + 1
	for i, d := range ds {
		if d.File != file {
			t.Errorf("diagnostic %q: file %q, want %q", d, d.File, file)
		}
		if d.Pos.Line < 1 || d.Pos.Column < 1 {
			t.Errorf("diagnostic %q: position %d:%d is not 1-based", d, d.Pos.Line, d.Pos.Column)
		}
		if d.Pos.Line > nlines {
			t.Errorf("diagnostic %q: line %d is past the end of the file (%d lines)", d, d.Pos.Line, nlines)
		}
		if strings.TrimSpace(d.Message) == "" {
			t.Errorf("diagnostic %d has no message", i)
		}
		if i > 0 {
			p, q := ds[i-1].Pos, d.Pos
			if p.Line > q.Line || (p.Line == q.Line && p.Column > q.Column) {
				t.Errorf("diagnostics not sorted by position: %q before %q", ds[i-1], d)
			}
		}
	}
}

func posString(p Pos) string { return fmt.Sprintf("%d:%d", p.Line, p.Column) }

// wantOnly checks that ds is exactly one diagnostic, at pos, whose printed
// form contains every phrase.
func wantOnly(t testing.TB, ds Diagnostics, src, pos string, phrases ...string) {
	t.Helper()
	if len(ds) != 1 {
		t.Errorf("got %d diagnostics, want 1 at %s containing %q:\n%s", len(ds), pos, phrases, explain(ds, src))
		return
	}
	wantDiag(t, ds, src, pos, phrases...)
}

// wantDiag checks that one of ds is at pos and contains every phrase.
func wantDiag(t testing.TB, ds Diagnostics, src, pos string, phrases ...string) {
	t.Helper()
	if findDiag(ds, pos, phrases...) < 0 {
		t.Errorf("no diagnostic at %s containing %q; got:\n%s", pos, phrases, explain(ds, src))
	} else if showDiags {
		t.Logf("\n%s", explain(ds, src))
	}
}

// findDiag returns the index of the first diagnostic at pos (any position
// when pos is "") containing every phrase, or -1.
func findDiag(ds Diagnostics, pos string, phrases ...string) int {
next:
	for i, d := range ds {
		if pos != "" && posString(d.Pos) != pos {
			continue
		}
		s := d.String()
		for _, p := range phrases {
			if !strings.Contains(s, p) {
				continue next
			}
		}
		return i
	}
	return -1
}

// withRule returns the diagnostics of one lint rule.
func withRule(ds Diagnostics, rule string) Diagnostics {
	var out Diagnostics
	for _, d := range ds {
		if d.Rule == rule {
			out = append(out, d)
		}
	}
	return out
}

// explain prints diagnostics with the source line and a caret under the
// column, so a failing position is easy to see.
func explain(ds Diagnostics, src string) string {
	lines := strings.Split(src, "\n")
	var b strings.Builder
	for _, d := range ds {
		fmt.Fprintf(&b, "  %s\n", d)
		if l := d.Pos.Line; l >= 1 && l <= len(lines) {
			fmt.Fprintf(&b, "      | %s\n      | %s^\n", lines[l-1], strings.Repeat(" ", max(d.Pos.Column-1, 0)))
		}
	}
	if len(ds) == 0 {
		b.WriteString("  (none)\n")
	}
	return b.String()
}

func numbered(src string) string {
	var b strings.Builder
	for i, l := range strings.Split(src, "\n") {
		fmt.Fprintf(&b, "%3d | %s\n", i+1, l)
	}
	return b.String()
}

// replaceOnce replaces old, which must occur exactly once in s.
func replaceOnce(t testing.TB, s, old, new string) string {
	t.Helper()
	if n := strings.Count(s, old); n != 1 {
		t.Fatalf("%q occurs %d times in the source, want exactly once", old, n)
	}
	return strings.Replace(s, old, new, 1)
}

// modbusSpec returns the Modbus rules of a conduit with `inspect: modbus`.
func modbusSpec(c *Conduit) *modbus.Spec {
	spec, _ := c.Rules.(*modbus.Spec)
	return spec
}
