package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/zonegate/zonegate/gateway/api"
	"github.com/zonegate/zonegate/gateway/zone"
	"github.com/zonegate/zonegate/test/lab"
)

// The daemon scenario (api, gc): `zonegate serve`, the real binary, in the
// gateway namespace of a lab built from benchModel, pinned with taskset to
// one CPU and GOMAXPROCS unset, as on a small gateway. Clients in the hmi
// assets' namespaces saturate its one inspected conduit, through the
// nftables redirect, towards the fast server on plc-1 (this process,
// which runs on CPU 0). Meanwhile the management API answers status calls
// over its Unix socket, alternating with a control (a plain Go net/http
// server pinned to the same CPU, see control.go), and takes one push.

// The bench administrator (the daemon's default policy wants 12
// characters and no user name in the password).
const (
	benchUser     = "operator"
	benchPassword = "Quartz-Meadow-Lantern-81"
)

// pushExtra is the conduit a push under load adds: it changes the
// ruleset, not the inspected conduit the load uses.
const pushExtra = `  - name: bench-ping
    from: hmi
    to: plc
    to_assets: [plc-1]
    services: [icmp/echo-request]
`

// daemonConfig says how to run the daemon scenario.
type daemonConfig struct {
	cpu     string        // the daemon's and the control's CPU
	shared  string        // "": the load stays on CPU 0; else the CPUs it may use meanwhile (all of them)
	clients int           // load connections, 16 per client host
	calls   int           // status calls to the daemon (and as many to the control)
	gap     time.Duration // pause between two pairs of calls
	push    bool          // also time one push under load
	gcTime  time.Duration // then this long status calls back to back (the gc scenario's management load); 0: none
	lock    string        // flock file while namespaces exist; "" none
	verbose bool
}

// daemonResult is what the daemon scenario measured for one binary.
type daemonResult struct {
	target   target
	load     result  // the load while the calls ran
	loadErr  error   // clients that failed during it
	busy     float64 // the daemon's CPU time over the wall time
	cpuBusy  float64 // the share of time its CPU was busy (with anything)
	daemon   callStats
	control  callStats
	push     time.Duration
	pushErr  error
	gc       gcSummary // the daemon's collections under load
	controlG gcSummary // the control's
	threads  int       // the daemon's threads under load
	gcCalls  callStats // the gc scenario's back-to-back status calls
}

// callStats are the latencies of one side's status calls.
type callStats struct {
	took []time.Duration
	errs []error
}

func (c callStats) p50() time.Duration { return percentile(c.took, 0.50) }
func (c callStats) p99() time.Duration { return percentile(c.took, 0.99) }
func (c callStats) max() time.Duration { return longest(c.took) }

// runDaemonScenario builds the lab (under the namespace lock), then
// measures each target in turn.
func runDaemonScenario(cfg daemonConfig, targets []target, progress func(string)) (_ []daemonResult, err error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("the api and gc scenarios need root (network namespaces, nftables): run as root, or leave them out with -scenario")
	}
	for _, tool := range []string{"ip", "nft", "taskset"} {
		if _, err := lookPath(tool); err != nil {
			return nil, fmt.Errorf("the api and gc scenarios need %s: %w", tool, err)
		}
	}
	if cfg.lock != "" {
		unlock, err := flock(cfg.lock, progress)
		if err != nil {
			return nil, err
		}
		defer unlock()
	}
	hosts := (cfg.clients + 15) / 16
	model, err := zone.Load("bench-model.yaml", []byte(benchModel(hosts, "")))
	if err != nil {
		return nil, fmt.Errorf("the bench model does not load: %w", err)
	}
	prefix := fmt.Sprintf("zgbm%d", os.Getpid()%100_000_000)
	progress("building the namespace lab " + prefix + " ...")
	l, err := lab.Up(model, lab.Options{Prefix: prefix})
	if err != nil {
		return nil, fmt.Errorf("build the namespace lab: %w", err)
	}
	undo := onInterrupt(func() { _ = lab.DownPrefix(prefix) })
	defer func() {
		undo()
		err = errors.Join(err, l.Down())
	}()
	plc := l.Assets["plc-1"]
	ln, err := lab.Listen(plc.NS, "tcp", net.JoinHostPort(plcAddr, "502"))
	if err != nil {
		return nil, err
	}
	srv := serveFast(ln)
	defer srv.close()
	var client []*lab.Host
	for i := range hosts {
		client = append(client, l.Assets[fmt.Sprintf("hmi-%d", i+1)])
	}
	dial := func(ctx context.Context, i int) (net.Conn, error) {
		h := client[i/16%len(client)]
		return lab.Dial(h.NS, "tcp", net.JoinHostPort(plcAddr, "502"), 5*time.Second)
	}
	var out []daemonResult
	for _, t := range targets {
		progress(fmt.Sprintf("daemon scenario: %s (%s) ...", t.name, t.bin))
		r, err := measureDaemon(cfg, l, t, hosts, dial)
		if err != nil {
			return out, fmt.Errorf("%s: %w", t.name, err)
		}
		out = append(out, r)
	}
	return out, nil
}

