package main

import (
	"regexp"
	"strconv"
	"strings"
	"time"
)

// gcCycle is one garbage collection as GODEBUG=gctrace=1 reports it on
// stderr:
//
//	gc 12 @3.456s 1%: 0.024+1.5+0.031 ms clock, 0.048+0.30/0.61/0+0.063 ms cpu, 4->4->0 MB, 4 MB goal, 0 MB stacks, 0 MB globals, 2 P
//
// The three wall-clock phases are sweep termination (stop-the-world),
// concurrent mark and mark termination (stop-the-world); the stop-the-world
// times include the wait until every P has stopped.
type gcCycle struct {
	n         int
	at        time.Duration // since the process started
	sweepTerm time.Duration // first stop-the-world phase
	markTerm  time.Duration // second stop-the-world phase
	procs     int           // GOMAXPROCS (Ps) at that cycle; 0: not in the line
	forced    bool          // runtime.GC or the periodic forced collection
}

// pauses returns the cycle's two stop-the-world pauses.
func (c gcCycle) pauses() [2]time.Duration { return [2]time.Duration{c.sweepTerm, c.markTerm} }

var (
	gcLineRE  = regexp.MustCompile(`^gc (\d+) @([0-9.]+)s [0-9]+%: ([0-9.]+)\+([0-9.]+)\+([0-9.]+) ms clock`)
	gcProcsRE = regexp.MustCompile(`, (\d+) P( \(forced\))?\s*$`)
)

// parseGCTrace returns the collections reported in text, a process's
// stderr with GODEBUG=gctrace=1. Other lines (the program's own log) are
// skipped, and so is a trace line that another write cut in two.
func parseGCTrace(text string) []gcCycle {
	var out []gcCycle
	for _, line := range strings.Split(text, "\n") {
		m := gcLineRE.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		n, err := strconv.Atoi(m[1])
		if err != nil {
			continue
		}
		at, err1 := strconv.ParseFloat(m[2], 64)
		st, err2 := parseMillis(m[3])
		mt, err3 := parseMillis(m[5])
		if err1 != nil || err2 != nil || err3 != nil {
			continue
		}
		c := gcCycle{n: n, at: time.Duration(at * float64(time.Second)), sweepTerm: st, markTerm: mt}
		if p := gcProcsRE.FindStringSubmatch(line); p != nil {
			c.procs, _ = strconv.Atoi(p[1])
			c.forced = p[2] != ""
		}
		out = append(out, c)
	}
	return out
}

func parseMillis(s string) (time.Duration, error) {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, err
	}
	return time.Duration(v * float64(time.Millisecond)), nil
}

// gcSummary sums up the collections of one process under load.
type gcSummary struct {
	cycles   int
	pauses   []time.Duration // two per cycle
	procs    int             // Ps of the last cycle (0: unknown)
	maxProcs int             // the most Ps seen
}

func summarizeGC(cs []gcCycle) gcSummary {
	s := gcSummary{cycles: len(cs)}
	for _, c := range cs {
		p := c.pauses()
		s.pauses = append(s.pauses, p[0], p[1])
		if c.procs > 0 {
			s.procs = c.procs
			s.maxProcs = max(s.maxProcs, c.procs)
		}
	}
	return s
}

func (s gcSummary) p50() time.Duration { return percentile(s.pauses, 0.50) }
func (s gcSummary) p99() time.Duration { return percentile(s.pauses, 0.99) }
func (s gcSummary) max() time.Duration { return longest(s.pauses) }
