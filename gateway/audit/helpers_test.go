package audit

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// testOptions returns options for a log in a fresh temporary directory.
func testOptions(t testing.TB) Options {
	t.Helper()
	return Options{Dir: t.TempDir(), Gateway: "line3-gw", BootID: "00000000-0000-0000-0000-000000000001"}
}

func openLog(t testing.TB, o Options) *Log {
	t.Helper()
	l, err := Open(o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return l
}

func configRecord(i int) Record {
	return ConfigChange("admin", ActionSettingsChanged, "settings", ResultSuccess,
		fmt.Sprintf("sha256:%064d", i), fmt.Sprintf("sha256:%064d", i+1), fmt.Sprintf("syslog.address changed (%d)", i))
}

func dataRecord(i int) Record {
	return InspectedWrite(InspectedEvent{Protocol: "modbus", Source: "198.18.0.10:50122", Destination: "198.18.1.10:502", Conduit: "scada-to-plc",
		Details: map[string]string{"unit": "1", "function": "16", "addresses": "10-11", "values": fmt.Sprintf("%d,7", uint16(i))}})
}

func appendN(t testing.TB, l *Log, n int) []uint64 {
	t.Helper()
	seqs := make([]uint64, 0, n)
	for i := 0; i < n; i++ {
		seq, err := l.Append(context.Background(), configRecord(i))
		if err != nil {
			t.Fatalf("Append %d: %v", i, err)
		}
		seqs = append(seqs, seq)
	}
	return seqs
}

func mustClose(t testing.TB, l *Log) {
	t.Helper()
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

func verify(t testing.TB, dir string, o VerifyOptions) *Report {
	t.Helper()
	rep, err := Verify(dir, o)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	return rep
}

func requireIntact(t testing.TB, dir string) *Report {
	t.Helper()
	rep := verify(t, dir, VerifyOptions{})
	if !rep.Intact() {
		t.Fatalf("log in %s not intact:\n%s", dir, problems(rep))
	}
	return rep
}

func problems(rep *Report) string {
	var b strings.Builder
	for _, p := range rep.Problems {
		b.WriteString("  " + p.String() + "\n")
	}
	for _, w := range rep.Warnings {
		b.WriteString("  warning: " + w + "\n")
	}
	return b.String()
}

func readAll(t testing.TB, dir string, f Filter) []Entry {
	t.Helper()
	var out []Entry
	if err := Read(dir, f, func(e Entry) error { out = append(out, e); return nil }); err != nil {
		t.Fatalf("Read: %v", err)
	}
	return out
}

func countAction(es []Entry, a Action) int {
	n := 0
	for _, e := range es {
		if e.Action == a {
			n++
		}
	}
	return n
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// readDamaged is readAll for logs known to be damaged.
func readDamaged(t testing.TB, dir string) []Entry {
	t.Helper()
	var out []Entry
	err := Read(dir, Filter{}, func(e Entry) error { out = append(out, e); return nil })
	if !errors.Is(err, ErrDamaged) {
		t.Fatalf("Read of a damaged log: %v, want ErrDamaged", err)
	}
	return out
}
