package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sort"
	"sync"
	"time"
)

// Latency histogram: 100 ns buckets up to 2 ms, exact values above.
const (
	histBucket = 100 * time.Nanosecond
	histMax    = 2 * time.Millisecond
	histLen    = int(histMax / histBucket)
)

// histogram records request latencies without allocating per request.
type histogram struct {
	n      uint64
	counts []uint32
	over   []time.Duration
}

func newHistogram() *histogram { return &histogram{counts: make([]uint32, histLen)} }

func (h *histogram) add(d time.Duration) {
	h.n++
	if d < histMax {
		h.counts[d/histBucket]++
		return
	}
	h.over = append(h.over, d)
}

func (h *histogram) merge(o *histogram) {
	h.n += o.n
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.over = append(h.over, o.over...)
}

// quantile returns the q-quantile (0 < q < 1), at bucket resolution.
func (h *histogram) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(q * float64(h.n))
	var seen uint64
	for i, c := range h.counts {
		seen += uint64(c)
		if seen > rank {
			return time.Duration(i)*histBucket + histBucket/2
		}
	}
	sort.Slice(h.over, func(i, j int) bool { return h.over[i] < h.over[j] })
	i := int(rank - seen)
	if i >= len(h.over) {
		i = len(h.over) - 1
	}
	return h.over[i]
}

// sourceAddr returns the loopback source address of client i: 16 clients
// per address, because zonegate's proxy admits at most 32 connections per
// source address by default (Config.MaxConnsPerSource) and has no flag to
// change it. All paths use the same sources.
func sourceAddr(i int) *net.TCPAddr {
	n := 1 + i/16
	return &net.TCPAddr{IP: net.IPv4(127, 0, byte(1+n/250), byte(1+n%250))}
}

// dialFrom connects to addr from client i's source address.
func dialFrom(ctx context.Context, i int, addr string) (net.Conn, error) {
	d := net.Dialer{LocalAddr: sourceAddr(i), Timeout: 5 * time.Second}
	return d.DialContext(ctx, "tcp", addr)
}

// result is one measurement of one path at one concurrency.
type result struct {
	path     string
	clients  int
	requests uint64
	elapsed  time.Duration
	p50, p99 time.Duration
	// cpu is the CPU time the proxy process used during the measurement
	// (0 for the direct path).
	cpu  time.Duration
	hist *histogram // the latencies behind p50 and p99
}

// add adds the slice o of the same measurement to r.
func (r *result) add(o result) {
	if r.hist == nil {
		*r = o
		return
	}
	r.requests += o.requests
	r.elapsed += o.elapsed
	r.cpu += o.cpu
	r.hist.merge(o.hist)
	r.p50, r.p99 = r.hist.quantile(0.50), r.hist.quantile(0.99)
}

func (r result) rps() float64 { return float64(r.requests) / r.elapsed.Seconds() }

// client is one connection doing FC 3 reads of 10 registers back to back:
// write one request, read its response, check it, repeat.
type client struct {
	c    net.Conn
	req  [12]byte
	resp [64]byte
	h    *histogram
	tid  uint16
}

const readQty = 10

func newClient(c net.Conn) *client {
	cl := &client{c: c, h: newHistogram()}
	copy(cl.req[:], []byte{0, 0, 0, 0, 0, 6, 1, 3, 0, 0, 0, readQty})
	return cl
}

// respLen is the size of a response to a read of readQty registers.
const respLen = 9 + 2*readQty

// once does one request and returns when it ended and its latency.
func (cl *client) once() (time.Time, time.Duration, error) {
	cl.tid++
	binary.BigEndian.PutUint16(cl.req[0:], cl.tid)
	addr := cl.tid % 90
	binary.BigEndian.PutUint16(cl.req[8:], addr)
	start := time.Now()
	if _, err := cl.c.Write(cl.req[:]); err != nil {
		return start, 0, err
	}
	if _, err := io.ReadFull(cl.c, cl.resp[:respLen]); err != nil {
		return start, 0, err
	}
	now := time.Now()
	r := cl.resp[:respLen]
	if binary.BigEndian.Uint16(r[0:]) != cl.tid || r[7] != 3 || r[8] != 2*readQty ||
		binary.BigEndian.Uint16(r[9:]) != addr {
		return now, 0, fmt.Errorf("wrong response % x to request % x", r, cl.req)
	}
	return now, now.Sub(start), nil
}

// measure connects n clients to addr, warms them up, then lets them run
// for dur and returns the merged counts and latencies, and the CPU time
// process pid (the proxy; 0: none) used while they ran.
func measure(path, addr string, n int, dur time.Duration, pid int) (result, error) {
	ctx := context.Background()
	clients := make([]*client, n)
	defer func() {
		for _, cl := range clients {
			if cl != nil {
				cl.c.Close()
			}
		}
	}()
	for i := range clients {
		c, err := dialFrom(ctx, i, addr)
		if err != nil {
			return result{}, fmt.Errorf("%s: connect client %d: %w", path, i, err)
		}
		clients[i] = newClient(c)
	}
	// Warm-up: connects the proxies' upstream sides and the caches.
	for _, cl := range clients {
		for j := 0; j < 50; j++ {
			if _, _, err := cl.once(); err != nil {
				return result{}, fmt.Errorf("%s: warm-up: %w", path, err)
			}
		}
		cl.h = newHistogram()
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	var cpuBefore time.Duration
	if pid != 0 {
		cpuBefore, _ = cpuTime(pid)
	}
	start := time.Now()
	end := start.Add(dur)
	for _, cl := range clients {
		wg.Add(1)
		go func(cl *client) {
			defer wg.Done()
			for {
				done, d, err := cl.once()
				if err != nil {
					errs <- err
					return
				}
				cl.h.add(d)
				if done.After(end) {
					return
				}
			}
		}(cl)
	}
	wg.Wait()
	elapsed := time.Since(start)
	var cpu time.Duration
	if pid != 0 {
		after, _ := cpuTime(pid)
		cpu = after - cpuBefore
	}
	close(errs)
	if err := errors.Join(collect(errs)...); err != nil {
		return result{}, fmt.Errorf("%s with %d clients: %w", path, n, err)
	}
	all := newHistogram()
	for _, cl := range clients {
		all.merge(cl.h)
	}
	return result{path: path, clients: n, requests: all.n, elapsed: elapsed, p50: all.quantile(0.50), p99: all.quantile(0.99), cpu: cpu, hist: all}, nil
}

func collect(ch <-chan error) []error {
	var out []error
	for err := range ch {
		out = append(out, err)
	}
	return out
}
