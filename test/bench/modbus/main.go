// Command modbus is the load benchmark of zonegate's Modbus/TCP proxy
// (`make bench-modbus`, or `go run ./test/bench/modbus` from the module
// root).
//
// On loopback it starts a minimal, fast Modbus/TCP server (FC 3 reads of
// 10 registers), then for 1, 16 and 64 concurrent clients, each keeping
// one connection and doing FC 3 reads back to back (one request
// outstanding, no pipelining, preallocated buffers) for a fixed time, it
// measures three paths in one run:
//
//   - direct: client to server;
//   - zonegate: through `zonegate modbus-proxy` (explicit mode, the real
//     binary, with a policy that allows the read);
//   - haproxy: through HAProxy in TCP mode (no inspection);
//   - go-relay (with --gorelay): through a plain Go TCP relay in its own
//     process, which tells what any Go proxy pays before inspecting.
//
// Each round runs every path at every concurrency, each path's time cut
// into slices (-slices) interleaved with the other paths' in an order that
// rotates from slice to slice and round to round, so that a slow spell of
// the machine falls on all paths alike; a proxy's CPU time is its threads'
// run time from schedstat. The report gives the median over rounds of
// requests per second, p50 and p99 latency, and the proxies' CPU time per
// request, then the ratios (zonegate/haproxy throughput and CPU per
// request, zonegate p50 − direct p50). Finally it measures the resident set size (VmRSS) of a
// fresh zonegate proxy idle, with 1,000 open idle client connections,
// and with those connections after one request each (the proxy then also
// holds 1,000 upstream connections), with HAProxy alongside.
//
// Clients connect from several loopback source addresses (16 per
// address) because zonegate admits at most 32 connections per source
// address by default. The load generator and the server share this
// process; on a small machine all three compete for the same CPUs, so
// read the absolute numbers as this machine's, and compare paths within
// one run.
package main

