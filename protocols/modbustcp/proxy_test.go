package modbustcp

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zonegate/zonegate/protocols/inspect"
	"github.com/zonegate/zonegate/protocols/modbus"
	"github.com/zonegate/zonegate/protocols/proxy"
)

func TestProxyAllowedReadAndWrite(t *testing.T) {
	e := newEnv(t, proxySpec(), netip.AddrPort{}, nil)
	c := e.client(1)
	got, err := c.ReadHoldingRegisters(5, 3)
	noErr(t, err)
	equal(t, be(1005, 1006, 1007), got)

	_, err = c.WriteMultipleRegisters(10, 2, be(7, 1000))
	noErr(t, err)
	equal(t, uint16(7), e.plc.register(10))
	equal(t, uint16(1000), e.plc.register(11))
	got, err = c.ReadHoldingRegisters(10, 2)
	noErr(t, err)
	equal(t, be(7, 1000), got)

	_, err = c.WriteSingleCoil(3, 0xFF00)
	noErr(t, err)
	coils, err := c.ReadCoils(0, 8)
	noErr(t, err)
	equal(t, []byte{0b1000}, coils)

	w := e.sink.waitFor(t, "write", func(ev recEvent) bool {
		return ev.Kind == inspect.Write && ev.Details["function"] == "16"
	})
	equal(t, "7,1000", w.Details["values"])
	equal(t, "10-11", w.Details["addresses"])
	equal(t, "unit 1 fc 16 addr 10-11", w.Summary)
	equal(t, "scada-to-plc", w.Conduit)
	equal(t, e.plc.addr, w.Destination)
	equal(t, true, w.Source.Addr().IsLoopback())
	e.sink.waitFor(t, "coil write", func(ev recEvent) bool {
		return ev.Kind == inspect.Write && ev.Details["function"] == "5" && ev.Details["values"] == "1"
	})
	equal(t, 0, e.sink.count(inspect.Denied))

	equal(t, uint64(5), e.requests("allowed"))
	equal(t, uint64(0), e.requests("denied"))
}

func TestProxyDenials(t *testing.T) {
	e := newEnv(t, proxySpec(), netip.AddrPort{}, nil)
	c := e.client(1)
	cases := []struct {
		name   string
		call   func() error
		ex     byte
		reason modbus.Reason
	}{
		{"write outside address range", func() error { _, err := c.WriteMultipleRegisters(50, 1, be(1)); return err }, 2, modbus.ReasonAddressDenied},
		{"write straddling the range end", func() error { _, err := c.WriteMultipleRegisters(19, 2, be(1, 1)); return err }, 2, modbus.ReasonAddressDenied},
		{"read outside address range", func() error { _, err := c.ReadHoldingRegisters(190, 20); return err }, 2, modbus.ReasonAddressDenied},
		{"value out of range", func() error { _, err := c.WriteSingleRegister(10, 1001); return err }, 3, modbus.ReasonValueDenied},
		{"one value of many out of range", func() error { _, err := c.WriteMultipleRegisters(10, 3, be(1, 5000, 2)); return err }, 3, modbus.ReasonValueDenied},
		{"function not allowed: input registers", func() error { _, err := c.ReadInputRegisters(0, 1); return err }, 1, modbus.ReasonFunctionDenied},
		{"function not allowed: discrete inputs", func() error { _, err := c.ReadDiscreteInputs(0, 1); return err }, 1, modbus.ReasonFunctionDenied},
		{"function not allowed: mask write on a value-limited register", func() error { _, err := c.MaskWriteRegister(10, 0xFFFF, 0); return err }, 3, modbus.ReasonMaskWriteDenied},
		{"function not allowed: fifo", func() error { _, err := c.ReadFIFOQueue(1); return err }, 1, modbus.ReasonFunctionDenied},
		{"unit not allowed", func() error { _, err := e.client(2).ReadHoldingRegisters(0, 1); return err }, 1, modbus.ReasonUnitNotAllowed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := e.plc.requests.Load()
			err := tc.call()
			equal(t, tc.ex, exception(err), "exception (error ", err, ")")
			equal(t, before, e.plc.requests.Load(), "requests reaching the PLC")
			e.sink.waitFor(t, "denied", func(ev recEvent) bool { return ev.Kind == inspect.Denied && ev.Reason == string(tc.reason) })
		})
	}
	// The connection survives denials.
	_, err := c.ReadHoldingRegisters(0, 1)
	noErr(t, err)
	equal(t, int64(1), e.plc.requests.Load())
	equal(t, int64(0), e.plc.writes.Load())
	equal(t, uint64(len(cases)), e.requests("denied"))
	waitUntil(t, "one event per denial", func() bool { return e.sink.count(inspect.Denied) == len(cases) })
}

