package main

import "testing"

const sampleStat = `cpu  2255 34 2290 22625563 6290 127 456 0 0 0
cpu0 1132 34 1441 11311718 3675 127 438 0 0 0
cpu1 1123 0 849 11313845 2615 0 18 7 0 0
intr 114930548 113199788 3 0 5 263 0 4 [... more]
`

func TestParseCPUTimes(t *testing.T) {
	got, err := parseCPUTimes(sampleStat, "1")
	if err != nil {
		t.Fatal(err)
	}
	// busy: user 1123 + nice 0 + system 849 + irq 0 + softirq 18 + steal 7;
	// idle 11313845 and iowait 2615 count only in the total.
	if want := (cpuTimes{busy: 1997, total: 1997 + 11313845 + 2615}); got != want {
		t.Errorf("cpu1: %+v, want %+v", got, want)
	}
	if _, err := parseCPUTimes(sampleStat, "7"); err == nil {
		t.Error("cpu7 is not in the sample, yet no error")
	}
	if _, err := parseCPUTimes("cpu0 1 2 x 4 5 6 7 8\n", "0"); err == nil {
		t.Error("a malformed line gives no error")
	}
}

func TestBusyShare(t *testing.T) {
	a := cpuTimes{busy: 100, total: 1000}
	if got := busyShare(a, cpuTimes{busy: 190, total: 1100}); got != 0.9 {
		t.Errorf("busy share %v, want 0.9", got)
	}
	if got := busyShare(a, a); got != 0 {
		t.Errorf("busy share over no time %v, want 0", got)
	}
}

func TestCPUCount(t *testing.T) {
	for in, want := range map[string]int{"1": 1, "1-3": 3, "0-1": 2} {
		if got := cpuCount(in); got != want {
			t.Errorf("cpuCount(%q) = %d, want %d", in, got, want)
		}
	}
}
