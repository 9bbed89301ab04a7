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
	"sync/atomic"
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
	cl := &client{c: c} // the load sets h after its warm-up
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

// dialFunc connects client i of a load.
type dialFunc func(ctx context.Context, i int) (net.Conn, error)

// loopback dials addr from client i's loopback source address.
func loopback(addr string) dialFunc {
	return func(ctx context.Context, i int) (net.Conn, error) { return dialFrom(ctx, i, addr) }
}

// loadRun is a load of n clients: connected and warmed up by connectLoad,
// running from begin until stop.
type loadRun struct {
	path      string
	clients   []*client
	pid       int // the proxy whose CPU time is measured; 0: none
	stopping  atomic.Bool
	wg        sync.WaitGroup
	errs      chan error
	start     time.Time
	cpuBefore time.Duration
}

// connectLoad connects n clients with dial and warms each up with 50
// requests (which connects the proxies' upstream sides and fills the
// caches).
func connectLoad(path string, dial dialFunc, n int) (*loadRun, error) {
	l := &loadRun{path: path, clients: make([]*client, n), errs: make(chan error, n)}
	ctx := context.Background()
	for i := range l.clients {
		c, err := dial(ctx, i)
		if err != nil {
			l.close()
			return nil, fmt.Errorf("%s: connect client %d: %w", path, i, err)
		}
		l.clients[i] = newClient(c)
	}
	for _, cl := range l.clients {
		for j := 0; j < 50; j++ {
			if _, _, err := cl.once(); err != nil {
				l.close()
				return nil, fmt.Errorf("%s: warm-up: %w", path, err)
			}
		}
		cl.h = newHistogram()
	}
	return l, nil
}

// begin lets every client do requests back to back until stop, and
// starts counting the CPU time of process pid (0: none).
func (l *loadRun) begin(pid int) {
	l.pid = pid
	if pid != 0 {
		l.cpuBefore, _ = cpuTime(pid)
	}
	l.start = time.Now()
	for _, cl := range l.clients {
		l.wg.Add(1)
		go func(cl *client) {
			defer l.wg.Done()
			for !l.stopping.Load() {
				_, d, err := cl.once()
				if err != nil {
					l.errs <- err
					return
				}
				cl.h.add(d)
			}
		}(cl)
	}
}

// stop ends the load, closes the connections and returns the merged
// counts and latencies. A client that failed stopped at its error; the
// errors are returned beside the result of the others.
func (l *loadRun) stop() (result, error) {
	l.stopping.Store(true)
	l.wg.Wait()
	elapsed := time.Since(l.start)
	var cpu time.Duration
	if l.pid != 0 {
		after, _ := cpuTime(l.pid)
		cpu = after - l.cpuBefore
	}
	l.close()
	close(l.errs)
	var err error
	if errs := collect(l.errs); len(errs) > 0 {
		err = fmt.Errorf("%s with %d clients: %d client(s) failed: %w", l.path, len(l.clients), len(errs), errors.Join(errs...))
	}
	all := newHistogram()
	for _, cl := range l.clients {
		all.merge(cl.h)
	}
	return result{path: l.path, clients: len(l.clients), requests: all.n, elapsed: elapsed,
		p50: all.quantile(0.50), p99: all.quantile(0.99), cpu: cpu, hist: all}, err
}

func (l *loadRun) close() {
	for _, cl := range l.clients {
		if cl != nil {
			cl.c.Close()
		}
	}
}

// measure connects n clients with dial, warms them up, then lets them run
// for dur and returns the merged counts and latencies, and the CPU time
// process pid (the proxy; 0: none) used while they ran.
func measure(path string, dial dialFunc, n int, dur time.Duration, pid int) (result, error) {
	l, err := connectLoad(path, dial, n)
	if err != nil {
		return result{}, err
	}
	l.begin(pid)
	time.Sleep(dur)
	return l.stop()
}

func collect(ch <-chan error) []error {
	var out []error
	for err := range ch {
		out = append(out, err)
	}
	return out
}
