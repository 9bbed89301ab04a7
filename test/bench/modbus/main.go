// Command modbus is the load benchmark of zonegate's Modbus/TCP proxy
// (`make bench-modbus`, or `go run ./test/bench/modbus` from the module
// root). It measures any zonegate binary (-zonegate) and, side by side in
// the same run, a second one (-zonegate-baseline), against HAProxy and
// against controls measured in the same run, in these scenarios
// (-scenario, default all):
//
//   - cpu: a fast Modbus/TCP server on loopback (FC 3 reads of 10
//     registers) read directly, through `zonegate modbus-proxy` (explicit
//     mode, full inspection), through HAProxy in TCP mode (no inspection)
//     and through a plain Go TCP relay in its own process (-gorelay), by 1,
//     16 and 64 clients, each keeping one connection with one request
//     outstanding. Every path's time is cut into slices interleaved with
//     the other paths' (see throughput.go). Requests per second, p50, p99
//     and each proxy's CPU time per request (schedstat), as medians over
//     rounds and as ratios.
//   - onecpu: the same at 16 and 64 clients with every proxy limited to
//     one CPU (taskset) and GOMAXPROCS unset, HAProxy with one thread.
//   - api: `zonegate serve` in a namespace lab, pinned to one CPU, its
//     inspected conduit saturated; the latency of status calls over its
//     API against a plain Go HTTP server on the same CPU, and one push
//     (daemon.go).
//   - gc: the stop-the-world pauses of the Go processes under load, from
//     GODEBUG=gctrace=1 (the daemon of the api scenario, the proxies and
//     the Go relay of cpu and onecpu).
//   - share: 64 clients through zonegate sharing one device connection
//     against one device connection per client (share.go).
//   - churn: threads and file descriptors of the proxy before, during and
//     after 20,000 short connections (churn.go).
//   - memory: the proxy's resident set size with 1,000 idle connections.
//
// Then it prints the goals of issue 20 (and issue 3) next to the figures,
// PASS or MISS each; the run does not fail because of a figure.
//
// With -pin (the default) the load generator and the server run on CPU 0
// and the processes under test on the others; the one-CPU scenarios use
// the last CPU. Clients connect from several loopback source addresses
// (16 per address) because zonegate admits at most 32 connections per
// source address. Read the absolute numbers as this machine's, and
// compare within one run.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

