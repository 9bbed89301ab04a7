package main

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"text/tabwriter"
	"time"
)

// The throughput scenarios (cpu, onecpu): for every concurrency, each
// path's time is cut into slices interleaved with the other paths', in an
// order that rotates from slice to slice and round to round, so that a
// slow spell of the machine falls on all paths alike; a proxy's CPU time
// is its threads' run time from schedstat.

// target is a zonegate binary under test: "zonegate" (-zonegate) or
// "baseline" (-zonegate-baseline).
type target struct{ name, bin string }

// path is one way from the clients to the server.
type path struct {
	name string
	dial dialFunc
	proc *proc // the proxy; nil for direct
}

func (p path) pid() int {
	if p.proc == nil {
		return 0
	}
	return p.proc.pid()
}

// throughputConfig says how to run one throughput scenario.
type throughputConfig struct {
	label          string // "cpu" or "onecpu"
	cpus           string // the proxies' taskset list; "" any
	counts         []int
	dur            time.Duration
	rounds, slices int
	goRelay        bool
	haproxy        string
	dir            string
	upstream       string
	verbose        bool
	// variants, when set, replace the paths through the proxies: the
	// first target's zonegate once per variant, with the variant's keys
	// in its conduit's modbus block (scenario share).
	variants []variant
}

// variant is a zonegate configuration measured as a path of its own.
type variant struct{ name, extra string }

// throughput is the outcome of one throughput scenario.
type throughput struct {
	cfg   throughputConfig
	paths []path
	all   map[string][]result // by key(path, clients), one per round
	med   map[string]result
	gc    map[string]gcSummary // Go proxies' collections under load, by path
}

func key(p string, n int) string { return p + "/" + strconv.Itoa(n) }

// runThroughput starts the proxies on cfg.cpus and measures every path.
func runThroughput(w io.Writer, cfg throughputConfig, targets []target) (*throughput, error) {
	tp := &throughput{cfg: cfg, all: map[string][]result{}, med: map[string]result{}, gc: map[string]gcSummary{}}
	tp.paths = []path{{name: "direct", dial: loopback(cfg.upstream)}}
	var procs []*proc
	defer func() {
		for _, p := range procs {
			p.stop()
		}
	}()
	add := func(p *proc, err error) error {
		if err != nil {
			return err
		}
		procs = append(procs, p)
		tp.paths = append(tp.paths, path{name: p.name, dial: loopback(p.addr), proc: p})
		return nil
	}
	for _, v := range cfg.variants {
		if err := add(startZonegateWith(v.name, targets[0].bin, cfg.cpus, cfg.dir, cfg.upstream, v.extra)); err != nil {
			return nil, err
		}
	}
	for _, t := range targets {
		if cfg.variants != nil {
			break
		}
		if err := add(startZonegate(t.name, t.bin, cfg.cpus, cfg.dir, cfg.upstream)); err != nil {
			return nil, err
		}
	}
	if cfg.variants == nil {
		if err := add(startHAProxy(cfg.haproxy, cfg.cpus, cfg.dir, cfg.upstream)); err != nil {
			return nil, err
		}
	}
	if cfg.goRelay && cfg.variants == nil {
		if err := add(startGoRelay(cfg.cpus, cfg.upstream)); err != nil {
			return nil, err
		}
	}

	for r := 0; r < cfg.rounds; r++ {
		for _, n := range cfg.counts {
			round := make([]result, len(tp.paths))
			self := make([]time.Duration, len(tp.paths))
			for s := 0; s < cfg.slices; s++ {
				for i := range tp.paths {
					j := (i + r + s) % len(tp.paths)
					p := tp.paths[j]
					selfBefore := selfCPU()
					var res result
					slice := func() (err error) {
						res, err = measure(p.name, p.dial, n, cfg.dur/time.Duration(cfg.slices), p.pid())
						return err
					}
					var err error
					if p.proc != nil {
						err = p.proc.underLoad(slice)
					} else {
						err = slice()
					}
					if err != nil {
						return nil, fmt.Errorf("%s, round %d: %w%s", cfg.label, r+1, err, outputs(procs))
					}
					self[j] += selfCPU() - selfBefore // includes connecting and warm-up
					round[j].add(res)
				}
			}
			for j, p := range tp.paths {
				res := round[j]
				tp.all[key(p.name, n)] = append(tp.all[key(p.name, n)], res)
				if cfg.verbose {
					fmt.Fprintf(w, "  %s round %d  %-8s %3d clients  %9.0f req/s  p50 %7s  p99 %7s  proxy cpu %5.1f µs/req  load+server cpu %5.1f µs/req\n",
						cfg.label, r+1, p.name, n, res.rps(), us(res.p50), us(res.p99), perReq(res.cpu, res.requests), perReq(self[j], res.requests))
				}
			}
		}
	}
	for _, n := range cfg.counts {
		for _, p := range tp.paths {
			tp.med[key(p.name, n)] = median(tp.all[key(p.name, n)])
		}
	}
	for _, p := range tp.paths {
		if p.proc != nil && p.name != "haproxy" {
			tp.gc[p.name] = p.proc.gcUnderLoad()
		}
	}
	return tp, nil
}

