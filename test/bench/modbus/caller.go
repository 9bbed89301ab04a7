package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"time"

	"github.com/zonegate/zonegate/gateway/api"
)

// callerEnv makes the benchmark binary run as the api scenario's caller:
// it makes the status calls (callerSpec, JSON) and prints their latencies
// (callerReport, JSON). A process of its own, like `zonegate status`, so
// that the load generator's goroutines, which share CPU 0 with it, do not
// queue ahead of the caller in one Go scheduler: the kernel wakes the
// caller when an answer comes.
const callerEnv = "BENCH_MODBUS_CALLER"

// callerSpec is what the caller does.
type callerSpec struct {
	Daemon  string        // the daemon's API socket
	Control string        // the control's socket
	Token   string        // the daemon's session token
	Calls   int           // calls to each
	Gap     time.Duration // pause between two pairs of calls
}

// callerReport is what the caller measured.
type callerReport struct {
	Daemon, Control         []time.Duration
	DaemonErrs, ControlErrs []string
}

// runCaller runs the calls of the spec in $callerEnv.
func runCaller(spec string) int {
	var s callerSpec
	if err := json.Unmarshal([]byte(spec), &s); err != nil {
		fmt.Fprintf(os.Stderr, "caller: %s: %v\n", callerEnv, err)
		return 2
	}
	var r callerReport
	call := func(socket string, took *[]time.Duration, errs *[]string) {
		c := api.NewClient(socket)
		defer c.Close()
		c.Token = s.Token
		c.HTTP.Transport.(*http.Transport).DisableKeepAlives = true
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		start := time.Now()
		_, err := c.Status(ctx)
		d := time.Since(start)
		if err != nil {
			*errs = append(*errs, err.Error())
			return
		}
		*took = append(*took, d)
	}
	for i := range s.Calls {
		// Alternate which goes first, so that neither always follows the
		// other's call.
		if i%2 == 0 {
			call(s.Daemon, &r.Daemon, &r.DaemonErrs)
			call(s.Control, &r.Control, &r.ControlErrs)
		} else {
			call(s.Control, &r.Control, &r.ControlErrs)
			call(s.Daemon, &r.Daemon, &r.DaemonErrs)
		}
		time.Sleep(s.Gap)
	}
	if err := json.NewEncoder(os.Stdout).Encode(r); err != nil {
		fmt.Fprintf(os.Stderr, "caller: %v\n", err)
		return 1
	}
	return 0
}

// callsFromHelper makes cfg.calls status calls to the daemon and as many
// to the control, alternating, each over a new connection as `zonegate
// status` makes one, from this binary run as the caller (on the
// benchmark's CPUs).
func callsFromHelper(cfg daemonConfig, daemonSocket, controlSocket, token string) (daemon, control callStats, err error) {
	self, err := os.Executable()
	if err != nil {
		return daemon, control, err
	}
	spec, err := json.Marshal(callerSpec{Daemon: daemonSocket, Control: controlSocket, Token: token, Calls: cfg.calls, Gap: cfg.gap})
	if err != nil {
		return daemon, control, err
	}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), callerEnv+"="+string(spec))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return daemon, control, fmt.Errorf("the status caller failed: %v\n%s", err, stderr.Bytes())
	}
	var r callerReport
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		return daemon, control, fmt.Errorf("the status caller's report: %v\n%s", err, stdout.Bytes())
	}
	daemon.took, control.took = r.Daemon, r.Control
	for _, e := range r.DaemonErrs {
		daemon.errs = append(daemon.errs, errors.New(e))
	}
	for _, e := range r.ControlErrs {
		control.errs = append(control.errs, errors.New(e))
	}
	return daemon, control, nil
}
