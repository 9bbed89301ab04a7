package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// The churn scenario: a fresh `zonegate modbus-proxy` takes n short
// connections (connect, one FC 3 read, close), parallel at a time, each
// worker from its own loopback source address (the proxy admits at most
// 32 connections per source, and a closed connection may still count for
// a moment). Its threads and open file descriptors are read fresh (idle
// after its start), before (idle after a warm-up: half a second of 64
// clients and churnWarmup short connections, so that the threads the
// runtime starts once for such work are there), during (the most seen,
// sampled every 20 ms) and after (once both are back at the level before,
// or churnSettle after the last connection). Back to the level before
// means that the connections leave nothing behind; a Go runtime keeps the
// threads it started, so "fresh" is shown beside it.

// churnSettle is how long the churn scenario waits for a proxy to close
// what the churn left behind.
const churnSettle = 5 * time.Second

// churnWarmup is the number of short connections of the warm-up.
const churnWarmup = 1000

// usage is a process's threads and open file descriptors at one moment.
type usage struct{ threads, fds int }

func (u usage) String() string { return fmt.Sprintf("%d threads, %d fds", u.threads, u.fds) }

func readUsage(pid int) (usage, error) {
	t, f, err := threadsAndFDs(pid)
	return usage{t, f}, err
}

// churnResult is what the churn scenario measured for one binary.
type churnResult struct {
	target                     target
	conns                      int
	took                       time.Duration
	failed                     int
	firstErr                   error
	fresh, before, peak, after usage
	settled                    time.Duration // from the last connection to "after"
	fdsBack                    time.Duration // from the last connection until fds were back; -1: never
	backToBaseline             bool
}

func (r churnResult) rate() float64 { return float64(r.conns) / r.took.Seconds() }

// runChurn measures one binary.
func runChurn(t target, cpus, dir, upstream string, n, parallel int) (churnResult, error) {
	res := churnResult{target: t, conns: n}
	p, err := startZonegate(t.name, t.bin, cpus, dir, upstream)
	if err != nil {
		return res, err
	}
	defer p.stop()
	time.Sleep(500 * time.Millisecond)
	if res.fresh, err = readUsage(p.pid()); err != nil {
		return res, err
	}
	if _, err := measure(t.name, loopback(p.addr), 64, 500*time.Millisecond, 0); err != nil {
		return res, err
	}
	if failed, err := churn(p.addr, min(churnWarmup, n), parallel); failed > 0 {
		return res, fmt.Errorf("warm-up: %d of %d short connections failed: %w", failed, min(churnWarmup, n), err)
	}
	time.Sleep(time.Second)
	if res.before, err = readUsage(p.pid()); err != nil {
		return res, err
	}

	var peak usage // written by the sampler, read once it ended
	stopSampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stopSampling:
				return
			case <-tick.C:
				if u, err := readUsage(p.pid()); err == nil {
					peak.threads = max(peak.threads, u.threads)
					peak.fds = max(peak.fds, u.fds)
				}
			}
		}
	}()

	begin := time.Now()
	res.failed, res.firstErr = churn(p.addr, n, parallel)
	res.took = time.Since(begin)
	close(stopSampling)
	<-sampled
	res.peak = peak

	end := time.Now()
	res.fdsBack = -1
	for {
		u, err := readUsage(p.pid())
		if err != nil {
			return res, err
		}
		res.after, res.settled = u, time.Since(end)
		if res.fdsBack < 0 && u.fds <= res.before.fds {
			res.fdsBack = res.settled
		}
		res.backToBaseline = u.threads <= res.before.threads && u.fds <= res.before.fds
		if res.backToBaseline || res.settled > churnSettle {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	return res, nil
}

// churn makes n short connections to addr, parallel at a time, and
// returns how many failed and the first error.
func churn(addr string, n, parallel int) (failed int, first error) {
	var next, nFailed atomic.Int64
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := range parallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			src := w * 16 // sourceAddr gives every 16 clients one address
			for next.Add(1) <= int64(n) {
				if err := shortConn(src, addr); err != nil {
					nFailed.Add(1)
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	return int(nFailed.Load()), first
}

// shortConn connects from client src's source address, does one read and
// closes.
func shortConn(src int, addr string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := dialFrom(ctx, src, addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		return err
	}
	if _, _, err := newClient(c).once(); err != nil {
		return fmt.Errorf("request on a short connection: %w", err)
	}
	return nil
}