func TestProxySanityDenials(t *testing.T) {
	e := newEnv(t, proxySpec(), netip.AddrPort{}, nil)
	r := e.dialRaw()
	for i, tc := range []struct {
		pdu []byte
		ex  modbus.ExceptionCode
	}{
		{pdu(3, 0, 126), modbus.ExIllegalDataValue},
		{pdu(3, 0, 0), modbus.ExIllegalDataValue},
		{pdu(3, 0xFFFF, 2), modbus.ExIllegalDataAddress},
		{pdu(5, 1, 0x1234), modbus.ExIllegalDataValue},
		{cat(pdu(16, 10, 2), []byte{3}, be(1, 2)), modbus.ExIllegalDataValue},
		{pdu(9), modbus.ExIllegalFunction},
		{pdu(0x90, 0), modbus.ExIllegalFunction},
		{pdu(8, 0x13, 0), modbus.ExIllegalFunction},
		{[]byte{43, 14, 9, 0}, modbus.ExIllegalDataValue},
	} {
		tid := uint16(100 + i)
		wantException(t, r.roundTrip(adu(tid, 1, tc.pdu)), tid, modbus.FunctionCode(tc.pdu[0]), tc.ex)
	}
	equal(t, int64(0), e.plc.requests.Load())
}

func TestProxyOnDenyReset(t *testing.T) {
	spec := proxySpec()
	spec.OnDeny = modbus.DenyReset
	e := newEnv(t, spec, netip.AddrPort{}, nil)
	r := e.dialRaw()
	f := r.roundTrip(adu(1, 1, pdu(3, 0, 2)))
	equal(t, modbus.FuncReadHoldingRegisters, f.Function())
	r.write(adu(2, 1, pdu(6, 50, 1)))
	err := r.expectClosed()
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("connection closed with %v, want a reset", err)
	}
	equal(t, int64(1), e.plc.requests.Load())
	e.sink.waitFor(t, "denied", func(ev recEvent) bool {
		return ev.Kind == inspect.Denied && ev.Reason == string(modbus.ReasonAddressDenied)
	})
	waitUntil(t, "connection gone", func() bool { return e.proxy.ActiveConns() == 0 })
}

func TestProxyMonitorForwards(t *testing.T) {
	spec := proxySpec()
	spec.Mode = modbus.ModeMonitor
	e := newEnv(t, spec, netip.AddrPort{}, nil)
	c := e.client(1)
	_, err := c.WriteSingleRegister(50, 4242) // outside the address range
	noErr(t, err)
	equal(t, uint16(4242), e.plc.register(50))
	_, err = c.ReadInputRegisters(0, 2) // function not allowed
	noErr(t, err)
	d := e.sink.waitFor(t, "monitored denial", func(ev recEvent) bool {
		return ev.Kind == inspect.Denied && ev.Summary == "unit 1 fc 6 addr 50"
	})
	equal(t, true, d.Monitor)
	equal(t, string(modbus.ReasonAddressDenied), d.Reason)
	w := e.sink.waitFor(t, "write", func(ev recEvent) bool { return ev.Kind == inspect.Write && ev.Details["addresses"] == "50" })
	equal(t, true, w.Monitor)
	equal(t, int64(2), e.plc.requests.Load())
	equal(t, uint64(2), e.requests("monitored"))
	equal(t, uint64(0), e.requests("denied"))
}

