package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Goals of issue 20 (and the earlier ones of issue 3) on the reference
// machine. The benchmark reports them; it never fails because of a figure.
const (
	goalCPU64      = 1.05 // CPU per request over HAProxy's, 64 clients
	goalCPU16      = 1.15 // the same, 16 clients
	goalAPIRatio   = 3.0  // daemon's status p99 over the control's
	goalAPIP99     = 50 * time.Millisecond
	goalGCPause    = time.Millisecond // longest stop-the-world pause under load
	goalAddedP50   = 30 * time.Microsecond
	goalRSS        = 64 << 10 // KiB
	saturatedShare = 0.9      // daemon CPU use that counts as saturated
)

// verdict of one goal.
type verdict string

const (
	pass        verdict = "PASS"
	miss        verdict = "MISS"
	notMeasured verdict = "n/a"
)

func judge(ok bool) verdict {
	if ok {
		return pass
	}
	return miss
}

// goal is one row of the report's goal table.
type goal struct {
	issue    int
	what     string
	measured string
	verdict  verdict
}

// printGoals writes the goal table.
func printGoals(w io.Writer, goals []goal) {
	fmt.Fprintf(w, "\nGoals (reported only: the benchmark does not fail on a figure)\n\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "issue\tgoal\tmeasured\tverdict")
	misses := 0
	for _, g := range goals {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", g.issue, g.what, g.measured, g.verdict)
		if g.verdict == miss {
			misses++
		}
	}
	tw.Flush()
	if misses > 0 {
		fmt.Fprintf(w, "\n%d goal(s) missed on this machine; figures of a shared, noisy machine vary from run to run (compare the ratios, measured in the same run).\n", misses)
	}
}

// cpuGoals are issue 20's CPU-per-request goals of one throughput scenario.
func cpuGoals(tp *throughput, label string, targets []target) []goal {
	var out []goal
	for _, t := range targets {
		for _, g := range []struct {
			n     int
			bound float64
		}{{64, goalCPU64}, {16, goalCPU16}} {
			what := fmt.Sprintf("%s: %s CPU per request ≤ %.2f× HAProxy, %d clients", label, t.name, g.bound, g.n)
			if !tp.has(t.name, g.n) {
				out = append(out, goal{20, what, "not measured (add the count to -clients)", notMeasured})
				continue
			}
			z, h := tp.med[key(t.name, g.n)], tp.med[key("haproxy", g.n)]
			r := cpuRatio(z, h)
			out = append(out, goal{20, what, fmt.Sprintf("%.2f (%.1f / %.1f µs)", r, perReq(z.cpu, z.requests), perReq(h.cpu, h.requests)), judge(r <= g.bound)})
		}
	}
	return out
}

// apiGoals are issue 20's management API goals.
func apiGoals(rs []daemonResult) []goal {
	var out []goal
	for _, r := range rs {
		name := r.target.name
		if len(r.daemon.took) == 0 || len(r.control.took) == 0 {
			out = append(out, goal{20, "api: " + name + " status p99 under load", "no call answered", miss})
			continue
		}
		d, c := r.daemon.p99(), r.control.p99()
		ratio := float64(d) / float64(c)
		note := ""
		if r.cpuBusy < saturatedShare {
			note = fmt.Sprintf("; its CPU was busy only %.0f %% of the time: not saturated", 100*r.cpuBusy)
		}
		ok := ratio <= goalAPIRatio && len(r.daemon.errs) == 0
		out = append(out, goal{20, fmt.Sprintf("api: %s status p99 ≤ %.0f× the control's on the same CPU", name, goalAPIRatio),
			fmt.Sprintf("%.1f× (%s / %s)%s", ratio, ms(d), ms(c), note), judge(ok)})
		out = append(out, goal{20, fmt.Sprintf("api: %s status p99 ≤ %s", name, ms(goalAPIP99)), ms(d), judge(d <= goalAPIP99 && len(r.daemon.errs) == 0)})
	}
	return out
}

// gcGoal is issue 20's GC goal for the daemon, with the control's
// figures of the same CPU and load beside it.
func gcGoal(r daemonResult) goal {
	s := r.gc
	what := fmt.Sprintf("gc: %s serve longest stop-the-world pause under load < %s", r.target.name, ms(goalGCPause))
	if s.cycles == 0 {
		return goal{20, what, "no collection under load", notMeasured}
	}
	m := fmt.Sprintf("%s (p99 %s, %d collections)", ms(s.max()), ms(s.p99()), s.cycles)
	if c := r.controlG; c.cycles > 0 {
		m += fmt.Sprintf("; control %s (p99 %s)", ms(c.max()), ms(c.p99()))
	}
	return goal{20, what, m, judge(s.max() < goalGCPause)}
}

// churnGoals are issue 20's goals of the churn scenario.
func churnGoals(rs []churnResult) []goal {
	var out []goal
	for _, r := range rs {
		what := fmt.Sprintf("churn: %s threads and fds back to the level before %d short connections (after a warm-up)", r.target.name, r.conns)
		m := fmt.Sprintf("before %s, after %s", r.before, r.after)
		if r.failed > 0 {
			m += fmt.Sprintf("; %d connections failed", r.failed)
		}
		out = append(out, goal{20, what, m, judge(r.backToBaseline && r.failed == 0)})
	}
	return out
}

// issue3Goals are the earlier goals the cpu and memory scenarios measure.
func issue3Goals(tp *throughput, rss map[string]int, idle int, targets []target) []goal {
	var out []goal
	for _, t := range targets {
		if tp != nil {
			for _, n := range tp.cfg.counts {
				z, h := tp.med[key(t.name, n)], tp.med[key("haproxy", n)]
				out = append(out, goal{3, fmt.Sprintf("cpu: %s throughput ≥ HAProxy's, %d client(s)", t.name, n),
					fmt.Sprintf("%.2f (%.0f / %.0f req/s)", z.rps()/h.rps(), z.rps(), h.rps()), judge(z.rps() >= h.rps())})
			}
			n0 := tp.cfg.counts[0]
			z, d, h := tp.med[key(t.name, n0)], tp.med[key("direct", n0)], tp.med[key("haproxy", n0)]
			out = append(out, goal{3, fmt.Sprintf("cpu: %s p50 added over direct < %s, %d client(s)", t.name, us(goalAddedP50), n0), us(z.p50 - d.p50), judge(z.p50-d.p50 < goalAddedP50)})
			out = append(out, goal{3, fmt.Sprintf("cpu: %s p50 not above HAProxy's, %d client(s)", t.name, n0), fmt.Sprintf("%s / %s", us(z.p50), us(h.p50)), judge(z.p50 <= h.p50)})
		}
		if kib, ok := rss[t.name]; ok {
			out = append(out, goal{3, fmt.Sprintf("memory: %s RSS with %d open client connections < %d MiB", t.name, idle, goalRSS>>10), fmt.Sprintf("%.1f MiB", mib(kib)), judge(kib < goalRSS)})
		}
	}
	return out
}

// printDaemon writes the api scenario's table.
func printDaemon(w io.Writer, cfg daemonConfig, rs []daemonResult) {
	load := "load generator and server on CPU 0"
	if cfg.shared != "" {
		load = "load generator and server on CPUs " + cfg.shared + " (the daemon's too)"
	}
	fmt.Fprintf(w, "\nScenario api: `zonegate serve` pinned to CPU %s (GOMAXPROCS unset), %d clients loading its Modbus conduit (%s);\n", cfg.cpu, cfg.clients, load)
	fmt.Fprintf(w, "%d status calls each to its API and to a plain Go net/http server on the same CPU (the control), alternating, one new connection per call\n\n", cfg.calls)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "binary\tserver\tcalls\tp50\tp99\tmax\tfailed\t")
	for _, r := range rs {
		for _, s := range []struct {
			name string
			c    callStats
		}{{"daemon", r.daemon}, {"control", r.control}} {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%d\t\n", r.target.name, s.name, len(s.c.took), ms(s.c.p50()), ms(s.c.p99()), ms(s.c.max()), len(s.c.errs))
		}
	}
	tw.Flush()
	fmt.Fprintln(w)
	for _, r := range rs {
		procs := "?"
		if r.gc.maxProcs > 0 {
			procs = fmt.Sprint(r.gc.maxProcs)
		}
		fmt.Fprintf(w, "  %s: load %.0f req/s (p50 %s, p99 %s); CPU %s busy %.0f %% of the time, %.0f %% by the daemon (%.1f µs/req); daemon %d threads, GOMAXPROCS %s (GC trace)",
			r.target.name, r.load.rps(), us(r.load.p50), us(r.load.p99), cfg.cpu, 100*r.cpuBusy, 100*r.busy, perReq(r.load.cpu, r.load.requests), r.threads, procs)
		switch {
		case r.pushErr != nil:
			fmt.Fprintf(w, "; push under load FAILED after %s: %v", ms(r.push), r.pushErr)
		case r.push > 0:
			fmt.Fprintf(w, "; push under load %s", ms(r.push))
		}
		fmt.Fprintln(w)
		if cfg.verbose {
			fmt.Fprintf(w, "    daemon calls in order: %v\n    control calls in order: %v\n", r.daemon.took, r.control.took)
		}
		if n := len(r.gcCalls.took); n > 0 {
			fmt.Fprintf(w, "    then (gc) %d status calls back to back: p50 %s, p99 %s, max %s\n", n, ms(r.gcCalls.p50()), ms(r.gcCalls.p99()), ms(r.gcCalls.max()))
		}
		if r.loadErr != nil {
			fmt.Fprintf(w, "    load clients failed: %s\n", firstLine(r.loadErr))
		}
		for _, e := range slices.Concat(r.daemon.errs, r.control.errs, r.gcCalls.errs) {
			fmt.Fprintf(w, "    call failed: %v\n", e)
		}
	}
}