func main() {
	if spec := os.Getenv(relayEnv); spec != "" {
		os.Exit(runRelay(spec))
	}
	if spec := os.Getenv(controlEnv); spec != "" {
		os.Exit(runControl(spec))
	}
	if spec := os.Getenv(callerEnv); spec != "" {
		os.Exit(runCaller(spec))
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// scenarios lists the scenario names in the order they run.
var scenarios = []string{"cpu", "onecpu", "share", "churn", "memory", "api", "gc"}

// options are the parsed flags.
type options struct {
	scenarios     map[string]bool
	dur           time.Duration
	rounds        int
	slices        int
	counts        []int
	oneCounts     []int
	idle          int
	zonegate      string
	baseline      string
	haproxy       string
	goRelay       bool
	verbose       bool
	api           daemonConfig
	churnConns    int
	churnParallel int
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench-modbus", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	scenarioList := fs.String("scenario", "all", "scenarios to run, comma-separated: "+strings.Join(scenarios, ",")+" (or all)")
	fs.DurationVar(&o.dur, "duration", 2*time.Second, "cpu, onecpu: measuring time of one path at one concurrency in a round")
	fs.IntVar(&o.rounds, "rounds", 3, "cpu, onecpu: rounds over all paths and concurrencies; the report gives medians")
	fs.IntVar(&o.slices, "slices", 4, "cpu, onecpu: slices of a path's time in a round, interleaved with the other paths' slices")
	clientList := fs.String("clients", "1,16,64", "cpu: concurrent client connections, comma-separated")
	oneList := fs.String("onecpu-clients", "16,64", "onecpu: concurrent client connections, comma-separated")
	fs.IntVar(&o.idle, "idle-conns", 1000, "memory: open idle client connections")
	fs.StringVar(&o.zonegate, "zonegate", "", "zonegate binary under test; empty: go build ./cmd/zonegate into a temporary directory")
	fs.StringVar(&o.baseline, "zonegate-baseline", "", "a second zonegate binary (e.g. of main) measured side by side as \"baseline\"; empty: none")
	fs.StringVar(&o.haproxy, "haproxy", "haproxy", "HAProxy binary")
	fs.BoolVar(&o.goRelay, "gorelay", true, "cpu, onecpu: also measure a plain Go TCP relay in its own process (path go-relay): what any Go proxy costs before inspection, and the gc scenario's control")
	fs.BoolVar(&o.verbose, "v", false, "print every measurement, not only the medians")
	pin := fs.Bool("pin", true, "run the load generator and server on CPU 0 and the processes under test on the other CPUs (needs taskset and 2+ CPUs); onecpu, api and gc need it")
	fs.IntVar(&o.api.clients, "api-clients", 64, "api, gc: client connections saturating the daemon")
	fs.IntVar(&o.api.calls, "api-calls", 50, "api, gc: status calls to the daemon, and as many to the control")
	fs.DurationVar(&o.api.gap, "api-gap", 100*time.Millisecond, "api, gc: pause between two pairs of status calls")
	apiLoad := fs.String("api-load", "cpu0", "api, gc: where the load generator and server run: cpu0 (CPU 0 only, the daemon's CPU is its own) or shared (every CPU, the daemon's too)")
	fs.DurationVar(&o.api.gcTime, "gc-time", 5*time.Second, "gc: after the api calls, status calls back to back for this long under the same load, so that the daemon collects garbage")
	fs.BoolVar(&o.api.push, "push", true, "api: also time one `push` (a model with one more conduit) under load")
	fs.StringVar(&o.api.lock, "lock", "/tmp/zonegate-netns.lock", "api, gc: file locked (flock) while the namespaces exist; empty: no lock")
	fs.IntVar(&o.churnConns, "churn-conns", 20000, "churn: short connections")
	fs.IntVar(&o.churnParallel, "churn-parallel", 32, "churn: connections at a time, each worker from its own source address")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	usage := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "bench-modbus: "+format+"\n", a...)
		return 2
	}
	var err error
	if o.scenarios, err = parseScenarios(*scenarioList); err != nil {
		return usage("-scenario: %v", err)
	}
	if o.counts, err = parseCounts(*clientList); err != nil {
		return usage("-clients: %v", err)
	}
	if o.oneCounts, err = parseCounts(*oneList); err != nil {
		return usage("-onecpu-clients: %v", err)
	}
	if o.slices < 1 || o.rounds < 1 || o.api.calls < 1 || o.api.clients < 1 || o.churnConns < 1 || o.churnParallel < 1 {
		return usage("-rounds, -slices, -api-calls, -api-clients, -churn-conns and -churn-parallel must be at least 1")
	}
	if o.churnParallel > 250 {
		return usage("-churn-parallel %d: at most 250 (one loopback source address each)", o.churnParallel)
	}
	o.api.verbose = o.verbose
	switch *apiLoad {
	case "cpu0":
	case "shared":
		o.api.shared = "shared"
	default:
		return usage("-api-load %q: want cpu0 or shared", *apiLoad)
	}
	needsPin := o.scenarios["onecpu"] || o.scenarios["api"] || o.scenarios["gc"]
	if !*pin && needsPin {
		return usage("-pin=false: the onecpu, api and gc scenarios need a CPU of their own for the process under test; run only cpu, churn and memory unpinned (-scenario cpu,churn,memory)")
	}
	var plan cpuPlan
	if *pin {
		if plan, err = pinSelf(args); err != nil {
			fmt.Fprintf(stderr, "bench-modbus: -pin: %v (unpinned, only -scenario cpu,churn,memory -pin=false can run)\n", err)
			return 1
		}
	}
	if err := bench(stdout, stderr, o, plan); err != nil {
		fmt.Fprintf(stderr, "bench-modbus: %v\n", err)
		return 1
	}
	return 0
}

func parseScenarios(list string) (map[string]bool, error) {
	out := map[string]bool{}
	for _, f := range strings.Split(list, ",") {
		f = strings.TrimSpace(f)
		switch {
		case f == "all":
			for _, s := range scenarios {
				out[s] = true
			}
		case slices.Contains(scenarios, f):
			out[f] = true
		default:
			return nil, fmt.Errorf("unknown scenario %q: choose from %s, or all", f, strings.Join(scenarios, ", "))
		}
	}
	return out, nil
}

func parseCounts(list string) ([]int, error) {
	var counts []int
	for _, f := range strings.Split(list, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%q: want positive numbers such as 1,16,64", list)
		}
		counts = append(counts, n)
	}
	return counts, nil
}