func TestProxyPipelinedAnswersByTransaction(t *testing.T) {
	// Denied requests are answered at once, forwarded ones when the device
	// answers: every request gets exactly its own answer, matched by
	// transaction id.
	e := newEnv(t, proxySpec(), netip.AddrPort{}, nil)
	r := e.dialRaw()
	var frames [][]byte
	for i := range 40 {
		switch i % 4 {
		case 0, 1:
			frames = append(frames, adu(uint16(i), 1, pdu(3, uint16(100+i), 2)))
		case 2:
			frames = append(frames, adu(uint16(i), 1, pdu(4, 0, 1))) // denied: 01
		case 3:
			frames = append(frames, adu(uint16(i), 1, pdu(6, 19, uint16(i)))) // allowed write
		}
	}
	r.write(frames...)
	got := map[uint16]modbus.Frame{}
	for range 40 {
		f := r.read()
		require.NotContains(t, got, f.TransactionID(), "one answer per request")
		got[f.TransactionID()] = f
	}
	for i := range 40 {
		f := got[uint16(i)]
		require.NotNil(t, f, "answer to request %d", i)
		switch i % 4 {
		case 0, 1:
			assert.Equal(t, []byte{3, 4}, []byte(f.PDU()[:2]))
			assert.Equal(t, be(uint16(1100+i), uint16(1101+i)), []byte(f.PDU()[2:]))
		case 2:
			wantException(t, f, uint16(i), 4, modbus.ExIllegalFunction)
		case 3:
			assert.Equal(t, pdu(6, 19, uint16(i)), []byte(f.PDU()))
		}
	}
	assert.Equal(t, int64(30), e.plc.requests.Load())
}

func TestProxyOutOfOrderUpstream(t *testing.T) {
	// A device answering two pipelined requests in reverse order: each
	// answer goes to the client as it arrives, with its own transaction id.
	up, _ := scripted(t, func(_ int, c net.Conn, fr *modbus.Framer) {
		for {
			a, err := fr.Next()
			if err != nil {
				return
			}
			ra := readResponse(a)
			b, err := fr.Next()
			if err != nil {
				return
			}
			c.Write(cat(readResponse(b), ra))
		}
	})
	e := newEnv(t, proxySpec(), up, nil)
	r := e.dialRaw()
	r.write(adu(7, 1, pdu(3, 1, 1)), adu(8, 1, pdu(3, 2, 1)))
	assert.Equal(t, modbus.Frame(adu(8, 1, cat([]byte{3, 2}, be(2)))), r.read())
	assert.Equal(t, modbus.Frame(adu(7, 1, cat([]byte{3, 2}, be(1)))), r.read())
}

func TestProxyUpstreamTimeout(t *testing.T) {
	// The device answers every request except those for address 99.
	up, _ := scripted(t, func(_ int, c net.Conn, fr *modbus.Framer) {
		for {
			f, err := fr.Next()
			if err != nil {
				return
			}
			if binary.BigEndian.Uint16(f[8:]) != 99 {
				c.Write(readResponse(f))
			}
		}
	})
	e := newEnv(t, proxySpec(), up, func(c *proxy.Config) { c.ResponseTimeout = 200 * time.Millisecond })
	r := e.dialRaw()
	r.write(adu(1, 1, pdu(3, 99, 1)), adu(2, 1, pdu(3, 5, 1)))
	assert.Equal(t, modbus.Frame(adu(2, 1, cat([]byte{3, 2}, be(5)))), r.read(), "the answered request first")
	wantException(t, r.read(), 1, 3, modbus.ExGatewayTargetNoResponse)
	ev := e.sink.waitFor(t, "timeout", func(ev recEvent) bool { return ev.Reason == proxy.ReasonUpstreamTimeout })
	assert.Equal(t, inspect.Failure, ev.Kind)
	assert.Equal(t, "unit 1 fc 3 addr 99", ev.Summary)
	// The upstream connection stays usable.
	assert.Equal(t, modbus.Frame(adu(3, 1, cat([]byte{3, 2}, be(6)))), r.roundTrip(adu(3, 1, pdu(3, 6, 1))))
}

func TestProxyUpstreamUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	noErr(t, err)
	dead := ln.Addr().(*net.TCPAddr).AddrPort()
	ln.Close()
	e := newEnv(t, proxySpec(), dead, nil)
	r := e.dialRaw()
	wantException(t, r.roundTrip(adu(5, 1, pdu(3, 0, 1))), 5, 3, modbus.ExGatewayPathUnavailable)
	wantException(t, r.roundTrip(adu(6, 1, pdu(3, 0, 1))), 6, 3, modbus.ExGatewayPathUnavailable)
	ev := e.sink.waitFor(t, "unreachable", func(ev recEvent) bool { return ev.Reason == proxy.ReasonUpstreamDial })
	equal(t, inspect.Failure, ev.Kind)
	// Denied requests are still answered by policy, not by 0x0A.
	wantException(t, r.roundTrip(adu(7, 1, pdu(4, 0, 1))), 7, 4, modbus.ExIllegalFunction)

	// Once the device is up, the same client connection reaches it (after
	// the redial backoff).
	ln, err = net.Listen("tcp", dead.String())
	if err != nil {
		t.Skipf("cannot listen on %v again: %v", dead, err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		fr := modbus.NewFramer(c, nil)
		for {
			f, err := fr.Next()
			if err != nil {
				return
			}
			c.Write(readResponse(f))
		}
	}()
	waitUntil(t, "device reachable through the proxy", func() bool {
		return r.roundTrip(adu(8, 1, pdu(3, 3, 1))).Function() == modbus.FuncReadHoldingRegisters
	})
}

func TestProxyUpstreamClosesAndRedials(t *testing.T) {
	// The first device connection closes on its first request; later ones
	// answer.
	up, conns := scripted(t, func(n int, c net.Conn, fr *modbus.Framer) {
		for {
			f, err := fr.Next()
			if err != nil || n == 1 {
				return
			}
			c.Write(readResponse(f))
		}
	})
	e := newEnv(t, proxySpec(), up, nil)
	r := e.dialRaw()
	wantException(t, r.roundTrip(adu(1, 1, pdu(3, 4, 1))), 1, 3, modbus.ExGatewayTargetNoResponse)
	e.sink.waitFor(t, "upstream closed", func(ev recEvent) bool { return ev.Reason == proxy.ReasonUpstreamClosed })
	equal(t, modbus.Frame(adu(2, 1, cat([]byte{3, 2}, be(4)))), r.roundTrip(adu(2, 1, pdu(3, 4, 1))))
	equal(t, int64(2), conns.Load())
}

// TestProxyUnsolicitedAndMismatchedResponses: a device answer that pairs
// with no waiting request (a wrong transaction id), or pairs by id but
// not by unit or function, while a request waits, desynchronises the
// device stream: the client gets 0x0B at once (the response timeout is a
// minute, beyond the test's read deadline), one upstream_desync event is
// reported, and the next request gets a fresh device connection. An
// answer while nothing waits is dropped and counted, and the device
// connection stays.
func TestProxyUnsolicitedAndMismatchedResponses(t *testing.T) {
	up, conns := scripted(t, func(_ int, c net.Conn, fr *modbus.Framer) {
		for {
			f, err := fr.Next()
			if err != nil {
				return
			}
			switch binary.BigEndian.Uint16(f[8:]) {
			case 1: // an unknown transaction first, then the answer
				c.Write(cat(adu(f.TransactionID()+1000, 1, []byte{3, 2, 0, 0}), readResponse(f)))
			case 2: // wrong function code only
				c.Write(adu(f.TransactionID(), f.Unit(), []byte{4, 2, 0, 0}))
			case 3: // wrong unit only
				c.Write(adu(f.TransactionID(), f.Unit()+1, []byte{3, 2, 0, 0}))
			case 4: // a device exception is passed through
				c.Write(modbus.AppendException(nil, f.TransactionID(), f.Unit(), 3, modbus.ExServerDeviceFailure))
			case 5: // the answer, then an unsolicited one when nothing waits
				c.Write(cat(readResponse(f), adu(f.TransactionID()+2000, 1, []byte{3, 2, 0, 0})))
			default:
				c.Write(readResponse(f))
			}
		}
	})
	e := newEnv(t, proxySpec(), up, func(c *proxy.Config) { c.ResponseTimeout = time.Minute })
	r := e.dialRaw()
	desyncs := func() int { return e.sink.count(inspect.Failure, proxy.ReasonUpstreamDesync) }
	for i, addr := range []uint16{1, 2, 3} {
		tid := uint16(10 + i)
		wantException(t, r.roundTrip(adu(tid, 1, pdu(3, addr, 1))), tid, 3, modbus.ExGatewayTargetNoResponse)
		waitUntil(t, "one upstream_desync event", func() bool { return desyncs() == i+1 })
	}
	assert.Equal(t, int64(3), conns.Load(), "a device connection per desync")
	wantException(t, r.roundTrip(adu(13, 1, pdu(3, 4, 1))), 13, 3, modbus.ExServerDeviceFailure)
	equal(t, modbus.Frame(adu(14, 1, cat([]byte{3, 2}, be(5)))), r.roundTrip(adu(14, 1, pdu(3, 5, 1))))
	e.sink.waitFor(t, "unsolicited", func(ev recEvent) bool {
		return ev.Kind == inspect.Failure && ev.Reason == proxy.ReasonUnsolicited
	})
	equal(t, modbus.Frame(adu(15, 1, cat([]byte{3, 2}, be(6)))), r.roundTrip(adu(15, 1, pdu(3, 6, 1))))
	assert.Equal(t, int64(4), conns.Load(), "an unsolicited answer keeps the device connection")
	assert.Equal(t, 3, desyncs())
	assert.Zero(t, e.sink.count(inspect.Failure, proxy.ReasonUpstreamTimeout))
}

