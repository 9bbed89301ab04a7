package e2e

import (
	"encoding/binary"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// mbBystander keeps one well-behaved client busy with reads through the
// proxy and records how it fares.
type mbBystander struct {
	stop    chan struct{}
	done    chan struct{}
	n       atomic.Int64
	mu      sync.Mutex
	errs    []error
	maxWait time.Duration
}

func mbStartBystander(t *testing.T, ns, target string) *mbBystander {
	t.Helper()
	c := mbDial(t, ns, target)
	b := &mbBystander{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(b.done)
		for i := 0; ; i++ {
			select {
			case <-b.stop:
				return
			default:
			}
			addr := uint16(i % 90)
			start := time.Now()
			pdu, err := c.do(1, mbReadHR(addr, 10)...)
			if err == nil {
				err = mbCheckRegs(pdu, addr, 10)
			}
			wait := time.Since(start)
			b.mu.Lock()
			b.maxWait = max(b.maxWait, wait)
			if err != nil {
				b.errs = append(b.errs, err)
			}
			b.mu.Unlock()
			if err != nil {
				return
			}
			b.n.Add(1)
			time.Sleep(time.Millisecond)
		}
	}()
	return b
}

// finish stops the bystander and fails the test if it saw any error.
func (b *mbBystander) finish(t *testing.T) int {
	t.Helper()
	close(b.stop)
	<-b.done
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.errs) > 0 {
		t.Errorf("the well-behaved client was disturbed: %v", b.errs)
	}
	if b.n.Load() == 0 {
		t.Error("the well-behaved client got no answer at all")
	}
	if b.maxWait > time.Second {
		t.Errorf("the well-behaved client waited %s for one answer", b.maxWait)
	}
	t.Logf("well-behaved client: %d correct reads, slowest %s", b.n.Load(), b.maxWait)
	return int(b.n.Load())
}

// mbExpectReset sends raw bytes on a fresh connection (optionally closing
// the sending half) and expects the proxy to reset it. Up to answers
// well-formed responses may arrive first (for valid requests that came
// before the bad bytes), nothing else.
func mbExpectReset(t *testing.T, ns, target, what string, raw []byte, closeWrite bool, answers int) {
	t.Helper()
	c := mbDial(t, ns, target)
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write(raw); err != nil {
		t.Errorf("%s: write: %v", what, err)
		return
	}
	if closeWrite {
		_ = c.Conn.(*net.TCPConn).CloseWrite()
	}
	for i := 0; ; i++ {
		f, err := mbReadFrame(c)
		switch {
		case err == nil && i < answers:
			continue
		case err == nil:
			t.Errorf("%s: answered % x; want the connection reset", what, f)
		case !mbIsReset(err):
			t.Errorf("%s: %v; want the connection reset", what, err)
		}
		return
	}
}

