package modbustcp

import (
	"context"
	"encoding/binary"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zonegate/zonegate/protocols/inspect"
	"github.com/zonegate/zonegate/protocols/modbus"
	"github.com/zonegate/zonegate/protocols/proxy"
)

// answering is a device that answers reads at once, except a read of
// address 99 (never answered) and of address 98 (answered with a wrong
// transaction id).
func answering(_ int, c net.Conn, fr *modbus.Framer) {
	for {
		f, err := fr.Next()
		if err != nil {
			return
		}
		switch binary.BigEndian.Uint16(f[8:]) {
		case 99:
		case 98:
			resp := readResponse(f)
			modbus.Frame(resp).SetTransactionID(f.TransactionID() + 1000)
			c.Write(resp)
		default:
			c.Write(readResponse(f))
		}
	}
}

// TestProxyNoHeadOfLineBlocking: a request the device leaves unanswered
// holds up none of the requests after it. The unanswered request's
// deadline is a minute away: every other answer arrives while it is still
// outstanding, which the test observes by the order of what the client
// receives, not by time.
func TestProxyNoHeadOfLineBlocking(t *testing.T) {
	up, _ := scripted(t, answering)
	e := newEnv(t, proxySpec(), up, func(c *proxy.Config) { c.ResponseTimeout = time.Minute })
	r := e.dialRaw()
	frames := [][]byte{adu(1, 1, pdu(3, 99, 1))}
	for i := uint16(2); i <= 10; i++ {
		frames = append(frames, adu(i, 1, pdu(3, i, 1)))
	}
	r.write(frames...)
	for i := uint16(2); i <= 10; i++ {
		assert.Equal(t, modbus.Frame(adu(i, 1, cat([]byte{3, 2}, be(i)))), r.read(), "answer %d while request 1 is outstanding", i)
	}
	// One more round trip after them, request 1 still outstanding.
	assert.Equal(t, modbus.Frame(adu(11, 1, cat([]byte{3, 2}, be(11)))), r.roundTrip(adu(11, 1, pdu(3, 11, 1))))
	assert.Zero(t, e.sink.count(inspect.Failure, proxy.ReasonUpstreamTimeout), "request 1 has not timed out")
}

// TestProxyWrongTransactionIDAnswersAtOnce: a device that answers a
// request with a wrong transaction id while requests wait has lost track
// of them: every request waiting on that device connection gets 0x0B at
// once (the response timeout is a minute, beyond the test's read
// deadline), not at its deadline, with one upstream_desync event; the
// requests after them go over a fresh device connection.
func TestProxyWrongTransactionIDAnswersAtOnce(t *testing.T) {
	up, conns := scripted(t, answering)
	e := newEnv(t, proxySpec(), up, func(c *proxy.Config) { c.ResponseTimeout = time.Minute })
	r := e.dialRaw()
	frames := [][]byte{adu(1, 1, pdu(3, 98, 1))}
	for i := uint16(2); i <= 10; i++ {
		frames = append(frames, adu(i, 1, pdu(3, i, 1)))
	}
	r.write(frames...)
	got := map[uint16]modbus.Frame{}
	for range 10 {
		f := r.read()
		require.NotContains(t, got, f.TransactionID(), "one answer per request")
		got[f.TransactionID()] = f
	}
	wantException(t, got[1], 1, 3, modbus.ExGatewayTargetNoResponse)
	for i := uint16(2); i <= 10; i++ {
		if got[i].Function() == 0x83 {
			wantException(t, got[i], i, 3, modbus.ExGatewayTargetNoResponse) // waiting when the device lost track
		} else {
			assert.Equal(t, modbus.Frame(adu(i, 1, cat([]byte{3, 2}, be(i)))), got[i], "answer %d over a fresh device connection", i)
		}
	}
	assert.Equal(t, modbus.Frame(adu(11, 1, cat([]byte{3, 2}, be(11)))), r.roundTrip(adu(11, 1, pdu(3, 11, 1))))
	assert.Equal(t, int64(2), conns.Load(), "one fresh device connection")
	waitUntil(t, "the desync event", func() bool { return e.sink.count(inspect.Failure, proxy.ReasonUpstreamDesync) > 0 })
	assert.Equal(t, 1, e.sink.count(inspect.Failure, proxy.ReasonUpstreamDesync), "one event for the desync")
	assert.Zero(t, e.sink.count(inspect.Failure, proxy.ReasonUpstreamTimeout))
}

