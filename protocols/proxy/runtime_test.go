package proxy

import (
	"bufio"
	"net"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestBusyLoopYieldsToTheRuntime: with one P (a gateway with one CPU), a
// loop that always has work, and so never sleeps, still lets the rest of
// the program run: the management API's connections (here a TCP echo on
// the netpoller) are served, and a garbage collection completes. The loop
// is kept busy by a task that posts itself again, so it has an event in
// every round and never parks. The test proves the mechanism (the loop
// yields, and the echo works through it); how fast the echo answers is
// measured by the benchmark (make bench-modbus), not asserted here.
func TestBusyLoopYieldsToTheRuntime(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	env := newToy(t, toyCodec{}, echoDevice, func(c *Config) { c.Loops = 1 })
	l := env.e.loops[0]
	var stop atomic.Bool
	var rounds atomic.Int64
	var spin func()
	spin = func() {
		rounds.Add(1)
		if !stop.Load() {
			l.post(spin)
		}
	}
	l.post(spin)
	defer stop.Store(true)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadBytes('\n')
					if err != nil {
						return
					}
					c.Write(line)
				}
			}()
		}
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	defer c.Close()
	r := bufio.NewReader(c)
	var slowest time.Duration
	for range 100 {
		start := time.Now()
		_, err := c.Write([]byte("status\n"))
		require.NoError(t, err)
		c.SetReadDeadline(time.Now().Add(hang))
		line, err := r.ReadString('\n')
		require.NoError(t, err)
		require.Equal(t, "status\n", line)
		slowest = max(slowest, time.Since(start))
	}
	runtime.GC()
	before := rounds.Load()
	waitUntil(t, "the loop still busy", func() bool { return rounds.Load() > before })
	assert.NotZero(t, l.waiter.yields.Load(), "the busy loop yielded")
	t.Logf("100 echo round trips beside a busy loop on one P: slowest %v; %d loop rounds, %d yields", slowest, rounds.Load(), l.waiter.yields.Load())

	// The proxy itself still answers.
	stop.Store(true)
	assert.Equal(t, "h", env.hello().roundTrip("H"))
}

// TestIdleLoopParks: an idle loop sleeps in the runtime (where it costs
// nothing and is never preempted), a request wakes it, and so does a
// deadline (a device that does not answer gets the answer at its
// deadline while the loop was parked).
func TestIdleLoopParks(t *testing.T) {
	env := newToy(t, toyCodec{keys: 256}, func(n int, body []byte, reply func(...[]byte)) {
		if body[0] != 'S' {
			echoDevice(n, body, reply)
		}
	}, func(c *Config) { c.Loops = 1 })
	l := env.e.loops[0]
	parked := func() bool { return l.waiter.parked.Load() }
	c := env.hello()
	for range 3 {
		waitUntil(t, "the idle loop parks", parked)
		assert.Equal(t, "aR", c.roundTrip("R"), "answered through a loop that was parked")
	}
	waitUntil(t, "the idle loop parks", parked)
	assert.Equal(t, "T\x00", c.roundTrip("S\x14"), "a deadline wakes a parked loop")
	waitUntil(t, "the loop parks again", parked)
}
