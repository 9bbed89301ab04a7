package modbusproxy

import (
	"bytes"
	"encoding/binary"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zonegate/zonegate/protocols/modbus"
)

// The loops' Ps come on top of the program's: GOMAXPROCS rises by the
// number of running loops and falls back when the proxy closes, and a
// second proxy's default number of loops is the program's GOMAXPROCS, not
// one inflated by the first proxy's loops.
func TestLoopsHoldTheirOwnProcs(t *testing.T) {
	base := runtime.GOMAXPROCS(0)
	first := newEnv(t, proxySpec(), netip.AddrPort{}, func(c *Config) { c.Loops = 3 })
	_, err := first.client(1).ReadHoldingRegisters(0, 1)
	require.NoError(t, err)
	require.Equal(t, base+3, runtime.GOMAXPROCS(0), "3 running loops hold 3 Ps on top of the program's")

	second := newEnv(t, proxySpec(), netip.AddrPort{}, nil)
	_, err = second.client(1).ReadHoldingRegisters(0, 1)
	require.NoError(t, err)
	require.Equal(t, base, second.proxy.cfg.Loops, "default loops: the program's GOMAXPROCS")
	require.Equal(t, base+3+base, runtime.GOMAXPROCS(0))

	require.NoError(t, second.proxy.Close())
	require.Equal(t, base+3, runtime.GOMAXPROCS(0), "a closed proxy gives its Ps back")
	require.NoError(t, first.proxy.Close())
	require.Equal(t, base, runtime.GOMAXPROCS(0))
}

// A loop sleeping in epoll_pwait keeps its P, but not from the runtime:
// with one P for the program and a loop whose sleep would last an hour
// (it parks in the runtime only after an hour without events), a
// garbage collection (which stops every P) still completes, and so does
// a request through the proxy. The scenario runs in a child process: if
// the loop did not yield, the child's runtime would stop for good, timers
// and test timeout included, and only the parent can tell.
func TestSleepingLoopYieldsToTheRuntime(t *testing.T) {
	if os.Getenv(sleepingLoopChild) == "1" {
		sleepingLoopScenario(t)
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestSleepingLoopYieldsToTheRuntime$", "-test.count=1")
	cmd.Env = append(os.Environ(), sleepingLoopChild+"=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Start())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		require.NoError(t, err, "child:\n%s", out.String())
	case <-time.After(hang):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("the child did not finish in %v: a sleeping loop held its P from the runtime\n%s", hang, out.String())
	}
}

const sleepingLoopChild = "ZONEGATE_TEST_SLEEPING_LOOP_CHILD"

func sleepingLoopScenario(t *testing.T) {
	runtime.GOMAXPROCS(1)
	parkAfter = time.Hour
	e := newEnv(t, proxySpec(), netip.AddrPort{}, func(c *Config) { c.Loops = 1; c.IdleTimeout = time.Hour })
	cl := e.client(1)
	_, err := cl.ReadHoldingRegisters(0, 1)
	require.NoError(t, err)
	for range 3 {
		time.Sleep(10 * time.Millisecond) // the loop is asleep in epoll_pwait
		runtime.GC()
		_, err := cl.ReadHoldingRegisters(0, 1)
		require.NoError(t, err)
	}
}

// An idle loop parks in the Go runtime (where a sleeping goroutine costs
// nothing and is not preempted every 10 ms), a request wakes it, it serves
// the request and parks again; so does a deadline (a device that does not
// answer gets 0x0B while the loop was parked).
func TestIdleLoopParks(t *testing.T) {
	up, _ := scripted(t, func(n int, c net.Conn, fr *modbus.Framer) {
		for {
			f, err := fr.Next()
			if err != nil {
				return
			}
			if binary.BigEndian.Uint16(f[8:]) == 99 {
				continue // register 99 is never answered
			}
			if _, err := c.Write(readResponse(f)); err != nil {
				return
			}
		}
	})
	e := newEnv(t, proxySpec(), up, func(c *Config) { c.Loops = 1; c.ResponseTimeout = 200 * time.Millisecond })
	r := e.dialRaw()
	parked := func() bool {
		e.proxy.mu.Lock()
		defer e.proxy.mu.Unlock()
		return len(e.proxy.loops) == 1 && e.proxy.loops[0].parked.Load()
	}
	for i := range 3 {
		waitUntil(t, "the idle loop parks", parked)
		req := adu(uint16(i), 1, pdu(3, 0, 2))
		f := r.roundTrip(req)
		equal(t, uint16(i), f.TransactionID())
		equal(t, modbus.FuncReadHoldingRegisters, f.Function(), "answer through a loop that was parked")
	}
	waitUntil(t, "the idle loop parks", parked)
	r.write(adu(7, 1, pdu(3, 99, 2)))
	wantException(t, r.read(), 7, modbus.FuncReadHoldingRegisters, modbus.ExGatewayTargetNoResponse)
	waitUntil(t, "the loop parks again", parked)
}