// measureDaemon starts one binary's daemon, loads it and calls its API.
func measureDaemon(cfg daemonConfig, l *lab.Lab, t target, hosts int, dial dialFunc) (daemonResult, error) {
	res := daemonResult{target: t}
	dir, err := os.MkdirTemp("", "zgbm")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)
	modelFile := filepath.Join(dir, "model.yaml")
	if err := os.WriteFile(modelFile, []byte(benchModel(hosts, "")), 0o600); err != nil {
		return res, err
	}
	socket := filepath.Join(dir, "api.sock")
	cmd := lab.Command(l.Gateway, "taskset", "-c", cfg.cpu, t.bin, "serve", "--model", modelFile,
		"--state-dir", filepath.Join(dir, "state"), "--socket", socket)
	cmd.Env = goEnv()
	anon := api.NewClient(socket)
	defer anon.Close()
	d, err := start("zonegate serve", socket, cmd, func() error {
		// Without a session the API answers 401 once it serves.
		_, err := anon.Status(context.Background())
		var ae *api.Error
		if errors.As(err, &ae) && ae.Status == http.StatusUnauthorized {
			return nil
		}
		if err == nil {
			return errors.New("status answered without a session")
		}
		return err
	}, 60*time.Second)
	if err != nil {
		return res, err
	}
	defer d.stop()
	// `ip netns exec` and taskset exec the daemon in the process they
	// were started as; make sure the pid is the daemon's (the kernel keeps
	// 15 bytes of the name).
	comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", d.pid()))
	if name := filepath.Base(t.bin); strings.TrimSpace(string(comm)) != name[:min(len(name), 15)] {
		return res, fmt.Errorf("process %d is %q, not %s: cannot measure the daemon's CPU time", d.pid(), strings.TrimSpace(string(comm)), t.bin)
	}

	ctx := context.Background()
	if _, err := anon.Init(ctx, benchUser, benchPassword); err != nil {
		return res, fmt.Errorf("create the first administrator: %w", err)
	}
	login, err := anon.Login(ctx, benchUser, benchPassword)
	if err != nil {
		return res, fmt.Errorf("log in: %w", err)
	}
	adm := api.NewClient(socket)
	adm.Token = login.Token
	defer adm.Close()
	var raw json.RawMessage
	if err := adm.Do(ctx, http.MethodGet, api.PathStatus, nil, &raw); err != nil {
		return res, fmt.Errorf("status: %w", err)
	}
	var st api.Status
	if err := json.Unmarshal(raw, &st); err != nil || st.Version < 1 {
		return res, fmt.Errorf("the daemon runs no model version after its start (%v): %s\n%s", err, raw, tail(d.output()))
	}
	ctl, err := startControl(cfg.cpu, dir, raw)
	if err != nil {
		return res, err
	}
	defer ctl.stop()

	load, err := connectLoad("daemon", dial, cfg.clients)
	if err != nil {
		return res, fmt.Errorf("%w (is the Modbus proxy listening? daemon log:\n%s)", err, tail(d.output()))
	}
	if cfg.shared != "" {
		// The load generator and the server may run on every CPU, the
		// daemon's too: its CPU is then busy whatever the daemon needs.
		if err := setAffinity(os.Getpid(), cfg.shared); err != nil {
			load.close()
			return res, err
		}
		defer func() { _ = setAffinity(os.Getpid(), "0") }()
	}
	load.begin(d.pid())
	time.Sleep(time.Second) // let the load settle
	cpuBefore, err := readCPUTimes(cfg.cpu)
	if err != nil {
		load.close()
		return res, err
	}
	err = d.underLoad(func() error {
		return ctl.underLoad(func() error {
			var err error
			if res.daemon, res.control, err = callsFromHelper(cfg, socket, ctl.addr, login.Token); err != nil {
				return err
			}
			res.threads, _, _ = threadsAndFDs(d.pid())
			if cfg.push {
				res.push, res.pushErr = timedPush(adm, benchModel(hosts, pushExtra))
			}
			res.gcCalls = busyCalls(adm, cfg.gcTime)
			return nil
		})
	})
	cpuAfter, cpuErr := readCPUTimes(cfg.cpu)
	res.load, res.loadErr = load.stop()
	if err = errors.Join(err, cpuErr); err != nil {
		return res, err
	}
	res.cpuBusy = busyShare(cpuBefore, cpuAfter)
	if res.load.elapsed > 0 {
		res.busy = float64(res.load.cpu) / float64(res.load.elapsed)
	}
	res.gc = d.gcUnderLoad()
	res.controlG = ctl.gcUnderLoad()
	return res, nil
}

// busyCalls makes status calls one after the other for d: management
// work that allocates, so that the daemon collects garbage under load.
func busyCalls(c *api.Client, d time.Duration) callStats {
	var out callStats
	for end := time.Now().Add(d); time.Now().Before(end); {
		start := time.Now()
		if _, err := c.Status(context.Background()); err != nil {
			out.errs = append(out.errs, err)
			if len(out.errs) > 10 {
				break
			}
			continue
		}
		out.took = append(out.took, time.Since(start))
	}
	return out
}

// timedPush pushes model (confirmed at once) and returns how long the
// API took to answer.
func timedPush(c *api.Client, model string) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	start := time.Now()
	r, err := c.Push(ctx, api.PushRequest{Model: model, Comment: "bench-modbus: push under load", ConfirmWithin: "0"})
	took := time.Since(start)
	if err == nil && r.Unchanged {
		err = errors.New("the daemon found the pushed model unchanged")
	}
	return took, err
}

// setAffinity moves every thread of process pid to cpus (threads it
// starts later inherit it).
func setAffinity(pid int, cpus string) error {
	if out, err := exec.Command("taskset", "-a", "-p", "-c", cpus, strconv.Itoa(pid)).CombinedOutput(); err != nil {
		return fmt.Errorf("taskset -a -p -c %s %d: %v: %s", cpus, pid, err, out)
	}
	return nil
}

// flock takes the exclusive lock on path (created if missing) and returns
// its release.
func flock(path string, progress func(string)) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		return nil, fmt.Errorf("open lock %s: %w", path, err)
	}
	if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil {
		progress("waiting for " + path + " (another namespace test runs) ...")
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
	}
	return func() { f.Close() }, nil
}