// TestProxyConduitResponseTimeout: the policy's response timeout wins
// over the proxy's default, and the unanswered request gets 0x0B after
// the answered one.
func TestProxyConduitResponseTimeout(t *testing.T) {
	up, _ := scripted(t, answering)
	spec := proxySpec()
	spec.ResponseTimeout = 50 * time.Millisecond
	e := newEnv(t, spec, up, func(c *proxy.Config) { c.ResponseTimeout = time.Minute })
	r := e.dialRaw()
	r.write(adu(1, 1, pdu(3, 99, 1)), adu(2, 1, pdu(3, 2, 1)))
	assert.Equal(t, modbus.Frame(adu(2, 1, cat([]byte{3, 2}, be(2)))), r.read())
	wantException(t, r.read(), 1, 3, modbus.ExGatewayTargetNoResponse)
	ev := e.sink.waitFor(t, "timeout", func(ev recEvent) bool { return ev.Reason == proxy.ReasonUpstreamTimeout })
	assert.Equal(t, inspect.Failure, ev.Kind)
	assert.Equal(t, "unit 1 fc 3 addr 99", ev.Summary)
}

// TestProxyDeviceDesync: a device reply whose MBAP length overstates its
// body leaves the device stream inside a frame. The requests' times run
// out first (0x0B each, the connection stays); when the partial frame has
// made no progress for the frame timeout, the proxy closes that device
// connection, and the next request gets a fresh connection.
func TestProxyDeviceDesync(t *testing.T) {
	up, conns := scripted(t, func(n int, c net.Conn, fr *modbus.Framer) {
		if n == 1 {
			f, err := fr.Next()
			if err != nil {
				return
			}
			// Length 200, then 5 bytes of body: a half frame.
			c.Write([]byte{byte(f.TransactionID() >> 8), byte(f.TransactionID()), 0, 0, 0, 200, 1, 3, 2, 0, 4})
			for {
				if _, err := fr.Next(); err != nil {
					return
				}
			}
		}
		answering(n, c, fr)
	})
	e := newEnv(t, proxySpec(), up, func(c *proxy.Config) {
		c.ResponseTimeout = 200 * time.Millisecond
		c.FrameTimeout = 300 * time.Millisecond
		c.RedialAfter = 10 // the frame timeout, not two silent timeouts, closes the connection
	})
	r := e.dialRaw()
	r.write(adu(1, 1, pdu(3, 4, 1)), adu(2, 1, pdu(3, 5, 1)))
	got := map[uint16]modbus.Frame{}
	for range 2 {
		f := r.read()
		got[f.TransactionID()] = f
	}
	require.Len(t, got, 2)
	wantException(t, got[1], 1, 3, modbus.ExGatewayTargetNoResponse)
	wantException(t, got[2], 2, 3, modbus.ExGatewayTargetNoResponse)
	e.sink.waitFor(t, "device frame timeout", func(ev recEvent) bool {
		return ev.Kind == inspect.Malformed && ev.Reason == proxy.ReasonUpstreamFrame
	})

	assert.Equal(t, modbus.Frame(adu(3, 1, cat([]byte{3, 2}, be(6)))), r.roundTrip(adu(3, 1, pdu(3, 6, 1))), "a fresh device connection")
	assert.Equal(t, int64(2), conns.Load())
}

