package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// benchModel returns the zone model whose conduit "bench" gives
// zonegate's proxy its policy: FC 3 reads of holding registers 0-99 from
// unit 1, as the load does; everything else denied; no rate limit. The
// zone hmi holds clientHosts assets (hmi-1, ...), the load's source hosts
// in the daemon scenario, and zone plc the asset plc-1, the fast server;
// the explicit-mode proxy uses only the conduit.
func benchModel(clientHosts int, extra string) string {
	var b strings.Builder
	b.WriteString(`version: 1
gateway: {name: bench-gw, management: {zones: [hmi]}}
zones:
  - {name: hmi, importance: medium, interfaces: [eth0], networks: [198.18.200.0/24]}
  - {name: plc, importance: high, interfaces: [eth1], networks: [198.18.201.0/24]}
assets:
`)
	for i := range clientHosts {
		fmt.Fprintf(&b, "  - {name: hmi-%d, zone: hmi, address: %s, importance: medium}\n", i+1, clientHostAddr(i))
	}
	fmt.Fprintf(&b, "  - {name: plc-1, zone: plc, address: %s, importance: high}\n", plcAddr)
	b.WriteString(`conduits:
  - name: bench
    from: hmi
    to: plc
    to_assets: [plc-1]
    services: [tcp/502]
    inspect: modbus
    modbus:
      mode: enforce
      on_deny: exception
      units: [1]
      allow:
        - read: holding_registers
          addresses: 0-99
`)
	b.WriteString(extra)
	return b.String()
}

// Addresses of benchModel's hosts.
const plcAddr = "198.18.201.10"

func clientHostAddr(i int) string { return fmt.Sprintf("198.18.200.%d", 11+i) }

// proc is a process under test: a proxy, the daemon or a control.
type proc struct {
	name string
	addr string // where it accepts connections (TCP address or Unix socket)
	cmd  *exec.Cmd
	out  lockedBuffer // stdout and stderr
	done chan struct{}

	// loaded collects what the process wrote while the benchmark loaded
	// it (see underLoad): the GC trace lines of those spells.
	loaded strings.Builder
}

// lockedBuffer collects a process's output while it runs.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *lockedBuffer) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Len()
}

// output returns what the process wrote so far.
func (p *proc) output() string { return p.out.String() }

func (p *proc) pid() int { return p.cmd.Process.Pid }

// underLoad runs fn, which loads the process, and keeps what the process
// wrote meanwhile (its GC trace under load).
func (p *proc) underLoad(fn func() error) error {
	from := p.out.Len()
	err := fn()
	// The runtime writes a trace line at the end of the cycle: give the
	// pipe a moment so a cycle that ended under load is not cut off.
	time.Sleep(20 * time.Millisecond)
	p.loaded.WriteString(p.output()[from:])
	return err
}

// gcUnderLoad sums up the collections the process reported while loaded.
func (p *proc) gcUnderLoad() gcSummary { return summarizeGC(parseGCTrace(p.loaded.String())) }

// stop ends the process with SIGTERM (SIGKILL after 5 s).
func (p *proc) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// freePort returns a loopback port nobody listens on right now.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// tcpReady is start's readiness probe of a TCP listener.
func tcpReady(addr string) func() error {
	return func() error {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
		}
		return err
	}
}