// bench runs the selected scenarios and prints the report on w (progress
// on log).
func bench(w, log io.Writer, o options, plan cpuPlan) error {
	sc := o.scenarios
	progress := func(s string) { fmt.Fprintf(log, "bench-modbus: %s\n", s) }
	if sc["cpu"] || sc["onecpu"] || sc["memory"] {
		if _, err := exec.LookPath(o.haproxy); err != nil {
			return fmt.Errorf("HAProxy (%s) is not installed: `make deps` installs it (apt-get install haproxy)", o.haproxy)
		}
	}
	dir, err := os.MkdirTemp("", "bench-modbus-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if o.zonegate == "" {
		progress("building ./cmd/zonegate ...")
		if o.zonegate, err = buildZonegate(dir); err != nil {
			return err
		}
	}
	targets := []target{{"zonegate", o.zonegate}}
	if o.baseline != "" {
		targets = append(targets, target{"baseline", o.baseline})
	}
	for _, t := range targets {
		if _, err := exec.LookPath(t.bin); err != nil {
			return fmt.Errorf("-%s %s: %w", map[string]string{"zonegate": "zonegate", "baseline": "zonegate-baseline"}[t.name], t.bin, err)
		}
	}
	header(w, o, plan, targets)

	srv, err := startFastServer("127.0.0.1:0")
	if err != nil {
		return err
	}
	defer srv.close()
	tcfg := throughputConfig{dur: o.dur, rounds: o.rounds, slices: o.slices, goRelay: o.goRelay,
		haproxy: o.haproxy, dir: dir, upstream: srv.addr(), verbose: o.verbose}
	var goals []goal
	var gcRows []gcRow
	var cpuTP, oneTP *throughput
	throughputScenario := func(label, cpus string, counts []int) (*throughput, error) {
		progress("scenario " + label + " ...")
		cfg := tcfg
		cfg.label, cfg.cpus, cfg.counts = label, cpus, counts
		tp, err := runThroughput(w, cfg, targets)
		if err == nil {
			tp.print(w, "Scenario "+label+": "+where(cpus))
		}
		return tp, err
	}
	if sc["cpu"] {
		if cpuTP, err = throughputScenario("cpu", plan.all, o.counts); err != nil {
			return err
		}
		goals = append(goals, cpuGoals(cpuTP, "cpu", targets)...)
	}
	if sc["onecpu"] {
		if cpuTP != nil && plan.all == plan.one && subset(o.oneCounts, o.counts) {
			fmt.Fprintf(w, "\nScenario onecpu: on this %d-CPU machine scenario cpu already ran the proxies on one CPU (%s, GOMAXPROCS unset): its figures are onecpu's.\n", plan.n, plan.one)
			oneTP = cpuTP
		} else if oneTP, err = throughputScenario("onecpu", plan.one, o.oneCounts); err != nil {
			return err
		}
		label := "onecpu"
		if oneTP == cpuTP {
			label = "onecpu (= cpu here)"
		}
		goals = append(goals, cpuGoals(oneTP, label, targets)...)
	}
	if sc["share"] {
		progress("scenario share ...")
		cfg := tcfg
		cfg.label, cfg.cpus, cfg.counts, cfg.variants, cfg.goRelay = "share", plan.all, []int{64}, shareVariants, false
		tp, err := runThroughput(w, cfg, targets)
		if err != nil {
			return err
		}
		printShare(w, tp, "Scenario share: 64 clients sharing one device connection vs one each; "+where(plan.all))
	}
	tps := []*throughput{cpuTP}
	if oneTP != cpuTP {
		tps = append(tps, oneTP)
	}
	for _, tp := range tps {
		if tp == nil {
			continue
		}
		for _, p := range tp.proxies() {
			if s, ok := tp.gc[p.name]; ok {
				proc := p.name + " modbus-proxy"
				if p.name == "go-relay" {
					proc = "go-relay (control)"
				}
				gcRows = append(gcRows, gcRow{proc, tp.cfg.label, s})
			}
		}
	}

	if sc["churn"] {
		var rs []churnResult
		for _, t := range targets {
			progress(fmt.Sprintf("scenario churn: %s ...", t.name))
			r, err := runChurn(t, plan.all, dir, srv.addr(), o.churnConns, o.churnParallel)
			if err != nil {
				return fmt.Errorf("churn, %s: %w", t.name, err)
			}
			rs = append(rs, r)
		}
		printChurn(w, plan.all, o.churnParallel, rs)
		goals = append(goals, churnGoals(rs)...)
	}

	rss := map[string]int{}
	if sc["memory"] {
		progress("scenario memory ...")
		fmt.Fprintf(w, "\nScenario memory: VmRSS of a fresh process, after a short warm-up load\n\n")
		for _, t := range targets {
			kib, err := memory(w, t.name, func() (*proc, error) { return startZonegate(t.name, t.bin, plan.all, dir, srv.addr()) }, o.idle)
			if err != nil {
				return err
			}
			rss[t.name] = kib
		}
		if _, err := memory(w, "haproxy", func() (*proc, error) { return startHAProxy(o.haproxy, plan.all, dir, srv.addr()) }, o.idle); err != nil {
			return err
		}
	}

	if sc["api"] || sc["gc"] {
		cfg := o.api
		cfg.cpu = plan.one
		if cfg.shared != "" {
			cfg.shared = cpuRange(0, plan.n-1)
		}
		if !sc["gc"] {
			cfg.gcTime = 0
		}
		rs, err := runDaemonScenario(cfg, targets, progress)
		if err != nil {
			return err
		}
		printDaemon(w, cfg, rs)
		if sc["api"] {
			goals = append(goals, apiGoals(rs)...)
		}
		var rows []gcRow
		for _, r := range rs {
			rows = append(rows, gcRow{r.target.name + " serve", "api", r.gc})
			if sc["gc"] {
				goals = append(goals, gcGoal(r))
			}
		}
		for _, r := range rs {
			rows = append(rows, gcRow{"HTTP control (" + r.target.name + " run)", "api", r.controlG})
		}
		gcRows = append(rows, gcRows...)
	}
	if sc["gc"] {
		printGC(w, gcRows)
	}
	goals = append(goals, issue3Goals(cpuTP, rss, o.idle, targets)...)
	printGoals(w, goals)
	return nil
}