func TestProxyMalformedUpstream(t *testing.T) {
	up, _ := scripted(t, func(_ int, c net.Conn, fr *modbus.Framer) {
		if _, err := fr.Next(); err == nil {
			c.Write([]byte{0, 1, 0x55, 0x55, 0, 3, 1, 3, 0})
			time.Sleep(time.Second)
		}
	})
	e := newEnv(t, proxySpec(), up, nil)
	r := e.dialRaw()
	wantException(t, r.roundTrip(adu(1, 1, pdu(3, 0, 1))), 1, 3, modbus.ExGatewayTargetNoResponse)
	e.sink.waitFor(t, "malformed upstream", func(ev recEvent) bool { return ev.Kind == inspect.Malformed })
}

// goodClient reads through the proxy until stop is closed and reports
// the number of successful reads and the first failure.
func goodClient(t *testing.T, addr string, stop chan struct{}) func() (int, error) {
	c := goburrowClient(t, addr, 1)
	var n atomic.Int64
	var first error
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			got, err := c.ReadHoldingRegisters(3, 1)
			if err == nil && string(got) != string(be(1003)) {
				err = errors.New("wrong value")
			}
			if err != nil {
				first = err
				return
			}
			n.Add(1)
		}
	}()
	return func() (int, error) {
		<-done
		return int(n.Load()), first
	}
}

func TestProxyMalformedClients(t *testing.T) {
	e := newEnv(t, proxySpec(), netip.AddrPort{}, func(c *proxy.Config) {
		c.FrameTimeout = 300 * time.Millisecond
		c.WriteTimeout = 500 * time.Millisecond
		c.ResponseTimeout = hang // slow machines: the good client must not see 0x0B
	})
	stop := make(chan struct{})
	result := goodClient(t, e.addr, stop)

	cases := []struct {
		name      string
		stream    []byte
		answers   int  // exceptions before the connection closes
		malformed bool // reported as a malformed frame (else: frame timeout)
	}{
		{"garbage", []byte("GET / HTTP/1.1\r\nHost: plc\r\n\r\n"), 0, true},
		{"wrong protocol id", []byte{0, 1, 0, 1, 0, 6, 1, 3, 0, 0, 0, 1}, 0, true},
		{"length field too short", []byte{0, 1, 0, 0, 0, 1, 1}, 0, true},
		{"length field too long", cat([]byte{0, 1, 0, 0, 0x01, 0x00, 1, 3}, make([]byte, 300)), 0, true},
		// A frame of unit id and function code only (03), then the rest
		// read as a header with protocol id 1.
		{"length lies: says less than sent", cat([]byte{0, 1, 0, 0, 0, 2, 1, 3}, be(0, 1)), 1, true},
		{"length lies: says more than sent", []byte{0, 1, 0, 0, 0, 20, 1, 3, 0, 0, 0, 1}, 0, false},
		{"header cut short", []byte{0, 1, 0}, 0, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := e.sink.count(inspect.Malformed)
			r := e.dialRaw()
			r.write(tc.stream)
			for range tc.answers {
				equal(t, modbus.FunctionCode(0x83), r.read().Function())
			}
			r.expectClosed()
			if tc.malformed {
				waitUntil(t, "malformed event", func() bool { return e.sink.count(inspect.Malformed) > before })
			}
		})
	}
	t.Run("1-byte trickle of a valid request", func(t *testing.T) {
		// Through a proxy with the default frame timeout to the same
		// PLC: the short one above would make the trickle's pace a
		// matter of the machine's load.
		r := newEnv(t, proxySpec(), e.upstream, nil).dialRaw()
		for _, b := range adu(77, 1, pdu(3, 8, 1)) {
			r.write([]byte{b})
			time.Sleep(time.Millisecond)
		}
		equal(t, modbus.Frame(adu(77, 1, cat([]byte{3, 2}, be(1008)))), r.read())
	})
	t.Run("10,000 pipelined requests", func(t *testing.T) { pipelined(t, e, 10000) })
	t.Run("client that never reads", func(t *testing.T) {
		// A tiny receive buffer makes the proxy's writes block.
		d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
			return rc.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 2048) })
		}}
		c, err := d.Dial("tcp", e.addr)
		noErr(t, err)
		defer c.Close()
		req := adu(1, 1, pdu(3, 0, 125))
		wrote := make(chan error, 1)
		go func() {
			var err error
			for err == nil {
				c.SetWriteDeadline(time.Now().Add(hang))
				_, err = c.Write(bytesRepeat(req, 100))
			}
			wrote <- err
		}()
		select {
		case err := <-wrote:
			if err == nil || isTimeout(err) {
				t.Fatalf("the proxy kept a client that does not read: %v", err)
			}
		case <-time.After(2 * hang):
			t.Fatal("writer stuck")
		}
	})
	close(stop)
	n, err := result()
	noErr(t, err, "the good client failed while others misbehaved")
	if n == 0 {
		t.Error("the good client made no request")
	}
	t.Logf("good client: %d reads meanwhile", n)
	// No malformed frame reached the PLC: it saw the good client's reads,
	// the trickled one and the pipelined ones, no more.
	// the trickled one, the pipelined ones and the non-reader's reads of 125
	// registers, no more.
	equal(t, int64(n+1+9000), e.plc.requests.Load()-e.plc.bigReads.Load())
}

