package procstat

import (
	"testing"
	"time"
)

func TestCPUTimeGrowsWithWork(t *testing.T) {
	before := CPUTime(0)
	x := 0
	for i := 0; i < 50_000_000; i++ {
		x += i & 3
	}
	_ = x
	if after := CPUTime(0); after <= before {
		t.Fatalf("CPU time did not grow with work: %v then %v (is schedstat missing in /proc?)", before, after)
	}
}

func TestPercentile(t *testing.T) {
	d := []time.Duration{5, 1, 4, 2, 3}
	if got := Percentile(d, 0.5); got != 3 {
		t.Errorf("p50 of 1..5 = %v, want 3", got)
	}
	if got := Percentile(d, 0.99); got != 5 {
		t.Errorf("p99 of 1..5 = %v, want 5", got)
	}
	if d[0] != 5 {
		t.Error("Percentile sorted its argument")
	}
}
