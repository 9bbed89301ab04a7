package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/zonegate/zonegate/firewall"
	"github.com/zonegate/zonegate/gateway/zone"
	"github.com/zonegate/zonegate/test/lab"
)

// TestLabTenZonesProbeInSeconds builds a generated ten-zone lab and checks
// that probing all of it (several hundred cases, most of them drops that
// cost a full timeout) takes seconds, because cases run in parallel.
func TestLabTenZonesProbeInSeconds(t *testing.T) {
	requireNetns(t)
	text, err := lab.ScaleModel(10)
	if err != nil {
		t.Fatal(err)
	}
	m, err := zone.Load("scale-10.yaml", text)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	l := upLab(t, m, "zlt5")
	upTime := time.Since(start)
	if _, err := firewall.Apply(gatewayTarget(t, l), firewall.Compile(m, firewall.Options{})); err != nil {
		t.Fatalf("apply: %v", err)
	}
	cases := l.Cases()
	start = time.Now()
	results, err := l.Probe(context.Background(), cases, lab.ProbeOptions{})
	probeTime := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	s := lab.Summarize(results, probeTime)
	for _, r := range results {
		if r.Mismatch() {
			row := r.Row()
			t.Errorf("%s -> %s %s %s: expected %s, got %s (%s) %s", row.From, row.To, row.Service, row.Family, row.Expected, row.Actual, row.Why, row.Note)
		}
	}
	t.Logf("10 zones, %d namespaces: up in %s; probe of %d cases in %s (%s)", len(l.NamespaceNames()), upTime.Round(time.Millisecond),
		len(cases), probeTime.Round(time.Millisecond), s)
	if s.Cases < 300 {
		t.Errorf("only %d cases for ten zones: the case generator lost coverage", s.Cases)
	}
	// Default timeout 1s: sequentially this would take minutes.
	if probeTime > 15*time.Second {
		t.Errorf("probing ten zones took %s, want seconds", probeTime)
	}
}
