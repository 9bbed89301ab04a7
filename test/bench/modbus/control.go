package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// controlEnv makes the benchmark binary run as the API scenario's
// control ("SOCKET BODYFILE"): a plain Go net/http server on a Unix
// socket that answers every GET with the JSON document in BODYFILE (the
// daemon's own /v1/status answer, fetched before the load), decoded once
// and encoded again per request, so each call costs what an ordinary
// JSON handler costs. Pinned to the daemon's CPU and called alternately
// with the daemon under the same load, it tells what the kernel's
// scheduling of that CPU alone costs an HTTP answer; the rest of the
// daemon's latency is its own. It is also the gc scenario's control on
// that CPU: a background goroutine allocates controlGarbage bytes every
// controlGarbageEvery (short-lived, as any busy Go program's), so that it
// collects garbage under the same conditions as the daemon.
const controlEnv = "BENCH_MODBUS_CONTROL"

// The control's background allocation: 25 MiB/s, a collection about
// every 200 ms at the runtime's 4 MiB minimum heap goal.
const (
	controlGarbage      = 256 << 10
	controlGarbageEvery = 10 * time.Millisecond
)

// garbage keeps the last allocation reachable until the next one.
var garbage []byte

// runControl serves until killed.
func runControl(spec string) int {
	var socket, bodyFile string
	if _, err := fmt.Sscan(spec, &socket, &bodyFile); err != nil {
		fmt.Fprintf(os.Stderr, "control: %s=%q: want \"SOCKET BODYFILE\"\n", controlEnv, spec)
		return 2
	}
	raw, err := os.ReadFile(bodyFile)
	if err != nil {
		fmt.Fprintf(os.Stderr, "control: %v\n", err)
		return 1
	}
	var doc any
	if err := json.Unmarshal(raw, &doc); err != nil {
		fmt.Fprintf(os.Stderr, "control: %s: %v\n", bodyFile, err)
		return 1
	}
	ln, err := net.Listen("unix", socket)
	if err != nil {
		fmt.Fprintf(os.Stderr, "control: %v\n", err)
		return 1
	}
	go func() {
		for range time.Tick(controlGarbageEvery) {
			garbage = make([]byte, controlGarbage)
		}
	}()
	srv := &http.Server{
		ReadHeaderTimeout: 10 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, err := json.Marshal(doc)
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(b)
		}),
	}
	err = srv.Serve(ln)
	fmt.Fprintf(os.Stderr, "control: %v\n", err)
	return 1
}

// startControl runs this binary as the control server on cpus, answering
// with body, its socket in dir.
func startControl(cpus, dir string, body []byte) (*proc, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	bodyFile := filepath.Join(dir, "control-body.json")
	if err := os.WriteFile(bodyFile, body, 0o600); err != nil {
		return nil, err
	}
	socket := filepath.Join(dir, "control.sock")
	cmd := command(cpus, self)
	cmd.Env = append(goEnv(), controlEnv+"="+socket+" "+bodyFile)
	return start("control", socket, cmd, func() error {
		c, err := net.DialTimeout("unix", socket, time.Second)
		if err != nil {
			return err
		}
		c.Close()
		return nil
	}, 10*time.Second)
}