import (
	"cmp"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Goals of issue 3 on the reference machine.
const (
	goalAddedP50 = 30 * time.Microsecond
	goalRSS      = 64 << 10 // KiB
)

func main() {
	if spec := os.Getenv(relayEnv); spec != "" {
		os.Exit(runRelay(spec))
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// path is one way from the clients to the server.
type path struct {
	name string
	addr string
	pid  int // proxy process, 0 for direct
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench-modbus", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dur := fs.Duration("duration", 2*time.Second, "measuring time of one path at one concurrency")
	rounds := fs.Int("rounds", 3, "rounds over all paths and concurrencies; the report gives medians")
	slices := fs.Int("slices", 4, "slices of a path's time in a round, interleaved with the other paths' slices")
	clientList := fs.String("clients", "1,16,64", "concurrent client connections, comma-separated")
	idle := fs.Int("idle-conns", 1000, "open idle client connections for the memory measurement")
	zonegate := fs.String("zonegate", "", "zonegate binary; empty: go build ./cmd/zonegate into a temporary directory")
	haproxy := fs.String("haproxy", "haproxy", "HAProxy binary")
	verbose := fs.Bool("v", false, "print every measurement, not only the medians")
	goRelay := fs.Bool("gorelay", false, "also measure a plain Go TCP relay in its own process (path go-relay): what any Go proxy costs before inspection")
	pin := fs.Bool("pin", false, "run the load generator and server on CPU 0 and the proxies on the other CPUs (needs taskset and 2+ CPUs), so they do not compete")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *pin {
		if err := pinSelf(args); err != nil {
			fmt.Fprintf(stderr, "bench-modbus: --pin: %v\n", err)
			return 1
		}
	}
	var counts []int
	for _, f := range strings.Split(*clientList, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			fmt.Fprintf(stderr, "bench-modbus: --clients %q: want positive numbers such as 1,16,64\n", *clientList)
			return 2
		}
		counts = append(counts, n)
	}
	if *slices < 1 || *rounds < 1 {
		fmt.Fprintf(stderr, "bench-modbus: --rounds and --slices must be at least 1\n")
		return 2
	}
	if err := bench(stdout, *dur, *rounds, *slices, counts, *idle, *zonegate, *haproxy, *goRelay, *verbose); err != nil {
		fmt.Fprintf(stderr, "bench-modbus: %v\n", err)
		return 1
	}
	return 0
}

func bench(w io.Writer, dur time.Duration, rounds, slices int, counts []int, idle int, zgBin, hpBin string, goRelay, verbose bool) error {
	if _, err := exec.LookPath(hpBin); err != nil {
		return fmt.Errorf("HAProxy (%s) is not installed: `make deps` installs it (apt-get install haproxy)", hpBin)
	}
	dir, err := os.MkdirTemp("", "bench-modbus-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if zgBin == "" {
		if zgBin, err = buildZonegate(dir); err != nil {
			return err
		}
	}
	header(w, zgBin, hpBin, dur, rounds, slices, counts)

	srv, err := startFastServer("127.0.0.1:0")
	if err != nil {
		return err
	}
	defer srv.close()
	zg, err := startZonegate(zgBin, dir, srv.addr())
	if err != nil {
		return err
	}
	defer zg.stop()
	hp, err := startHAProxy(hpBin, dir, srv.addr())
	if err != nil {
		return err
	}
	defer hp.stop()
	paths := []path{{"direct", srv.addr(), 0}, {"zonegate", zg.addr, zg.pid()}, {"haproxy", hp.addr, hp.pid()}}
	if goRelay {
		gr, err := startGoRelay(srv.addr())
		if err != nil {
			return err
		}
		defer gr.stop()
		paths = append(paths, path{"go-relay", gr.addr, gr.pid()})
	}

	all := map[string][]result{} // by path/clients
	key := func(p string, n int) string { return p + "/" + strconv.Itoa(n) }
	for r := 0; r < rounds; r++ {
		for _, n := range counts {
			// Each path's time is cut into slices interleaved with the
			// other paths', in an order that rotates from slice to slice: a
			// disturbance of the machine that lasts a second or two (seen
			// on the proxies' CPU of a shared VM) falls on all paths alike.
			round := make([]result, len(paths))
			self := make([]time.Duration, len(paths))
			for s := 0; s < slices; s++ {
				for i := range paths {
					j := (i + r + s) % len(paths)
					p := paths[j]
					selfBefore := selfCPU()
					res, err := measure(p.name, p.addr, n, dur/time.Duration(slices), p.pid)
					if err != nil {
						return fmt.Errorf("round %d: %w\nzonegate:\n%s\nhaproxy:\n%s", r+1, err, tail(zg.output()), tail(hp.output()))
					}
					self[j] += selfCPU() - selfBefore // includes connecting and warm-up
					round[j].add(res)
				}
			}
			for j, p := range paths {
				res := round[j]
				all[key(p.name, n)] = append(all[key(p.name, n)], res)
				if verbose {
					fmt.Fprintf(w, "  round %d  %-8s %3d clients  %9.0f req/s  p50 %7s  p99 %7s  proxy cpu %5.1f µs/req  load+server cpu %5.1f µs/req\n",
						r+1, p.name, n, res.rps(), us(res.p50), us(res.p99), perReq(res.cpu, res.requests), perReq(self[j], res.requests))
				}
			}
		}
	}

	fmt.Fprintf(w, "\nThroughput and latency (median of %d rounds of %s; FC 3 reads of 10 registers, one request outstanding per connection)\n\n", rounds, dur)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "clients\tpath\treq/s\tp50\tp99\tproxy CPU/req\t")
	med := map[string]result{}
	for _, n := range counts {
		for _, p := range paths {
			m := median(all[key(p.name, n)])
			med[key(p.name, n)] = m
			cpu := "-"
			if p.pid != 0 {
				cpu = fmt.Sprintf("%.1f µs", perReq(m.cpu, m.requests))
			}
			fmt.Fprintf(tw, "%d\t%s\t%.0f\t%s\t%s\t%s\t\n", n, p.name, m.rps(), us(m.p50), us(m.p99), cpu)
		}
	}
	tw.Flush()

	fmt.Fprintf(w, "\nRatios (medians)\n\n")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	relayCols := ""
	if goRelay {
		relayCols = "zonegate/go-relay req/s\tgo-relay p50 − direct p50\t"
	}
	fmt.Fprintln(tw, "clients\tzonegate/haproxy req/s\tzonegate/haproxy CPU per request\tCPU ratio by round (min-max)\tzonegate/direct req/s\tzonegate p50 − direct p50\thaproxy p50 − direct p50\t"+relayCols)
	for _, n := range counts {
		d, z, h := med[key("direct", n)], med[key("zonegate", n)], med[key("haproxy", n)]
		lo, hi := roundRatios(all[key("zonegate", n)], all[key("haproxy", n)])
		fmt.Fprintf(tw, "%d\t%.2f\t%.2f\t%.2f-%.2f\t%.2f\t%s\t%s\t", n, z.rps()/h.rps(), cpuRatio(z, h), lo, hi, z.rps()/d.rps(), us(z.p50-d.p50), us(h.p50-d.p50))
		if goRelay {
			g := med[key("go-relay", n)]
			fmt.Fprintf(tw, "%.2f\t%s\t", z.rps()/g.rps(), us(g.p50-d.p50))
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()

	// Memory: fresh processes, so earlier load does not inflate them.
	zg.stop()
	hp.stop()
	zgRSS, err := memory(w, "zonegate", func() (*proc, error) { return startZonegate(zgBin, dir, srv.addr()) }, idle)
	if err != nil {
		return err
	}
	if _, err := memory(w, "haproxy", func() (*proc, error) { return startHAProxy(hpBin, dir, srv.addr()) }, idle); err != nil {
		return err
	}

	fmt.Fprintf(w, "\nGoals\n\n")
	ok := true
	check := func(pass bool, format string, a ...any) {
		verdict := "met"
		if !pass {
			verdict, ok = "NOT met", false
		}
		fmt.Fprintf(w, "  %-7s %s\n", verdict, fmt.Sprintf(format, a...))
	}
	for _, n := range counts {
		z, h := med[key("zonegate", n)], med[key("haproxy", n)]
		check(z.rps() >= h.rps(), "%d client(s): zonegate throughput %.0f req/s >= HAProxy %.0f req/s (ratio %.2f)", n, z.rps(), h.rps(), z.rps()/h.rps())
		if n > 1 {
			check(cpuRatio(z, h) <= 1, "%d clients: zonegate CPU per request %.1f µs <= HAProxy %.1f µs, with full inspection (ratio %.2f)",
				n, perReq(z.cpu, z.requests), perReq(h.cpu, h.requests), cpuRatio(z, h))
		}
	}
	n0 := counts[0]
	added := med[key("zonegate", n0)].p50 - med[key("direct", n0)].p50
	check(added < goalAddedP50, "%d client(s): p50 added over direct %s < %s", n0, us(added), us(goalAddedP50))
	zp50, hp50 := med[key("zonegate", n0)].p50, med[key("haproxy", n0)].p50
	check(zp50 <= hp50, "%d client(s): zonegate p50 %s not above HAProxy's %s", n0, us(zp50), us(hp50))
	check(zgRSS < goalRSS, "RSS with %d open client connections %.1f MiB < %d MiB", idle, float64(zgRSS)/1024, goalRSS>>10)
	if !ok {
		fmt.Fprintf(w, "\nSome goals are not met on this machine (see above); numbers from a shared, noisy machine vary from run to run.\n")
	}
	return nil
}

// memory starts a fresh proxy, reads its RSS idle, with n idle client
// connections, and after one request on each of them; it returns the RSS
// with the idle connections (the goal) in KiB.
func memory(w io.Writer, name string, startProc func() (*proc, error), n int) (int, error) {
	p, err := startProc()
	if err != nil {
		return 0, err
	}
	defer p.stop()
	settle := func() (int, error) {
		time.Sleep(500 * time.Millisecond)
		return rssKiB(p.pid())
	}
	// Warm up with a short load, so "idle" is a proxy that has served.
	if _, err := measure(name, p.addr, 4, 200*time.Millisecond, 0); err != nil {
		return 0, err
	}
	idle, err := settle()
	if err != nil {
		return 0, err
	}
	conns, err := idleConns(p.addr, n, nil, false)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	if err != nil {
		return 0, err
	}
	open, err := settle()
	if err != nil {
		return 0, err
	}
	conns, err = idleConns(p.addr, n, conns, true)
	if err != nil {
		return 0, err
	}
	used, err := settle()
	if err != nil {
		return 0, err
	}
	if name == "zonegate" {
		fmt.Fprintf(w, "\nMemory (VmRSS of a fresh process, after a short warm-up load)\n\n")
	}
	fmt.Fprintf(w, "  %-8s idle %6.1f MiB | %d idle client conns %6.1f MiB (+%.1f KiB/conn) | after one request each (upstream conns open too) %6.1f MiB (+%.1f KiB/conn)\n",
		name, mib(idle), n, mib(open), float64(open-idle)/float64(n), mib(used), float64(used-idle)/float64(n))
	return max(open, used), nil
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
	m.p50 = pick(func(a, b result) int { return int(a.p50 - b.p50) }).p50
	m.p99 = pick(func(a, b result) int { return int(a.p99 - b.p99) }).p99
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
// zonegate over HAProxy within one round.
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

// cpuRatio is zonegate's CPU time per request over HAProxy's.
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

func mib(kib int) float64 { return float64(kib) / 1024 }

func tail(s string) string {
	if len(s) > 2000 {
		return "…" + s[len(s)-2000:]
	}
	return s
}

// header prints what the run measures and on what.
func header(w io.Writer, zgBin, hpBin string, dur time.Duration, rounds, slices int, counts []int) {
	zv, _ := exec.Command(zgBin, "version").Output()
	hv, _ := exec.Command(hpBin, "-v").Output()
	hvLine, _, _ := strings.Cut(string(hv), "\n")
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	load, _ := os.ReadFile("/proc/loadavg")
	fmt.Fprintf(w, "bench-modbus: %d CPU(s) for this process, Linux %s, %s, load average %s\n", runtime.NumCPU(), strings.TrimSpace(string(kernel)), runtime.Version(), strings.Join(strings.Fields(string(load))[:3], " "))
	fmt.Fprintf(w, "  %s", zv)
	fmt.Fprintf(w, "  %s\n", hvLine)
	fmt.Fprintf(w, "  %d round(s) × clients %v × paths direct, zonegate, haproxy × %s each, in %d interleaved slices\n", rounds, counts, dur, slices)
	if proxyCPUs != "" {
		fmt.Fprintf(w, "  pinned: load generator and server on CPU 0, proxies on CPU(s) %s\n", proxyCPUs)
	}
}