// gcRow is one process of the GC table.
type gcRow struct {
	process, scenario string
	s                 gcSummary
}

// printGC writes the gc table.
func printGC(w io.Writer, rows []gcRow) {
	fmt.Fprintf(w, "\nScenario gc: stop-the-world pauses under load (GODEBUG=gctrace=1: sweep termination and mark termination, wall clock; two per collection)\n\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "process\tscenario\tcollections\tGOMAXPROCS\tpause p50\tp99\tmax\t")
	for _, r := range rows {
		procs := "-"
		if r.s.maxProcs > 0 {
			procs = fmt.Sprint(r.s.maxProcs)
		}
		if r.s.cycles == 0 {
			fmt.Fprintf(tw, "%s\t%s\t0\t-\t-\t-\t-\t\n", r.process, r.scenario)
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t\n", r.process, r.scenario, r.s.cycles, procs, ms(r.s.p50()), ms(r.s.p99()), ms(r.s.max()))
	}
	tw.Flush()
}

// printChurn writes the churn table.
func printChurn(w io.Writer, cpus string, parallel int, rs []churnResult) {
	where := "any CPU"
	if cpus != "" {
		where = "CPU(s) " + cpus
	}
	fmt.Fprintf(w, "\nScenario churn: `zonegate modbus-proxy` on %s, short connections (one read each), %d at a time;\n", where, parallel)
	fmt.Fprintf(w, "threads and fds idle after the start (fresh), idle after a warm-up of 64 clients and %d short connections (before),\n", churnWarmup)
	fmt.Fprintf(w, "the most seen every 20 ms (during), and once back at the level before or %s after the last connection (after)\n\n", churnSettle)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "binary\tconnections\tconn/s\tfailed\tfresh\tbefore\tduring (most)\tafter\tafter, s\tfds back after, s\t")
	for _, r := range rs {
		back := "never"
		if r.fdsBack >= 0 {
			back = fmt.Sprintf("%.1f", r.fdsBack.Seconds())
		}
		fmt.Fprintf(tw, "%s\t%d\t%.0f\t%d\t%s\t%s\t%s\t%s\t%.1f\t%s\t\n", r.target.name, r.conns, r.rate(), r.failed, r.fresh, r.before, r.peak, r.after, r.settled.Seconds(), back)
	}
	tw.Flush()
	for _, r := range rs {
		if r.firstErr != nil {
			fmt.Fprintf(w, "  %s: first failure: %v\n", r.target.name, r.firstErr)
		}
	}
}

func firstLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}

func tail(s string) string {
	if len(s) > 2000 {
		return "…" + s[len(s)-2000:]
	}
	return s
}