// start runs cmd and waits until ready succeeds (10 s at most; timeout
// for slower starts such as the daemon's).
func start(name, addr string, cmd *exec.Cmd, ready func() error, timeout time.Duration) (*proc, error) {
	p := &proc{name: name, addr: addr, cmd: cmd, done: make(chan struct{})}
	cmd.Stdout = &p.out
	cmd.Stderr = &p.out
	// A process under test ends with the benchmark, even a killed one.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() {
		_ = cmd.Wait()
		close(p.done)
	}()
	deadline := time.Now().Add(timeout)
	for {
		err := ready()
		if err == nil {
			return p, nil
		}
		select {
		case <-p.done:
			return nil, fmt.Errorf("%s ended before it was ready on %s:\n%s", name, addr, tail(p.output()))
		default:
		}
		if time.Now().After(deadline) {
			p.stop()
			return nil, fmt.Errorf("%s is not ready on %s after %s (%v):\n%s", name, addr, timeout, err, tail(p.output()))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// pinnedEnv marks a benchmark process that pinSelf already moved to CPU 0;
// its value is the number of CPUs the machine has.
const pinnedEnv = "BENCH_MODBUS_PINNED"

// cpuPlan says which CPUs the load and the processes under test use.
type cpuPlan struct {
	pinned bool   // the load generator and fast server run on CPU 0
	all    string // taskset list of the proxies in scenario cpu; "" any
	one    string // the single CPU of scenarios onecpu and api; "" none
	n      int    // CPUs of the machine
}

// pinSelf re-executes the benchmark under `taskset -c 0` (every thread of
// a Go process must be pinned, so the whole process is started pinned).
// In the pinned process it returns the plan: proxies on CPUs 1..n-1, the
// one-CPU scenarios on the last CPU.
func pinSelf(args []string) (cpuPlan, error) {
	if v := os.Getenv(pinnedEnv); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 2 {
			return cpuPlan{}, fmt.Errorf("%s=%q: want the machine's CPU count", pinnedEnv, v)
		}
		return cpuPlan{pinned: true, all: cpuRange(1, n-1), one: strconv.Itoa(n - 1), n: n}, nil
	}
	n := runtime.NumCPU()
	if n < 2 {
		return cpuPlan{}, fmt.Errorf("%d CPU: nothing to separate", n)
	}
	taskset, err := exec.LookPath("taskset")
	if err != nil {
		return cpuPlan{}, fmt.Errorf("taskset (util-linux) is not installed")
	}
	self, err := os.Executable()
	if err != nil {
		return cpuPlan{}, err
	}
	argv := append([]string{"taskset", "-c", "0", self}, args...)
	return cpuPlan{}, syscall.Exec(taskset, argv, append(os.Environ(), pinnedEnv+"="+strconv.Itoa(n)))
}

// cpuCount is the number of CPUs in a taskset list ("" is every CPU).
func cpuCount(cpus string) int {
	if cpus == "" {
		return runtime.NumCPU()
	}
	lo, hi, isRange := strings.Cut(cpus, "-")
	if !isRange {
		return 1
	}
	a, _ := strconv.Atoi(lo)
	b, _ := strconv.Atoi(hi)
	return b - a + 1
}

// command returns the command of a process under test, pinned to cpus
// unless cpus is empty.
func command(cpus, bin string, args ...string) *exec.Cmd {
	if cpus == "" {
		return exec.Command(bin, args...)
	}
	return exec.Command("taskset", append([]string{"-c", cpus, bin}, args...)...)
}

// goEnv is the environment of a Go process under test: GOMAXPROCS unset
// (the runtime picks it from the CPUs it may use, as in production) and
// the GC trace on (one line on stderr per collection).
func goEnv() []string {
	var env []string
	debug := "gctrace=1"
	for _, kv := range os.Environ() {
		switch k, v, _ := strings.Cut(kv, "="); k {
		case "GOMAXPROCS", pinnedEnv:
			continue
		case "GODEBUG":
			if v != "" {
				debug = v + "," + debug
			}
			continue
		}
		env = append(env, kv)
	}
	return append(env, "GODEBUG="+debug)
}

// startZonegate runs `zonegate modbus-proxy` (explicit mode) of binary bin
// on cpus in front of upstream with benchModel's policy.
func startZonegate(name, bin, cpus, dir, upstream string) (*proc, error) {
	return startZonegateWith(name, bin, cpus, dir, upstream, "")
}

// startZonegateWith is startZonegate with extra keys in the conduit's
// modbus block (6 spaces of indentation).
func startZonegateWith(name, bin, cpus, dir, upstream, extra string) (*proc, error) {
	model := filepath.Join(dir, "bench-model-"+name+".yaml")
	if err := os.WriteFile(model, []byte(benchModel(0, extra)), 0o644); err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cmd := command(cpus, bin, "modbus-proxy", "--listen", addr, "--upstream", upstream, "--model", model, "--conduit", "bench")
	cmd.Env = goEnv()
	return start(name, addr, cmd, tcpReady(addr), 10*time.Second)
}

// startHAProxy runs HAProxy in TCP mode (no inspection) on cpus in front
// of upstream, with one thread per CPU it may use, like Go's GOMAXPROCS.
func startHAProxy(bin, cpus, dir, upstream string) (*proc, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cfg := fmt.Sprintf(`global
    maxconn 4000
    nbthread %d

defaults
    mode tcp
    timeout connect 5s
    timeout client 10m
    timeout server 10m

frontend modbus
    bind %s
    maxconn 4000
    default_backend plc

backend plc
    server plc1 %s
`, cpuCount(cpus), addr, upstream)
	path := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		return nil, err
	}
	if out, err := exec.Command(bin, "-c", "-f", path).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("haproxy -c rejects the generated config: %v\n%s", err, out)
	}
	return start("haproxy", addr, command(cpus, bin, "-db", "-f", path), tcpReady(addr), 10*time.Second)
}

// buildZonegate builds cmd/zonegate the way `make build` does into dir.
func buildZonegate(dir string) (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "zonegate")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", bin, "./cmd/zonegate")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/zonegate: %v\n%s", err, out)
	}
	return bin, nil
}

// moduleRoot finds the directory of go.mod from the working directory.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", fmt.Errorf("run the benchmark inside the zonegate module (no go.mod found)")
	}
	return filepath.Dir(mod), nil
}

// rssKiB returns a process's resident set size (VmRSS) in KiB.
func rssKiB(pid int) (int, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest)
			if len(f) == 0 {
				break
			}
			return strconv.Atoi(f[0])
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}

