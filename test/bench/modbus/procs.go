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

// benchModel is the zone model whose conduit "bench" gives zonegate's
// proxy its policy: FC 3 reads of holding registers 0-99 from unit 1, as
// the load does; everything else denied. No rate limit.
const benchModel = `version: 1
gateway: {name: bench-gw, management: {zones: [hmi]}}
zones:
  - {name: hmi, importance: medium, interfaces: [eth0], networks: [198.18.200.0/24]}
  - {name: plc, importance: high, interfaces: [eth1], networks: [198.18.201.0/24]}
conduits:
  - name: bench
    from: hmi
    to: plc
    services: [tcp/502]
    inspect: modbus
    modbus:
      mode: enforce
      on_deny: exception
      units: [1]
      allow:
        - read: holding_registers
          addresses: 0-99
`

// proc is a proxy process under test.
type proc struct {
	name string
	addr string
	cmd  *exec.Cmd
	out  lockedBuffer // stdout and stderr
	done chan struct{}
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

// output returns what the process wrote so far.
func (p *proc) output() string { return p.out.String() }

func (p *proc) pid() int { return p.cmd.Process.Pid }

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

// start runs cmd and waits until addr accepts connections.
func start(name, addr string, cmd *exec.Cmd) (*proc, error) {
	p := &proc{name: name, addr: addr, cmd: cmd, done: make(chan struct{})}
	cmd.Stdout = &p.out
	cmd.Stderr = &p.out
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() {
		_ = cmd.Wait()
		close(p.done)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return p, nil
		}
		select {
		case <-p.done:
			return nil, fmt.Errorf("%s ended before it listened on %s:\n%s", name, addr, p.output())
		default:
		}
		if time.Now().After(deadline) {
			p.stop()
			return nil, fmt.Errorf("%s does not listen on %s after 10 s:\n%s", name, addr, p.output())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// pinnedEnv marks a benchmark process that pinSelf already moved to CPU 0.
const pinnedEnv = "BENCH_MODBUS_PINNED"

// proxyCPUs is the CPU list the proxies run on with --pin; empty: any.
var proxyCPUs string

// pinSelf re-executes the benchmark under `taskset -c 0` (every thread of
// a Go process must be pinned, so the whole process is started pinned) and
// makes the proxies start on the remaining CPUs. In the pinned process it
// only sets proxyCPUs.
func pinSelf(args []string) error {
	if cpus := os.Getenv(pinnedEnv); cpus != "" {
		proxyCPUs = cpus
		return nil
	}
	n := runtime.NumCPU()
	if n < 2 {
		return fmt.Errorf("%d CPU: nothing to separate", n)
	}
	taskset, err := exec.LookPath("taskset")
	if err != nil {
		return fmt.Errorf("taskset (util-linux) is not installed")
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	argv := append([]string{"taskset", "-c", "0", self}, args...)
	return syscall.Exec(taskset, argv, append(os.Environ(), pinnedEnv+"="+cpuRange(1, n-1)))
}

// proxyThreads is the number of CPUs the proxies may use.
func proxyThreads() int {
	if proxyCPUs == "" {
		return runtime.NumCPU()
	}
	lo, hi, _ := strings.Cut(proxyCPUs, "-")
	a, _ := strconv.Atoi(lo)
	b, err := strconv.Atoi(hi)
	if err != nil {
		return 1
	}
	return b - a + 1
}

// command returns the command of a proxy, pinned when --pin is set.
func command(bin string, args ...string) *exec.Cmd {
	if proxyCPUs == "" {
		return exec.Command(bin, args...)
	}
	return exec.Command("taskset", append([]string{"-c", proxyCPUs, bin}, args...)...)
}

// startZonegate runs `zonegate modbus-proxy` (explicit mode) in front of
// upstream with benchModel's policy.
func startZonegate(bin, dir, upstream string) (*proc, error) {
	model := filepath.Join(dir, "bench-model.yaml")
	if err := os.WriteFile(model, []byte(benchModel), 0o644); err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cmd := command(bin, "modbus-proxy", "--listen", addr, "--upstream", upstream, "--model", model, "--conduit", "bench")
	return start("zonegate", addr, cmd)
}

// startHAProxy runs HAProxy in TCP mode (no inspection) in front of
// upstream, with as many threads as it has CPUs, like Go's GOMAXPROCS.
func startHAProxy(bin, dir, upstream string) (*proc, error) {
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
`, proxyThreads(), addr, upstream)
	path := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		return nil, err
	}
	if out, err := exec.Command(bin, "-c", "-f", path).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("haproxy -c rejects the generated config: %v\n%s", err, out)
	}
	return start("haproxy", addr, command(bin, "-db", "-f", path))
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