func bytesRepeat(b []byte, n int) []byte {
	var out []byte
	for range n {
		out = append(out, b...)
	}
	return out
}

// pipelined sends n requests in one stream, every tenth denied, while
// reading the answers concurrently; each must get its own answer. The
// caller checks what reached the PLC.
func pipelined(t *testing.T, e *env, n int) {
	r := e.dialRaw()
	go func() {
		buf := make([]byte, 0, 12*n)
		for i := range n {
			if i%10 == 9 {
				buf = append(buf, adu(uint16(i), 1, pdu(3, 500, 1))...) // denied: 02
			} else {
				buf = append(buf, adu(uint16(i), 1, pdu(3, uint16(i%100), 1))...)
			}
		}
		r.c.SetWriteDeadline(time.Now().Add(hang))
		r.c.Write(buf)
	}()
	seen := make([]bool, n)
	for range n {
		f := r.read()
		i := int(f.TransactionID())
		if i >= n || seen[i] {
			t.Fatalf("unexpected or repeated answer with transaction id %d", i)
		}
		seen[i] = true
		if i%10 == 9 {
			wantException(t, f, uint16(i), 3, modbus.ExIllegalDataAddress)
		} else if want := adu(uint16(i), 1, cat([]byte{3, 2}, be(uint16(1000+i%100)))); string(f) != string(want) {
			t.Fatalf("response %d: %x, want %x", i, []byte(f), want)
		}
	}
}

func TestProxyWaitForRingSpaceDoesNotExpireWrites(t *testing.T) {
	// Requests that wait for a free slot longer than the write timeout are
	// still forwarded: deadlines count from the moment of forwarding.
	up, _ := scripted(t, func(_ int, c net.Conn, fr *modbus.Framer) {
		for {
			f, err := fr.Next()
			if err != nil {
				return
			}
			time.Sleep(300 * time.Millisecond)
			c.Write(readResponse(f))
		}
	})
	e := newEnv(t, proxySpec(), up, func(c *proxy.Config) {
		c.MaxOutstanding = 1
		c.WriteTimeout = 100 * time.Millisecond
		c.ResponseTimeout = hang
	})
	r := e.dialRaw()
	r.write(adu(1, 1, pdu(3, 1, 1)), adu(2, 1, pdu(3, 2, 1)), adu(3, 1, pdu(3, 3, 1)))
	for i := uint16(1); i <= 3; i++ {
		equal(t, modbus.Frame(adu(i, 1, cat([]byte{3, 2}, be(i)))), r.read())
	}
}