// TestProxyMalformedDeviceFrames: a device frame with a bad header closes
// the device connection; its requests get 0x0B and the next request
// connects again.
func TestProxyMalformedDeviceFrames(t *testing.T) {
	for name, reply := range map[string][]byte{
		"length 0":        {0, 0, 0, 0, 0, 0, 1, 3},
		"length too long": {0, 0, 0, 0, 1, 0, 1, 3},
		"protocol id 1":   {0, 0, 0, 1, 0, 3, 1, 3, 0},
	} {
		t.Run(name, func(t *testing.T) {
			up, conns := scripted(t, func(n int, c net.Conn, fr *modbus.Framer) {
				if n == 1 {
					f, err := fr.Next()
					if err != nil {
						return
					}
					bad := append([]byte(nil), reply...)
					binary.BigEndian.PutUint16(bad, f.TransactionID())
					c.Write(bad)
					fr.Next() // until the proxy closes
					return
				}
				answering(n, c, fr)
			})
			e := newEnv(t, proxySpec(), up, nil)
			r := e.dialRaw()
			wantException(t, r.roundTrip(adu(1, 1, pdu(3, 4, 1))), 1, 3, modbus.ExGatewayTargetNoResponse)
			e.sink.waitFor(t, "malformed device frame", func(ev recEvent) bool { return ev.Kind == inspect.Malformed })
			assert.Equal(t, modbus.Frame(adu(2, 1, cat([]byte{3, 2}, be(4)))), r.roundTrip(adu(2, 1, pdu(3, 4, 1))))
			assert.Equal(t, int64(2), conns.Load())
		})
	}
}

// TestProxyDiagnosticsSubFunctions: a diagnostics rule without a list lets
// the echo through and answers restart communications itself.
func TestProxyDiagnosticsSubFunctions(t *testing.T) {
	up, _ := scripted(t, func(_ int, c net.Conn, fr *modbus.Framer) {
		for {
			f, err := fr.Next()
			if err != nil {
				return
			}
			c.Write(f) // FC 8 answers echo the request
		}
	})
	spec := proxySpec()
	spec.Rules = append(spec.Rules, modbus.Rule{Access: modbus.AccessFunction, Function: modbus.FuncDiagnostics})
	e := newEnv(t, spec, up, nil)
	r := e.dialRaw()
	echo := adu(1, 1, pdu(8, modbus.DiagReturnQueryData, 0xA5A5))
	assert.Equal(t, modbus.Frame(echo), r.roundTrip(echo), "the echo reaches the device")
	wantException(t, r.roundTrip(adu(2, 1, pdu(8, modbus.DiagRestartCommunications, 0xFF00))), 2, 8, modbus.ExIllegalFunction)
	wantException(t, r.roundTrip(adu(3, 1, pdu(8, modbus.DiagForceListenOnly, 0))), 3, 8, modbus.ExIllegalFunction)
	ev := e.sink.waitFor(t, "denied", func(ev recEvent) bool { return ev.Kind == inspect.Denied })
	assert.Equal(t, string(modbus.ReasonDiagSubFunction), ev.Reason)
	assert.Equal(t, uint64(1), e.requests("allowed"))
	assert.Equal(t, uint64(2), e.requests("denied"))
}

// TestProxyCloseConnsWhileDialing: a connection closed while its device
// connection is being set up releases everything.
func TestProxyCloseConnsWhileDialing(t *testing.T) {
	release := make(chan struct{})
	e := newEnv(t, proxySpec(), netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), 1), func(c *proxy.Config) {
		c.Dial = func(_ context.Context, _, address string) (net.Conn, error) {
			<-release
			return nil, net.ErrClosed
		}
	})
	r := e.dialRaw()
	r.write(adu(1, 1, pdu(3, 4, 1)))
	waitUntil(t, "request held for the dial", func() bool {
		return e.requests("allowed") == 1
	})
	assert.Equal(t, 1, e.proxy.CloseConns(func(proxy.Route, netip.AddrPort) bool { return true }))
	assert.Error(t, r.expectClosed())
	close(release)
	waitUntil(t, "connection released", func() bool { return e.proxy.ActiveConns() == 0 })
}

// TestProxyTruncatedFrameThenFIN: a client that sends part of a frame and
// its FIN together is reset and reported, however the two arrive (the
// sockets are edge-triggered: the end of the stream must not be missed
// after a short read).
func TestProxyTruncatedFrameThenFIN(t *testing.T) {
	e := newEnv(t, proxySpec(), netip.AddrPort{}, nil)
	for range 20 {
		r := e.dialRaw()
		before := e.sink.count(inspect.Malformed)
		r.write([]byte{0, 1, 0, 0, 0, 200, 1, 3, 0, 0, 0, 1})
		require.NoError(t, r.c.(*net.TCPConn).CloseWrite())
		assert.Error(t, r.expectClosed())
		waitUntil(t, "malformed event", func() bool { return e.sink.count(inspect.Malformed) > before })
	}
}
