package modbustcp

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/zonegate/zonegate/protocols/inspect"
	"github.com/zonegate/zonegate/protocols/modbus"
	"github.com/zonegate/zonegate/protocols/proxy"
)

func TestProxyPerSourceLimit(t *testing.T) {
	e := newEnv(t, proxySpec(), netip.AddrPort{}, func(c *proxy.Config) { c.MaxConnsPerSource = 2 })
	a, b := e.dialRaw(), e.dialRaw()
	for _, r := range []*rawConn{a, b} {
		equal(t, modbus.FuncReadHoldingRegisters, r.roundTrip(adu(1, 1, pdu(3, 0, 1))).Function())
	}
	expectRefused(t, e.addr)
	ev := e.sink.waitFor(t, "refused", func(ev recEvent) bool { return ev.Kind == inspect.Refused })
	equal(t, proxy.ReasonConnLimitSource, ev.Reason)
	equal(t, "scada-to-plc", ev.Conduit)
	equal(t, int64(2), e.plc.requests.Load())

	// Closing one makes room again.
	a.c.Close()
	waitUntil(t, "connection released", func() bool { return e.proxy.ActiveConns() == 1 })
	d := e.dialRaw()
	equal(t, modbus.FuncReadHoldingRegisters, d.roundTrip(adu(2, 1, pdu(3, 0, 1))).Function())
	equal(t, 1, e.sink.count(inspect.Refused), "one refusal, one event")
}

// expectRefused checks that the proxy drops a new connection: the connect
// itself may already see the reset.
func expectRefused(t *testing.T, addr string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, hang)
	if err != nil {
		isErr(t, err, syscall.ECONNRESET, "connect")
		return
	}
	r := &rawConn{t: t, c: c, fr: modbus.NewFramer(c, nil)}
	defer c.Close()
	c.Write(adu(1, 1, pdu(3, 0, 1)))
	r.expectClosed()
}

func TestProxyTotalLimit(t *testing.T) {
	e := newEnv(t, proxySpec(), netip.AddrPort{}, func(c *proxy.Config) { c.MaxConns = 1 })
	a := e.dialRaw()
	equal(t, modbus.FuncReadHoldingRegisters, a.roundTrip(adu(1, 1, pdu(3, 0, 1))).Function())
	expectRefused(t, e.addr)
	equal(t, proxy.ReasonConnLimitTotal, e.sink.waitFor(t, "refused", func(ev recEvent) bool { return ev.Kind == inspect.Refused }).Reason)
}

func TestProxyIdleAndFrameTimeout(t *testing.T) {
	e := newEnv(t, proxySpec(), netip.AddrPort{}, func(c *proxy.Config) {
		c.IdleTimeout = 300 * time.Millisecond
		c.FrameTimeout = 300 * time.Millisecond
	})
	idle := e.dialRaw()
	equal(t, modbus.FuncReadHoldingRegisters, idle.roundTrip(adu(1, 1, pdu(3, 0, 1))).Function())
	partial := e.dialRaw()
	partial.write(adu(2, 1, pdu(3, 0, 1))[:9])
	isErr(t, idle.expectClosed(), io.EOF, "idle connection")
	isErr(t, partial.expectClosed(), io.EOF, "connection with a partial frame")
	waitUntil(t, "connections released", func() bool { return e.proxy.ActiveConns() == 0 })
}

func TestProxyTrickleWithinFrameTimeout(t *testing.T) {
	// A client sending one byte at a time is served as long as each frame
	// completes within the frame timeout.
	e := newEnv(t, proxySpec(), netip.AddrPort{}, nil)
	r := e.dialRaw()
	for i := range 3 {
		for _, b := range adu(uint16(i), 1, pdu(3, uint16(i), 1)) {
			r.write([]byte{b})
		}
		equal(t, modbus.Frame(adu(uint16(i), 1, cat([]byte{3, 2}, be(uint16(1000+i))))), r.read())
	}
}

