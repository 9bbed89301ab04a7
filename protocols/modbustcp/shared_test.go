package modbustcp

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zonegate/zonegate/protocols/inspect"
	"github.com/zonegate/zonegate/protocols/modbus"
	"github.com/zonegate/zonegate/protocols/proxy"
)

// oneRead does one FC 3 read of addr over a new client connection and
// checks the answer; it returns what went wrong.
func oneRead(addr string, tid, reg uint16) error {
	c, err := net.DialTimeout("tcp", addr, hang)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(hang))
	if _, err := c.Write(adu(tid, 1, pdu(3, reg, 1))); err != nil {
		return err
	}
	f, err := modbus.NewFramer(c, nil).Next()
	if err != nil {
		return err
	}
	if want := adu(tid, 1, cat([]byte{3, 2}, be(reg))); string(f) != string(want) {
		return fmt.Errorf("request %d: got %x, want %x", tid, []byte(f), want)
	}
	return nil
}

// TestProxySharedDeviceConnection: 50 client connections, each reading
// its own registers with its own transaction ids at the same time, get
// their own answers over one device connection (the default
// max_device_connections); 200 short client connections after them
// (one request each) open no other.
func TestProxySharedDeviceConnection(t *testing.T) {
	up, conns := scripted(t, answering)
	e := newEnv(t, proxySpec(), up, nil)
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.DialTimeout("tcp", e.addr, hang)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			fr := modbus.NewFramer(c, nil)
			for j := range 20 {
				tid, reg := uint16(j+1), uint16(i+j)%97
				c.SetDeadline(time.Now().Add(hang))
				if _, err := c.Write(adu(tid, 1, pdu(3, reg, 1))); err != nil {
					errs <- err
					return
				}
				f, err := fr.Next()
				if err != nil {
					errs <- err
					return
				}
				if want := adu(tid, 1, cat([]byte{3, 2}, be(reg))); string(f) != string(want) {
					errs <- fmt.Errorf("client %d: got %x, want %x", i, []byte(f), want)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	assert.Equal(t, int64(1), conns.Load(), "50 clients, one device connection")
	for i := range 200 {
		require.NoError(t, oneRead(e.addr, uint16(i), uint16(i%97)))
	}
	assert.Equal(t, int64(1), conns.Load(), "200 more clients came and went, still one device connection")
}

// sequential is a device that answers one request at a time after a
// pause, and records how many of the proxy's requests it had received and
// not yet answered at most, and the registers in the order it received
// them.
type sequential struct {
	pause    time.Duration
	mu       sync.Mutex
	inFlight int
	max      int
	order    []uint16
}

func (s *sequential) serve(_ int, c net.Conn, fr *modbus.Framer) {
	reqs := make(chan modbus.Frame, 64)
	go func() {
		defer close(reqs)
		for {
			f, err := fr.Next()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.inFlight++
			s.max = max(s.max, s.inFlight)
			s.order = append(s.order, binary.BigEndian.Uint16(f[8:]))
			s.mu.Unlock()
			reqs <- modbus.Frame(append([]byte(nil), f...))
		}
	}()
	for f := range reqs {
		time.Sleep(s.pause)
		s.mu.Lock()
		s.inFlight--
		s.mu.Unlock()
		c.Write(readResponse(f))
	}
}

// TestProxyMaxInFlightAndFairness: with max_in_flight 1 the device never
// has two of the proxy's requests at a time, and a client's burst of 15
// pipelined requests does not starve another client's one request: the
// device receives it within the next two requests (round-robin per
// client connection), not after the burst.
func TestProxyMaxInFlightAndFairness(t *testing.T) {
	dev := &sequential{pause: 20 * time.Millisecond}
	up, conns := scripted(t, dev.serve)
	spec := proxySpec()
	spec.MaxInFlight = 1
	e := newEnv(t, spec, up, nil)
	a, b := e.dialRaw(), e.dialRaw()
	require.Equal(t, modbus.Frame(adu(1, 1, cat([]byte{3, 2}, be(0)))), a.roundTrip(adu(1, 1, pdu(3, 0, 1))), "connected")
	var burst [][]byte
	for i := uint16(1); i <= 15; i++ {
		burst = append(burst, adu(i, 1, pdu(3, i, 1)))
	}
	a.write(burst...)
	waitUntil(t, "the burst reaches the device", func() bool {
		dev.mu.Lock()
		defer dev.mu.Unlock()
		return len(dev.order) >= 2
	})
	b.write(adu(9, 1, pdu(3, 150, 1)))
	assert.Equal(t, modbus.Frame(adu(9, 1, cat([]byte{3, 2}, be(150)))), b.read())
	for i := uint16(1); i <= 15; i++ {
		assert.Equal(t, modbus.Frame(adu(i, 1, cat([]byte{3, 2}, be(i)))), a.read())
	}
	dev.mu.Lock()
	defer dev.mu.Unlock()
	assert.Equal(t, 1, dev.max, "max_in_flight 1")
	at := -1
	for i, r := range dev.order {
		if r == 150 {
			at = i
		}
	}
	seenBefore := 0
	for _, r := range dev.order[:at] {
		if r >= 1 && r <= 15 {
			seenBefore++
		}
	}
	t.Logf("device order: %v", dev.order)
	assert.LessOrEqual(t, seenBefore, 4, "client b's request came after at most the burst's requests already sent and two more")
	assert.Equal(t, int64(1), conns.Load())
}

// TestProxyQueueFull: a client's queue is bounded (MaxQueued): with one
// request in flight at a time, a burst beyond the queue gets exception
// 0x06 (device busy) for the requests that do not fit, reported as
// device_queue_full, while the others are answered by the device.
func TestProxyQueueFull(t *testing.T) {
	dev := &sequential{pause: 50 * time.Millisecond}
	up, _ := scripted(t, dev.serve)
	spec := proxySpec()
	spec.MaxInFlight = 1
	e := newEnv(t, spec, up, func(c *proxy.Config) { c.MaxQueued = 2 })
	r := e.dialRaw()
	require.Equal(t, modbus.Frame(adu(1, 1, cat([]byte{3, 2}, be(0)))), r.roundTrip(adu(1, 1, pdu(3, 0, 1))), "connected")
	var burst [][]byte
	for i := uint16(1); i <= 6; i++ {
		burst = append(burst, adu(i, 1, pdu(3, i, 1)))
	}
	r.write(burst...)
	busy, answered := 0, 0
	for range 6 {
		f := r.read()
		if f.Function() == 0x83 {
			wantException(t, f, f.TransactionID(), 3, modbus.ExServerDeviceBusy)
			busy++
		} else {
			answered++
		}
	}
	assert.Positive(t, busy)
	assert.GreaterOrEqual(t, answered, 3, "one in flight and two queued at least")
	e.sink.waitFor(t, "queue full", func(ev recEvent) bool { return ev.Reason == proxy.ReasonQueueFull })
}

// TestProxyHalfOpenDeviceRedialled: a device that keeps the socket open
// but never reads or answers (half open): after redial_after_timeouts
// requests in a row time out with no byte from it, the proxy closes the
// connection (upstream_silent) and the next request goes over a new one,
// on the same client connection.
func TestProxyHalfOpenDeviceRedialled(t *testing.T) {
	up, conns := scripted(t, func(n int, c net.Conn, fr *modbus.Framer) {
		if n == 1 {
			var b [1]byte
			c.Read(b[:0]) // never reads: the proxy's requests stay in its buffers
			time.Sleep(time.Minute)
			return
		}
		answering(n, c, fr)
	})
	spec := proxySpec()
	spec.ResponseTimeout = 200 * time.Millisecond
	e := newEnv(t, spec, up, nil)
	r := e.dialRaw()
	wantException(t, r.roundTrip(adu(1, 1, pdu(3, 4, 1))), 1, 3, modbus.ExGatewayTargetNoResponse)
	wantException(t, r.roundTrip(adu(2, 1, pdu(3, 4, 1))), 2, 3, modbus.ExGatewayTargetNoResponse)
	e.sink.waitFor(t, "silent device", func(ev recEvent) bool { return ev.Reason == proxy.ReasonUpstreamSilent })
	assert.Equal(t, modbus.Frame(adu(3, 1, cat([]byte{3, 2}, be(4)))), r.roundTrip(adu(3, 1, pdu(3, 4, 1))), "over a new device connection")
	assert.Equal(t, int64(2), conns.Load())
}

// TestProxyUnreachableDialBounded: a device whose SYNs are dropped (a
// dial that hangs until its context ends): the dial's deadline is the
// first waiting request's (the conduit's response_timeout, 300 ms), not
// the 3 s dial timeout, and that request and the two pipelined behind it
// get 0x0B at their deadlines.
func TestProxyUnreachableDialBounded(t *testing.T) {
	var dialDeadline atomic.Pointer[time.Time]
	spec := proxySpec()
	spec.ResponseTimeout = 300 * time.Millisecond
	e := newEnv(t, spec, netip.MustParseAddrPort("198.18.0.1:502"), func(c *proxy.Config) {
		c.DialTimeout = 3 * time.Second
		c.Dial = func(ctx context.Context, _, _ string) (net.Conn, error) {
			d, _ := ctx.Deadline()
			dialDeadline.Store(&d)
			<-ctx.Done()
			return nil, ctx.Err()
		}
	})
	r := e.dialRaw()
	sent := time.Now()
	r.write(adu(1, 1, pdu(3, 4, 1)), adu(2, 1, pdu(3, 5, 1)), adu(3, 1, pdu(3, 6, 1)))
	for i := uint16(1); i <= 3; i++ {
		f := r.read()
		wantException(t, f, f.TransactionID(), 3, modbus.ExGatewayTargetNoResponse)
	}
	d := dialDeadline.Load()
	require.NotNil(t, d)
	assert.True(t, d.Before(sent.Add(3*time.Second)), "the dial's deadline %v after the request, the request's is 300ms", d.Sub(sent))
	waitUntil(t, "three upstream_timeout events", func() bool { return e.sink.count(inspect.Failure, proxy.ReasonUpstreamTimeout) == 3 })
}

// TestProxyQueuedRequestExpiresUnsent: a request waiting in its client's
// queue (max_in_flight 1, the device busy with a request it never
// answers) gets 0x0B at its own deadline and is never sent afterwards: a
// client that was told its write failed must not see it happen later.
func TestProxyQueuedRequestExpiresUnsent(t *testing.T) {
	var mu sync.Mutex
	var seen []uint16
	up, conns := scripted(t, func(n int, c net.Conn, fr *modbus.Framer) {
		for {
			f, err := fr.Next()
			if err != nil {
				return
			}
			addr := binary.BigEndian.Uint16(f[8:])
			mu.Lock()
			seen = append(seen, addr)
			mu.Unlock()
			if addr != 99 {
				c.Write(readResponse(f))
			}
		}
	})
	spec := proxySpec()
	spec.MaxInFlight = 1
	spec.ResponseTimeout = 200 * time.Millisecond
	e := newEnv(t, spec, up, nil)
	r := e.dialRaw()
	r.write(adu(1, 1, pdu(3, 99, 1)), adu(2, 1, pdu(6, 12, 7)))
	for range 2 {
		f := r.read()
		wantException(t, f, f.TransactionID(), f.Function()&0x7f, modbus.ExGatewayTargetNoResponse)
	}
	assert.Equal(t, modbus.Frame(adu(3, 1, cat([]byte{3, 2}, be(6)))), r.roundTrip(adu(3, 1, pdu(3, 6, 1))))
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, []uint16{99, 6}, seen, "the queued write that timed out never reached the device")
	assert.Equal(t, int64(1), conns.Load())
	assert.Zero(t, e.sink.count(inspect.Write), "no write reported: it was never forwarded")
}