// where describes a taskset list for the report.
func where(cpus string) string {
	if cpus == "" {
		return "proxies on any CPU, sharing them with the load generator"
	}
	return fmt.Sprintf("proxies on CPU(s) %s (GOMAXPROCS unset; HAProxy with %d thread(s)), load generator and server on CPU 0", cpus, cpuCount(cpus))
}

func subset(a, b []int) bool {
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	return true
}

// header prints what the run measures and on what.
func header(w io.Writer, o options, plan cpuPlan, targets []target) {
	hv, _ := exec.Command(o.haproxy, "-v").Output()
	hvLine, _, _ := strings.Cut(string(hv), "\n")
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	load, _ := os.ReadFile("/proc/loadavg")
	n := runtime.NumCPU()
	if plan.n > 0 {
		n = plan.n
	}
	fmt.Fprintf(w, "bench-modbus: %d CPU(s), Linux %s, %s, load average %s\n", n, strings.TrimSpace(string(kernel)), runtime.Version(), strings.Join(strings.Fields(string(load))[:3], " "))
	for _, t := range targets {
		v, _ := exec.Command(t.bin, "version").Output()
		fmt.Fprintf(w, "  %-8s %s: %s\n", t.name, t.bin, strings.TrimSpace(string(v)))
	}
	if hvLine != "" {
		fmt.Fprintf(w, "  haproxy  %s\n", hvLine)
	}
	var names []string
	for _, s := range scenarios {
		if o.scenarios[s] {
			names = append(names, s)
		}
	}
	fmt.Fprintf(w, "  scenarios %s", strings.Join(names, ", "))
	if plan.pinned {
		fmt.Fprintf(w, "; load generator and server on CPU 0, proxies on CPU(s) %s, one-CPU scenarios on CPU %s", plan.all, plan.one)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "  Other work on this machine shares the CPUs: compare figures within this run (ratios, controls), not across runs.")
}

var (
	cleanMu  sync.Mutex
	cleanups = map[int]func(){}
	cleanSeq int
	sigOnce  sync.Once
)

// onInterrupt runs fn if the benchmark is interrupted (SIGINT, SIGTERM)
// before the returned undo is called, then exits.
func onInterrupt(fn func()) (undo func()) {
	sigOnce.Do(func() {
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
		go func() {
			<-ch
			cleanMu.Lock()
			for _, f := range cleanups {
				f()
			}
			os.Exit(1)
		}()
	})
	cleanMu.Lock()
	defer cleanMu.Unlock()
	cleanSeq++
	id := cleanSeq
	cleanups[id] = fn
	return func() {
		cleanMu.Lock()
		defer cleanMu.Unlock()
		delete(cleanups, id)
	}
}

// lookPath finds a program and says which package provides it when not.
func lookPath(name string) (string, error) {
	p, err := exec.LookPath(name)
	if err != nil {
		pkg := map[string]string{"ip": "iproute2", "nft": "nftables", "taskset": "util-linux"}[name]
		return "", errors.New(name + " is not installed (Debian package " + pkg + ")")
	}
	return p, nil
}