// TestModbusMalformedFrames feeds the transparent proxy garbage, a wrong
// protocol identifier, lying length fields, a request trickled one byte
// at a time and 10,000 pipelined requests on one connection, while
// another client keeps reading through the same proxy. Framing errors
// reset only their own connection; requests whose PDU does not fit
// their function code get 03 on a connection that stays usable; the
// trickled and pipelined requests are answered correctly and in order;
// the well-behaved client never sees an error; and the PLC receives
// exactly the well-formed requests.
func TestModbusMalformedFrames(t *testing.T) {
	mbRequire(t)
	bin := mbBuildZonegate(t)
	model := mbWriteFile(t, t.TempDir(), "model.yaml", mbModel)
	l := upLab(t, loadModelText(t, mbModel), "zgmb4")
	scada, scada6 := l.Assets["scada"].NS, l.Assets["scada6"].NS
	plc := mbStartGoPLC(t, l.Assets["plc-go"].NS, mbPLCGo+":502")
	plc6 := mbStartGoPLC(t, l.Assets["plc-v6"].NS, "["+mbPLCv6+"]:502")
	d := mbStartDaemon(t, bin, l, model)
	target := mbPLCGo + ":502"
	sent := 0 // well-formed, allowed requests sent to the PLC by the cases

	by6 := mbStartBystander(t, scada6, "["+mbPLCv6+"]:502") // another source, family and PLC
	by4 := mbStartBystander(t, scada, target)               // same source and PLC
	from := d.log.len()

	valid := mbFrame(1, 1, mbReadHR(0, 10)...)
	badProto := slices.Clone(valid)
	binary.BigEndian.PutUint16(badProto[2:], 1)
	tooLong := slices.Clone(valid)
	binary.BigEndian.PutUint16(tooLong[4:], 255)
	tooShort := slices.Clone(valid)
	binary.BigEndian.PutUint16(tooShort[4:], 1)
	truncated := slices.Clone(valid)
	binary.BigEndian.PutUint16(truncated[4:], 200)
	mbExpectReset(t, scada, target, "garbage (an HTTP request)", []byte("GET / HTTP/1.1\r\nHost: plc\r\n\r\n"), false, 0)
	mbExpectReset(t, scada, target, "protocol identifier 1", badProto, false, 0)
	mbExpectReset(t, scada, target, "MBAP length 255 (frame over 260 bytes)", tooLong, false, 0)
	mbExpectReset(t, scada, target, "MBAP length 1 (no function code)", tooShort, false, 0)
	mbExpectReset(t, scada, target, "MBAP length 200, 12 bytes sent, then FIN", truncated, true, 0)
	// A valid request, then garbage on the same connection: the request
	// is forwarded; its answer may or may not beat the reset.
	mbExpectReset(t, scada, target, "valid request followed by garbage", append(slices.Clone(valid), 0xde, 0xad, 0xbe, 0xef), false, 1)
	sent++

	t.Run("BadPDUsKeepTheConnection", func(t *testing.T) {
		c := mbDial(t, scada, target)
		// The MBAP length covers two stray bytes after a read request.
		mbExpectException(t, "FC 3 with 2 extra bytes", c, 3, append(mbReadHR(0, 10), 0, 0)...)
		// The MBAP length ends the PDU early.
		mbExpectException(t, "FC 3 cut after the address", c, 3, mbReadHR(0, 10)[:3]...)
		mbExpectException(t, "FC 16 whose byte count disagrees", c, 3, 16, 0, 10, 0, 2, 2, 0, 1, 0, 2)
		// Well-framed garbage: function codes 0 and 0x99 (an exception
		// code as a request) are refused with 01.
		mbExpectException(t, "function code 0", c, 1, 0, 0xde, 0xad, 0xbe, 0xef)
		mbExpectException(t, "function code 0x99", c, 1, 0x99, 0x01)
		mbExpectRead(t, "a valid read on the same connection", c, 0, 10)
		sent++
	})

	t.Run("Trickle", func(t *testing.T) {
		c := mbDial(t, scada, target)
		var stream []byte
		for i := uint16(1); i <= 3; i++ {
			stream = append(stream, mbFrame(i, 1, mbReadHR(10*i, 5)...)...)
		}
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		go func() {
			for _, b := range stream {
				if _, err := c.Write([]byte{b}); err != nil {
					return
				}
				time.Sleep(5 * time.Millisecond)
			}
		}()
		for i := uint16(1); i <= 3; i++ {
			f, err := mbReadFrame(c)
			if err != nil {
				t.Fatalf("trickled request %d: %v", i, err)
			}
			if tid := binary.BigEndian.Uint16(f); tid != i {
				t.Errorf("trickled request %d answered with transaction id %d", i, tid)
			}
			if err := mbCheckRegs(f[7:], 10*i, 5); err != nil {
				t.Errorf("trickled request %d: %v", i, err)
			}
		}
		sent += 3
	})

	t.Run("Pipelined10000", func(t *testing.T) {
		const n = 10000
		c := mbDial(t, scada, target)
		stream := make([]byte, 0, n*12)
		for i := 0; i < n; i++ {
			stream = append(stream, mbFrame(uint16(i), 1, mbReadHR(uint16(i%90), 10)...)...)
		}
		_ = c.SetDeadline(time.Now().Add(30 * time.Second))
		start := time.Now()
		by4Before, by6Before := by4.n.Load(), by6.n.Load()
		werr := make(chan error, 1)
		go func() {
			_, err := c.Write(stream) // all of it, without waiting for answers
			werr <- err
		}()
		for i := 0; i < n; i++ {
			f, err := mbReadFrame(c)
			if err != nil {
				t.Fatalf("pipelined response %d of %d: %v", i, n, err)
			}
			if tid := binary.BigEndian.Uint16(f); tid != uint16(i) {
				t.Fatalf("pipelined response %d has transaction id %d: out of order", i, tid)
			}
			if err := mbCheckRegs(f[7:], uint16(i%90), 10); err != nil {
				t.Fatalf("pipelined response %d: %v", i, err)
			}
		}
		if err := <-werr; err != nil {
			t.Fatalf("write the pipelined requests: %v", err)
		}
		t.Logf("%d pipelined requests answered in order in %s; meanwhile the well-behaved clients got %d (IPv4, same PLC) and %d (IPv6) correct reads",
			n, time.Since(start).Round(time.Millisecond), by4.n.Load()-by4Before, by6.n.Load()-by6Before)
		if by4.n.Load() == by4Before || by6.n.Load() == by6Before {
			t.Error("a well-behaved client got no answer while the pipelined requests were served")
		}
		sent += n
	})

	n6 := by6.finish(t)
	n4 := by4.finish(t)
	if got, want := plc.count(), sent+n4; got != want {
		t.Errorf("the PLC handled %d requests, want exactly the %d well-formed ones (%d from the cases, %d from the bystander)", got, want, sent, n4)
	}
	for _, r := range plc.requests() {
		if r.FC != 3 || r.Unit != 1 || int(r.Addr)+int(r.Qty) > 100 {
			t.Errorf("the PLC received %+v", r)
		}
	}
	// The daemon log aggregates events per source and interval (10 s): the
	// lines with a count add up to every malformed frame.
	malformed := func() (n int) {
		for _, r := range d.log.find(from, mbFields("msg", "modbus malformed_frame")) {
			if c, ok := r["count"].(float64); ok {
				n += int(c)
			}
		}
		return n
	}
	deadline := time.Now().Add(30 * time.Second)
	for malformed() < 6 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if n := malformed(); n < 6 {
		t.Errorf("the daemon logged %d malformed_frame events, want at least 6 (one per reset case):\n%s", n, d.log)
	}
	if got := plc6.count(); got != n6 {
		t.Errorf("the IPv6 PLC handled %d requests, want the bystander's %d", got, n6)
	}
}