// cpuTime returns the CPU time a process has used, threads included: the
// sum of its threads' run time in /proc/PID/task/*/schedstat (nanoseconds),
// or, where the kernel has no schedstat, user plus system time from
// /proc/PID/stat (10 ms ticks).
func cpuTime(pid int) (time.Duration, error) {
	if d, err := schedCPU(pid); err == nil {
		return d, nil
	}
	return statCPU(pid)
}

func schedCPU(pid int) (time.Duration, error) {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return 0, err
	}
	var sum time.Duration
	read := 0
	for _, t := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/schedstat", pid, t.Name()))
		if err != nil {
			continue // the thread ended in between, or no schedstat
		}
		read++
		f := strings.Fields(string(b))
		if len(f) == 0 {
			return 0, fmt.Errorf("unexpected /proc/%d/task/%s/schedstat", pid, t.Name())
		}
		ns, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("unexpected /proc/%d/task/%s/schedstat", pid, t.Name())
		}
		sum += time.Duration(ns)
	}
	if read == 0 {
		return 0, fmt.Errorf("no schedstat for process %d", pid)
	}
	return sum, nil
}

// clockTick is USER_HZ, the unit of the CPU times in /proc/PID/stat; 100
// on every Linux architecture zonegate targets.
const clockTick = 100

func statCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("unexpected /proc/%d/stat", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	// After the command: state is field 3, utime 14, stime 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("short /proc/%d/stat", pid)
	}
	ut, err1 := strconv.ParseUint(f[11], 10, 64)
	st, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("unexpected /proc/%d/stat", pid)
	}
	return time.Duration(ut+st) * time.Second / clockTick, nil
}

// selfCPU returns the CPU time this process (load generator and fast
// server) has used.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// idleConns opens n connections to addr from the client source addresses
// and leaves them idle; with request set, each first does one read (so a
// proxy also holds its upstream connection). close releases them.
func idleConns(addr string, n int, conns []net.Conn, request bool) ([]net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for i := len(conns); i < n; i++ {
		c, err := dialFrom(ctx, i, addr)
		if err != nil {
			return conns, fmt.Errorf("open idle connection %d: %w", i, err)
		}
		conns = append(conns, c)
	}
	if request {
		for i, c := range conns {
			cl := newClient(c)
			cl.tid = uint16(i)
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			if _, _, err := cl.once(); err != nil {
				return conns, fmt.Errorf("request on idle connection %d: %w", i, err)
			}
			_ = c.SetDeadline(time.Time{})
		}
	}
	return conns, nil
}

// cpuRange formats a taskset CPU list.
func cpuRange(lo, hi int) string {
	if lo == hi {
		return strconv.Itoa(lo)
	}
	return fmt.Sprintf("%d-%d", lo, hi)
}

// threadsAndFDs returns a process's thread count (Threads in
// /proc/PID/status) and open file descriptors (entries of /proc/PID/fd).
func threadsAndFDs(pid int) (threads, fds int, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	threads = -1
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "Threads:"); ok {
			threads, err = strconv.Atoi(strings.TrimSpace(rest))
			if err != nil {
				return 0, 0, fmt.Errorf("unexpected Threads line in /proc/%d/status: %q", pid, line)
			}
		}
	}
	if threads < 0 {
		return 0, 0, fmt.Errorf("no Threads in /proc/%d/status", pid)
	}
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return 0, 0, err
	}
	return threads, len(ents), nil
}

// cpuTimes are one CPU's counters from /proc/stat (USER_HZ ticks).
type cpuTimes struct{ busy, total uint64 }

// readCPUTimes returns the counters of CPU cpu from /proc/stat.
func readCPUTimes(cpu string) (cpuTimes, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return cpuTimes{}, err
	}
	return parseCPUTimes(string(b), cpu)
}

// parseCPUTimes finds line "cpuN" in the text of /proc/stat: user nice
// system idle iowait irq softirq steal ...; idle and iowait are not busy.
func parseCPUTimes(stat, cpu string) (cpuTimes, error) {
	for _, line := range strings.Split(stat, "\n") {
		f := strings.Fields(line)
		if len(f) < 9 || f[0] != "cpu"+cpu {
			continue
		}
		var t cpuTimes
		for i, v := range f[1:9] {
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				return cpuTimes{}, fmt.Errorf("unexpected /proc/stat line %q", line)
			}
			t.total += n
			if i != 3 && i != 4 {
				t.busy += n
			}
		}
		return t, nil
	}
	return cpuTimes{}, fmt.Errorf("no line cpu%s in /proc/stat", cpu)
}

// busyShare is the share of time the CPU was busy from a to b.
func busyShare(a, b cpuTimes) float64 {
	if b.total <= a.total {
		return 0
	}
	return float64(b.busy-a.busy) / float64(b.total-a.total)
}
