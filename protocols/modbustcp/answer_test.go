package modbustcp

import (
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/zonegate/zonegate/protocols/inspect"
	"github.com/zonegate/zonegate/protocols/modbus"
	"github.com/zonegate/zonegate/protocols/proxy"
)

// TestCheckAnswer: the codec's answer checks, request by request.
func TestCheckAnswer(t *testing.T) {
	spec := modbus.Spec{Mode: modbus.ModeMonitor} // every request parses and is forwarded
	regs := func(n int) []byte { return make([]byte, 2*n) }
	for _, c := range []struct {
		name     string
		req, ans []byte
		bad      bool
	}{
		{"FC 3 one register", pdu(3, 0, 1), cat([]byte{3, 2}, regs(1)), false},
		{"FC 3 byte count 251 for one register", pdu(3, 0, 1), cat([]byte{3, 251}, make([]byte, 251)), true},
		{"FC 3 byte count not the PDU's", pdu(3, 0, 2), cat([]byte{3, 4}, regs(1)), true},
		{"FC 3 two registers for one", pdu(3, 0, 1), cat([]byte{3, 4}, regs(2)), true},
		{"FC 4 125 registers", pdu(4, 0, 125), cat([]byte{4, 250}, regs(125)), false},
		{"FC 1 ten coils", pdu(1, 0, 10), []byte{1, 2, 0xff, 0x03}, false},
		{"FC 1 ten coils in one byte", pdu(1, 0, 10), []byte{1, 1, 0xff}, true},
		{"FC 2 eight inputs", pdu(2, 0, 8), []byte{2, 1, 0xff}, false},
		{"FC 6 echo", pdu(6, 10, 500), pdu(6, 10, 500), false},
		{"FC 6 other value", pdu(6, 10, 500), pdu(6, 10, 501), true},
		{"FC 6 other address", pdu(6, 10, 500), pdu(6, 11, 500), true},
		{"FC 5 echo", pdu(5, 3, 0xff00), pdu(5, 3, 0xff00), false},
		{"FC 5 other value", pdu(5, 3, 0xff00), pdu(5, 3, 0), true},
		{"FC 16 echo", cat(pdu(16, 10, 2), []byte{4}, be(1, 2)), pdu(16, 10, 2), false},
		{"FC 16 other quantity", cat(pdu(16, 10, 2), []byte{4}, be(1, 2)), pdu(16, 10, 1), true},
		{"FC 16 echo too long", cat(pdu(16, 10, 2), []byte{4}, be(1, 2)), cat(pdu(16, 10, 2), []byte{0}), true},
		{"FC 15 echo", cat(pdu(15, 0, 3), []byte{1, 5}), pdu(15, 0, 3), false},
		{"FC 22 echo", pdu(22, 10, 0xf0f0, 0x0101), pdu(22, 10, 0xf0f0, 0x0101), false},
		{"FC 22 other mask", pdu(22, 10, 0xf0f0, 0x0101), pdu(22, 10, 0xf0f0, 0x0102), true},
		{"FC 23 read half", cat(pdu(23, 0, 3, 10, 1), []byte{2}, be(7)), cat([]byte{23, 6}, regs(3)), false},
		{"FC 23 write half's count", cat(pdu(23, 0, 3, 10, 1), []byte{2}, be(7)), cat([]byte{23, 2}, regs(1)), true},
		{"exception", pdu(3, 0, 1), []byte{0x83, 2}, false},
		{"exception code 0", pdu(3, 0, 1), []byte{0x83, 0}, true},
		{"exception with a tail", pdu(3, 0, 1), []byte{0x83, 2, 0}, true},
		{"exception without a code", pdu(3, 0, 1), []byte{0x83}, true},
		{"FC 17 byte count", []byte{17}, []byte{17, 3, 1, 0xff, 0}, false},
		{"FC 17 byte count short", []byte{17}, []byte{17, 4, 1, 0xff, 0}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			v := evaluate(t, spec, adu(7, 1, c.req))
			sess := Codec{}.NewSession(proxy.Route{}).(proxy.AnswerChecker)
			got := sess.CheckAnswer(adu(7, 1, c.ans), &v.Record)
			if c.bad {
				assert.Equal(t, ReasonBadAnswer, got)
			} else {
				assert.Empty(t, got)
			}
		})
	}
}