func TestProxyPolicySwap(t *testing.T) {
	e := newEnv(t, proxySpec(), netip.AddrPort{}, nil)
	c := e.client(1)
	_, err := c.WriteSingleRegister(12, 5)
	noErr(t, err)
	// Swap to a read-only policy: the same connection gets 01 for writes.
	e.setPolicy(modbus.Spec{Rules: []modbus.Rule{{Access: modbus.AccessRead, Table: modbus.HoldingRegisters, Addresses: modbus.Range{Lo: 0, Hi: 199}}}})
	_, err = c.WriteSingleRegister(12, 6)
	equal(t, byte(1), exception(err))
	_, err = c.ReadHoldingRegisters(12, 1)
	noErr(t, err)
	equal(t, uint16(5), e.plc.register(12))
	// And to monitor mode: forwarded again.
	mon := proxySpec()
	mon.Mode = modbus.ModeMonitor
	mon.Rules = nil
	e.setPolicy(mon)
	_, err = c.WriteSingleRegister(12, 7)
	noErr(t, err)
	equal(t, uint16(7), e.plc.register(12))
}

func TestProxyRateLimit(t *testing.T) {
	spec := proxySpec()
	spec.MaxRate = 3
	var mu sync.Mutex
	now := time.Unix(100, 0)
	e := newEnv(t, spec, netip.AddrPort{}, func(c *proxy.Config) {
		c.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	})
	r := e.dialRaw()
	for i := range 3 {
		equal(t, modbus.FuncReadHoldingRegisters, r.roundTrip(adu(uint16(i), 1, pdu(3, 0, 1))).Function())
	}
	wantException(t, r.roundTrip(adu(9, 1, pdu(3, 0, 1))), 9, 3, modbus.ExServerDeviceBusy)
	equal(t, string(modbus.ReasonRateLimited), e.sink.waitFor(t, "rate", func(ev recEvent) bool { return ev.Kind == inspect.Denied }).Reason)
	mu.Lock()
	now = now.Add(time.Second)
	mu.Unlock()
	equal(t, modbus.FuncReadHoldingRegisters, r.roundTrip(adu(10, 1, pdu(3, 0, 1))).Function())
	// Every connection has its own bucket.
	equal(t, modbus.FuncReadHoldingRegisters, e.dialRaw().roundTrip(adu(11, 1, pdu(3, 0, 1))).Function())
	equal(t, int64(5), e.plc.requests.Load())
}

func TestProxyRouteError(t *testing.T) {
	e := newEnv(t, proxySpec(), netip.AddrPort{}, func(c *proxy.Config) {
		c.Route = func(net.Conn) (proxy.Route, error) {
			return proxy.Route{}, errors.New("no conduit for this destination")
		}
	})
	expectRefused(t, e.addr)
	ev := e.sink.waitFor(t, "refused", func(ev recEvent) bool { return ev.Kind == inspect.Refused })
	equal(t, proxy.ReasonNoRoute, ev.Reason)
}

func TestProxyShutdownDrains(t *testing.T) {
	release := make(chan struct{})
	up, _ := scripted(t, func(_ int, c net.Conn, fr *modbus.Framer) {
		for {
			f, err := fr.Next()
			if err != nil {
				return
			}
			<-release
			c.Write(readResponse(f))
		}
	})
	e := newEnv(t, proxySpec(), up, nil)
	r := e.dialRaw()
	r.write(adu(1, 1, pdu(3, 4, 1)))
	waitUntil(t, "request forwarded", func() bool {
		return e.requests("allowed") == 1
	})
	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), hang)
		defer cancel()
		shut <- e.proxy.Shutdown(ctx)
	}()
	// New connections are refused while the old one drains.
	waitUntil(t, "listener closed", func() bool {
		c, err := net.Dial("tcp", e.addr)
		if err == nil {
			c.Close()
		}
		return err != nil
	})
	close(release)
	equal(t, modbus.Frame(adu(1, 1, cat([]byte{3, 2}, be(4)))), r.read())
	isErr(t, r.expectClosed(), io.EOF)
	noErr(t, <-shut)
	isErr(t, <-e.served, proxy.ErrClosed)
}

func TestProxyShutdownDeadline(t *testing.T) {
	up, _ := scripted(t, func(_ int, c net.Conn, fr *modbus.Framer) { fr.Next(); time.Sleep(hang) })
	e := newEnv(t, proxySpec(), up, func(c *proxy.Config) { c.ResponseTimeout = hang })
	r := e.dialRaw()
	r.write(adu(1, 1, pdu(3, 4, 1)))
	waitUntil(t, "request forwarded", func() bool {
		return e.requests("allowed") == 1
	})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	isErr(t, e.proxy.Shutdown(ctx), context.DeadlineExceeded)
	r.expectClosed()
	equal(t, 0, e.proxy.ActiveConns())
}

