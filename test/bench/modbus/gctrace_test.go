package main

import (
	"testing"
	"time"
)

// A daemon's stderr as it looks with GODEBUG=gctrace=1: trace lines
// between JSON log lines, a forced collection, a line another write cut in
// two, and a line of an older format without the P count.
const sampleTrace = `{"level":"info","msg":"zonegate starting"}
gc 1 @0.012s 2%: 0.011+1.2+0.003 ms clock, 0.022+0.10/0.31/0.55+0.007 ms cpu, 4->4->0 MB, 4 MB goal, 0 MB stacks, 0 MB globals, 2 P
{"level":"info","msg":"zone model applied"}
gc 2 @3.456s 1%: 8.5+4.3+11 ms clock, 17+0.30/0.61/0+22 ms cpu, 5->6->3 MB, 6 MB goal, 0 MB stacks, 0 MB globals, 4 P
gc 3 @4.100s 1%: 0.040+{"level":"warn","msg":"cut"}
gc 4 @120.5s 0%: 0.25+4.3+0.004 ms clock, 0.50+0/0.12/0+0.008 ms cpu, 2->2->0 MB, 6 MB goal, 0 MB stacks, 0 MB globals, 1 P (forced)
gc 5 @121.000s 0%: 0.1+2+0.2 ms clock, 0.1+0/0/0+0.2 ms cpu, 2->2->0 MB, 4 MB goal, 1 P
gc 6 @122.000s 0%: 0.3+1+0.1 ms clock, 0.3+0/0/0+0.1 ms cpu, 4->4->0 MB, 4 MB goal
`

func TestParseGCTrace(t *testing.T) {
	got := parseGCTrace(sampleTrace)
	want := []gcCycle{
		{n: 1, at: 12 * time.Millisecond, sweepTerm: 11 * time.Microsecond, markTerm: 3 * time.Microsecond, procs: 2},
		{n: 2, at: 3456 * time.Millisecond, sweepTerm: 8500 * time.Microsecond, markTerm: 11 * time.Millisecond, procs: 4},
		{n: 4, at: 120500 * time.Millisecond, sweepTerm: 250 * time.Microsecond, markTerm: 4 * time.Microsecond, procs: 1, forced: true},
		{n: 5, at: 121 * time.Second, sweepTerm: 100 * time.Microsecond, markTerm: 200 * time.Microsecond, procs: 1},
		{n: 6, at: 122 * time.Second, sweepTerm: 300 * time.Microsecond, markTerm: 100 * time.Microsecond},
	}
	if len(got) != len(want) {
		t.Fatalf("parsed %d cycles, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("cycle %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestSummarizeGC(t *testing.T) {
	s := summarizeGC(parseGCTrace(sampleTrace))
	if s.cycles != 5 || len(s.pauses) != 10 {
		t.Fatalf("summary has %d cycles and %d pauses, want 5 and 10", s.cycles, len(s.pauses))
	}
	if s.max() != 11*time.Millisecond {
		t.Errorf("longest pause %v, want 11ms (mark termination of gc 2)", s.max())
	}
	// Sorted pauses: 3µs 4µs 11µs 100µs 100µs 200µs 250µs 300µs 8.5ms 11ms;
	// p99 at position 8.91 lies between 8.5 and 11 ms.
	if want := 8500*time.Microsecond + time.Duration(0.91*float64(2500*time.Microsecond)); s.p99() != want {
		t.Errorf("p99 %v, want %v", s.p99(), want)
	}
	if s.maxProcs != 4 || s.procs != 1 {
		t.Errorf("Ps: last %d, most %d; want 1 and 4", s.procs, s.maxProcs)
	}
	if e := summarizeGC(nil); e.cycles != 0 || e.max() != 0 || e.p99() != 0 {
		t.Errorf("summary of no cycle: %+v", e)
	}
}