// outputs returns the tails of the processes' output, for an error.
func outputs(procs []*proc) string {
	s := ""
	for _, p := range procs {
		s += fmt.Sprintf("\n%s:\n%s", p.name, tail(p.output()))
	}
	return s
}

// proxies are the paths with a proxy process, in order.
func (tp *throughput) proxies() []path {
	var out []path
	for _, p := range tp.paths {
		if p.proc != nil {
			out = append(out, p)
		}
	}
	return out
}

// has reports whether the scenario measured path at n clients.
func (tp *throughput) has(name string, n int) bool {
	_, ok := tp.med[key(name, n)]
	return ok
}

// cpuRatio is path's median CPU per request over HAProxy's at n clients.
func (tp *throughput) cpuRatio(name string, n int) float64 {
	return cpuRatio(tp.med[key(name, n)], tp.med[key("haproxy", n)])
}

// printPaths writes the medians of every path at every client count.
func (tp *throughput) printPaths(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "clients\tpath\treq/s\tp50\tp99\tproxy CPU/req\t")
	for _, n := range tp.cfg.counts {
		for _, p := range tp.paths {
			m := tp.med[key(p.name, n)]
			cpu := "-"
			if p.proc != nil {
				cpu = fmt.Sprintf("%.1f µs", perReq(m.cpu, m.requests))
			}
			fmt.Fprintf(tw, "%d\t%s\t%.0f\t%s\t%s\t%s\t\n", n, p.name, m.rps(), us(m.p50), us(m.p99), cpu)
		}
	}
	tw.Flush()
}

// print writes the scenario's tables.
func (tp *throughput) print(w io.Writer, title string) {
	cfg := tp.cfg
	fmt.Fprintf(w, "\n%s\n(median of %d rounds of %s; FC 3 reads of 10 registers, one request outstanding per connection)\n\n", title, cfg.rounds, cfg.dur)
	tp.printPaths(w)

	fmt.Fprintf(w, "\nRatios to HAProxy and direct (medians; \"by round\" is the range of the CPU ratio within single rounds)\n\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "clients\tproxy\t/haproxy req/s\t/haproxy CPU per request\tby round\t/direct req/s\tp50 − direct p50\t")
	for _, n := range cfg.counts {
		d, h := tp.med[key("direct", n)], tp.med[key("haproxy", n)]
		for _, p := range tp.proxies() {
			m := tp.med[key(p.name, n)]
			lo, hi := roundRatios(tp.all[key(p.name, n)], tp.all[key("haproxy", n)])
			fmt.Fprintf(tw, "%d\t%s\t%.2f\t%.2f\t%.2f-%.2f\t%.2f\t%s\t\n", n, p.name, m.rps()/h.rps(), cpuRatio(m, h), lo, hi, m.rps()/d.rps(), us(m.p50-d.p50))
		}
	}
	tw.Flush()
	if tp.has("baseline", cfg.counts[0]) {
		fmt.Fprintf(w, "\nzonegate over baseline (medians):")
		for _, n := range cfg.counts {
			z, b := tp.med[key("zonegate", n)], tp.med[key("baseline", n)]
			fmt.Fprintf(w, "  %d clients: CPU per request %.2f, req/s %.2f;", n, cpuRatio(z, b), z.rps()/b.rps())
		}
		fmt.Fprintln(w)
	}
}

func median(rs []result) result {
	if len(rs) == 0 {
		return result{}
	}
	pick := func(less func(a, b result) int) result {
		s := slices.Clone(rs)
		slices.SortFunc(s, less)
		return s[len(s)/2]
	}
	m := pick(func(a, b result) int { return cmp.Compare(a.rps(), b.rps()) })
	m.p50 = pick(func(a, b result) int { return cmp.Compare(a.p50, b.p50) }).p50
	m.p99 = pick(func(a, b result) int { return cmp.Compare(a.p99, b.p99) }).p99
	cpus := make([]float64, len(rs))
	for i, r := range rs {
		cpus[i] = perReq(r.cpu, r.requests)
	}
	sort.Float64s(cpus)
	// Keep the median CPU per request with the median run's count.
	m.cpu = time.Duration(cpus[len(cpus)/2] * float64(m.requests) * float64(time.Microsecond))
	return m
}

// roundRatios returns the smallest and largest CPU-per-request ratio of
// z over h within one round.
func roundRatios(z, h []result) (lo, hi float64) {
	for i := range min(len(z), len(h)) {
		r := cpuRatio(z[i], h[i])
		if i == 0 || r < lo {
			lo = r
		}
		if i == 0 || r > hi {
			hi = r
		}
	}
	return lo, hi
}

// cpuRatio is z's CPU time per request over h's.
func cpuRatio(z, h result) float64 {
	if hc := perReq(h.cpu, h.requests); hc > 0 {
		return perReq(z.cpu, z.requests) / hc
	}
	return 0
}

func perReq(d time.Duration, n uint64) float64 {
	if n == 0 {
		return 0
	}
	return float64(d) / float64(time.Microsecond) / float64(n)
}

func us(d time.Duration) string { return fmt.Sprintf("%.1f µs", float64(d)/float64(time.Microsecond)) }
