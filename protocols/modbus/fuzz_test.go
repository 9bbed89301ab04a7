package modbus

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"
	"time"
)

// FuzzFramerAndCheck feeds arbitrary byte streams through the framer, the
// sanity checks and a policy. No input may panic or stall, frames must obey
// the MBAP limits, reading in one piece or byte by byte must give the same
// result, and nothing is allowed that did not parse.
//
// Seeds: testdata/fuzz/FuzzFramerAndCheck and every sanity-check case.
// Run with: go test -run '^$' -fuzz FuzzFramerAndCheck ./protocols/modbus
func FuzzFramerAndCheck(f *testing.F) {
	for _, tc := range checkCases() {
		if len(tc.pdu) <= MaxPDULen {
			f.Add(adu(1, 1, tc.pdu))
		}
	}
	for _, tc := range decideCases() {
		f.Add(adu(2, tc.unit, tc.pdu))
	}
	pol, err := Compile(testSpec())
	if err != nil {
		f.Fatal(err)
	}
	monitor := testSpec()
	monitor.Mode = ModeMonitor
	monitor.MaxRate = 1
	mpol, err := Compile(monitor)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		whole := frameAll(t, bytes.NewReader(data), len(data))
		trickle := frameAll(t, iotest.OneByteReader(bytes.NewReader(data)), len(data))
		if len(whole.frames) != len(trickle.frames) || whole.errKind != trickle.errKind {
			t.Fatalf("whole read: %d frames, error %v; byte by byte: %d frames, error %v",
				len(whole.frames), whole.errKind, len(trickle.frames), trickle.errKind)
		}
		consumed := 0
		var req Request
		var lim RateLimiter
		now := time.Unix(0, 0)
		for i, fr := range whole.frames {
			if !bytes.Equal(fr, trickle.frames[i]) {
				t.Fatalf("frame %d differs between whole and byte-by-byte reads", i)
			}
			if !bytes.Equal(fr, data[consumed:consumed+len(fr)]) {
				t.Fatalf("frame %d is not the next %d bytes of the stream", i, len(fr))
			}
			consumed += len(fr)
			checkRequest(t, Frame(fr), &req)
			for _, p := range []*Policy{pol, mpol} {
				d := p.Evaluate(Frame(fr), &req, &lim, now)
				if d.Allowed && !req.Valid() {
					t.Fatalf("allowed a request that did not parse: %x", fr)
				}
				if !d.Allowed && (d.Reason == "" || d.Exception == 0) {
					t.Fatalf("denial without reason or exception: %+v", d)
				}
				if d.Monitor != (!d.Allowed && p == mpol) {
					t.Fatalf("monitor flag wrong: %+v", d)
				}
			}
			ex := AppendExceptionFor(nil, Frame(fr), ExIllegalFunction)
			back, err := NewFramer(bytes.NewReader(ex), nil).Next()
			if err != nil || back.TransactionID() != Frame(fr).TransactionID() || back.Function() != Frame(fr).Function()|0x80 {
				t.Fatalf("exception response %x does not frame back: %v", ex, err)
			}
		}
		if whole.errKind == 0 && consumed != len(data) {
			t.Fatalf("clean end of stream after %d of %d bytes", consumed, len(data))
		}
	})
}

type framed struct {
	frames  [][]byte
	errKind FrameErrorKind
}

// frameAll reads all frames; it fails the test if the framer delivers more
// frames than the input can hold.
func frameAll(t *testing.T, r io.Reader, n int) framed {
	var out framed
	fr := NewFramer(r, make([]byte, MaxFrameLen))
	for {
		f, err := fr.Next()
		if err != nil {
			var fe *FrameError
			switch {
			case errors.As(err, &fe):
				out.errKind = fe.Kind
			case !errors.Is(err, io.EOF):
				t.Fatalf("unexpected error %v", err)
			}
			return out
		}
		if len(f) < MinFrameLen || len(f) > MaxFrameLen || f.ProtocolID() != 0 || int(f.LengthField()) != len(f)-6 {
			t.Fatalf("framer returned an invalid frame %x", []byte(f))
		}
		out.frames = append(out.frames, bytes.Clone(f))
		if len(out.frames) > n/MinFrameLen {
			t.Fatalf("more frames than the input holds")
		}
	}
}

// checkRequest checks the invariants of a parsed request.
func checkRequest(t *testing.T, f Frame, req *Request) {
	err := ParseRequest(f, req)
	if err != nil {
		var ce *CheckError
		if !errors.As(err, &ce) || ce.Exception == 0 {
			t.Fatalf("ParseRequest error %v is not a CheckError with an exception", err)
		}
		return
	}
	fc := req.Function
	if !KnownFunction(fc) {
		t.Fatalf("accepted unknown function code %d", fc)
	}
	limit := map[FunctionCode]uint16{1: MaxReadBits, 2: MaxReadBits, 3: MaxReadRegisters, 4: MaxReadRegisters,
		15: MaxWriteCoils, 16: MaxWriteRegisters, 23: MaxReadRegisters}[fc]
	if limit > 0 {
		if req.Quantity == 0 || req.Quantity > limit || int(req.Address)+int(req.Quantity) > 65536 {
			t.Fatalf("FC %d accepted address %d quantity %d", fc, req.Address, req.Quantity)
		}
	}
	if req.WritesRegisters() || req.WritesCoils() {
		n := 0
		for a, v := range req.Values() {
			if int(a) != int(req.WriteAddress)+n || (req.WritesCoils() && v > 1) {
				t.Fatalf("value %d: address %d value %d", n, a, v)
			}
			n++
		}
		if n != int(req.WriteQuantity) || int(req.WriteAddress)+n > 65536 {
			t.Fatalf("FC %d: %d values for write quantity %d at %d", fc, n, req.WriteQuantity, req.WriteAddress)
		}
	}
}