func TestProxyClose(t *testing.T) {
	e := newEnv(t, proxySpec(), netip.AddrPort{}, nil)
	rs := []*rawConn{e.dialRaw(), e.dialRaw(), e.dialRaw()}
	for _, r := range rs {
		equal(t, modbus.FuncReadHoldingRegisters, r.roundTrip(adu(1, 1, pdu(3, 0, 1))).Function())
	}
	noErr(t, e.proxy.Close())
	for _, r := range rs {
		r.expectClosed()
	}
	isErr(t, <-e.served, proxy.ErrClosed)
	equal(t, 0, e.proxy.ActiveConns())
	isErr(t, e.proxy.Serve(nil), proxy.ErrClosed)
}

func TestServeRequiresRoute(t *testing.T) {
	p, err := proxy.New(proxy.Config{}, Codec{})
	noErr(t, err)
	defer p.Close()
	if err := p.Serve(nil); err == nil || !strings.Contains(err.Error(), "Route") {
		t.Fatalf("Serve without Route: %v", err)
	}
}

// TestProxyMemoryIdleConnections opens 1,000 client connections, each with
// one request answered (so each also has its device connection), and
// checks what they cost. The figure covers this whole test process: the
// proxy, the clients and the fake device, so it overstates the proxy.
func TestProxyMemoryIdleConnections(t *testing.T) {
	if testing.Short() {
		t.Skip("opens 4,000 sockets; skipped with -short")
	}
	const n = 1000
	up, _ := scripted(t, func(_ int, c net.Conn, fr *modbus.Framer) {
		for {
			f, err := fr.Next()
			if err != nil {
				return
			}
			c.Write(readResponse(f))
		}
	})
	e := newEnv(t, proxySpec(), up, func(c *proxy.Config) {
		c.MaxConns = n + 10
		c.MaxConnsPerSource = n + 10
	})
	before := memInUse()
	rssBefore := rss()
	conns := make([]*rawConn, n)
	for i := range conns {
		conns[i] = e.dialRaw()
		conns[i].roundTrip(adu(1, 1, pdu(3, 0, 1)))
	}
	equal(t, n, e.proxy.ActiveConns())
	after := memInUse()
	perConn := (int64(after) - int64(before)) / n
	t.Logf("%d idle connections: Go heap+stacks %+d KiB (%d bytes per connection, proxy + client + device sides); RSS %+d KiB",
		n, (int64(after)-int64(before))/1024, perConn, (rss()-rssBefore)/1024)
	if limit := int64(64 << 20 / n / 2); perConn > limit {
		t.Errorf("%d bytes per idle connection, want under %d (32 MiB per 1,000)", perConn, limit)
	}
}

func memInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse + m.StackInuse
}

// rss returns the resident set size in bytes, or 0.
func rss() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

// TestProxyNoAllocationsPerRequest checks that a forwarded request and its
// response cost the proxy no heap allocation in steady state. The client
// and the device here do not allocate either, so the process-wide count is
// the proxy's.
func TestProxyNoAllocationsPerRequest(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates: allocation counts are meaningless under -race")
	}
	up, _ := scripted(t, func(_ int, c net.Conn, fr *modbus.Framer) {
		resp := adu(0, 1, []byte{3, 2, 0, 42})
		for {
			f, err := fr.Next()
			if err != nil {
				return
			}
			modbus.Frame(resp).SetTransactionID(f.TransactionID())
			if _, err := c.Write(resp); err != nil {
				return
			}
		}
	})
	e := newEnv(t, proxySpec(), up, nil)
	r := e.dialRaw()
	req := modbus.Frame(adu(1, 1, pdu(3, 0, 1)))
	roundTrip := func(i int) {
		req.SetTransactionID(uint16(i))
		if _, err := r.c.Write(req); err != nil {
			t.Fatal(err)
		}
		f, err := r.fr.Next()
		if err != nil || f.TransactionID() != uint16(i) {
			t.Fatalf("round trip %d: %x %v", i, []byte(f), err)
		}
	}
	for i := range 2000 {
		roundTrip(i)
	}
	const n = 5000
	runtime.GC()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	for i := range n {
		roundTrip(i)
	}
	runtime.ReadMemStats(&m1)
	per := float64(m1.Mallocs-m0.Mallocs) / n
	t.Logf("%.3f allocations per proxied round trip", per)
	if per > 0.05 {
		t.Errorf("%.3f allocations per proxied round trip, want 0", per)
	}
}