// TestProxyBadAnswer: a 260-byte answer to a one-register read (byte
// count 251) never reaches the client: the request gets 0x0B, one
// upstream_bad_answer event is reported, the device connection is closed
// as desynchronised and the next request goes over a new one.
func TestProxyBadAnswer(t *testing.T) {
	up, conns := scripted(t, func(n int, c net.Conn, fr *modbus.Framer) {
		if n == 1 {
			f, err := fr.Next()
			if err != nil {
				return
			}
			c.Write(adu(f.TransactionID(), 1, cat([]byte{3, 251}, make([]byte, 251))))
			fr.Next() // until the proxy closes
			return
		}
		answering(n, c, fr)
	})
	e := newEnv(t, proxySpec(), up, nil)
	r := e.dialRaw()
	bad := adu(1, 1, cat([]byte{3, 251}, make([]byte, 251)))
	assert.Len(t, bad, 260)
	wantException(t, r.roundTrip(adu(1, 1, pdu(3, 4, 1))), 1, 3, modbus.ExGatewayTargetNoResponse)
	ev := e.sink.waitFor(t, "bad answer", func(ev recEvent) bool { return ev.Reason == ReasonBadAnswer })
	assert.Equal(t, inspect.Failure, ev.Kind)
	assert.Equal(t, modbus.Frame(adu(2, 1, cat([]byte{3, 2}, be(4)))), r.roundTrip(adu(2, 1, pdu(3, 4, 1))))
	assert.Equal(t, int64(2), conns.Load(), "the desynchronised device connection was replaced")
	assert.Equal(t, 1, e.sink.count(inspect.Failure, ReasonBadAnswer))
	assert.Zero(t, e.sink.count(inspect.Failure, proxy.ReasonUpstreamDesync), "one event: upstream_bad_answer")
}

// TestProxyDeadlineMidFrame: a request whose deadline passes while the
// device is inside another request's answer gets 0x0B, and the device
// connection stays: the answer being received completes and reaches its
// client, and the device sees one connection.
func TestProxyDeadlineMidFrame(t *testing.T) {
	up, conns := scripted(t, func(n int, c net.Conn, fr *modbus.Framer) {
		for {
			f, err := fr.Next()
			if err != nil {
				return
			}
			if f[9] == 99 { // never answered
				continue
			}
			resp := readResponse(f)
			c.Write(resp[:5])
			time.Sleep(300 * time.Millisecond) // request 1 expires meanwhile
			c.Write(resp[5:])
		}
	})
	e := newEnv(t, proxySpec(), up, func(c *proxy.Config) { c.ResponseTimeout = 400 * time.Millisecond })
	r := e.dialRaw()
	r.write(adu(1, 1, pdu(3, 99, 1)))
	time.Sleep(250 * time.Millisecond)
	r.write(adu(2, 1, pdu(3, 5, 1)))
	wantException(t, r.read(), 1, 3, modbus.ExGatewayTargetNoResponse)
	assert.Equal(t, modbus.Frame(adu(2, 1, cat([]byte{3, 2}, be(5)))), r.read(), "the answer that was mid-frame")
	assert.Equal(t, modbus.Frame(adu(3, 1, cat([]byte{3, 2}, be(6)))), r.roundTrip(adu(3, 1, pdu(3, 6, 1))))
	assert.Equal(t, int64(1), conns.Load(), "one device connection")
	assert.Zero(t, e.sink.count(inspect.Malformed, proxy.ReasonUpstreamFrame))
}

// TestProxyConduitFrameTimeout: a conduit's frame_timeout, not the
// engine's default, decides when a device that stops inside an answer
// loses its connection: the request gets 0x0B, one upstream_frame event
// is reported, and the next request connects again.
func TestProxyConduitFrameTimeout(t *testing.T) {
	up, conns := scripted(t, func(n int, c net.Conn, fr *modbus.Framer) {
		for {
			f, err := fr.Next()
			if err != nil {
				return
			}
			resp := readResponse(f)
			if f[9] == 7 { // stops inside its answer
				c.Write(resp[:5])
				continue
			}
			c.Write(resp)
		}
	})
	spec := proxySpec()
	spec.FrameTimeout = 100 * time.Millisecond
	e := newEnv(t, spec, up, func(c *proxy.Config) { c.ResponseTimeout = 30 * time.Second })
	r := e.dialRaw()
	r.write(adu(1, 1, pdu(3, 7, 1)))
	// With the engine's 10 s frame timeout and a 30 s response timeout
	// nothing would answer for 10 s; the conduit's 100 ms closes the
	// device connection, and its outstanding request gets 0x0B.
	wantException(t, r.read(), 1, 3, modbus.ExGatewayTargetNoResponse)
	e.sink.waitFor(t, "upstream_frame", func(ev recEvent) bool {
		return ev.Kind == inspect.Malformed && ev.Reason == proxy.ReasonUpstreamFrame
	})
	assert.Equal(t, 1, e.sink.count(inspect.Malformed, proxy.ReasonUpstreamFrame))
	assert.Equal(t, modbus.Frame(adu(2, 1, cat([]byte{3, 2}, be(5)))), r.roundTrip(adu(2, 1, pdu(3, 5, 1))))
	assert.Equal(t, int64(2), conns.Load(), "connected again after the frame timeout")
}
