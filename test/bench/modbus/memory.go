package main

import (
	"fmt"
	"io"
	"time"
)

// The memory scenario: the resident set size (VmRSS) of a fresh proxy
// idle after a short warm-up load, with n open idle client connections,
// and after one request on each of them (the proxy then also holds n
// upstream connections).

// memory measures one proxy started by startProc and returns its RSS
// with the idle connections (issue 3's goal) in KiB.
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
	if _, err := measure(name, loopback(p.addr), 4, 200*time.Millisecond, 0); err != nil {
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
	fmt.Fprintf(w, "  %-8s idle %6.1f MiB | %d idle client conns %6.1f MiB (+%.1f KiB/conn) | after one request each (upstream conns open too) %6.1f MiB (+%.1f KiB/conn)\n",
		name, mib(idle), n, mib(open), float64(open-idle)/float64(n), mib(used), float64(used-idle)/float64(n))
	return max(open, used), nil
}

func mib(kib int) float64 { return float64(kib) / 1024 }
