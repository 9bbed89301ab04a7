package modbustcp

import (
	"testing"

	"github.com/zonegate/zonegate/protocols/modbus"
	"github.com/zonegate/zonegate/protocols/proxy"
)

// FuzzSession feeds arbitrary byte streams to the codec the way the engine
// does: split the client's stream into frames, decide each, answer it in
// the device's place, and take the same bytes as the device's stream.
// Nothing may panic, a frame is never longer than the limit, a denied
// request is forwarded only in monitor mode, a refused one has a reason
// and is answered with an exception to it.
//
// Run with: go test -run '^$' -fuzz FuzzSession ./protocols/modbustcp
func FuzzSession(f *testing.F) {
	f.Add(cat(adu(1, 1, pdu(3, 0, 10)), adu(2, 1, pdu(6, 50, 1)), adu(3, 9, pdu(16, 10, 1))))
	f.Add(adu(4, 1, wrRegs(10, 1, 2, 5000)))
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"))
	f.Add([]byte{0, 1, 0, 0, 0, 255, 1, 3})
	pol, err := modbus.Compile(proxySpec())
	if err != nil {
		f.Fatal(err)
	}
	codec := Codec{}
	max := codec.Framing().MaxRequest
	f.Fuzz(func(t *testing.T, stream []byte) {
		s := codec.NewSession(proxy.Route{})
		for side := range 2 {
			b := stream
			for len(b) > 0 {
				n, err := s.SplitRequest(b)
				if side == 1 {
					n, err = s.SplitAnswer(b)
				}
				if err != nil || n == 0 || n > len(b) {
					break
				}
				if n > max {
					t.Fatalf("a frame of %d bytes, over the limit of %d", n, max)
				}
				frame := b[:n]
				b = b[n:]
				if side == 1 {
					var rec proxy.Record
					_ = s.Answer(frame)
					_ = s.Match(frame, &rec)
					continue
				}
				var v proxy.Verdict
				s.Request(frame, pol, testNow, &v)
				if v.Action == proxy.Refuse {
					out, keep := codec.AppendAnswer(nil, &v.Record, proxy.AnswerDeny)
					fr := modbus.Frame(out)
					if !keep || len(out) != modbus.ExceptionLen || fr.TransactionID() != modbus.Frame(frame).TransactionID() || fr.Function() != modbus.Frame(frame).Function()|0x80 {
						t.Fatalf("request %x refused with %x", frame, out)
					}
				}
				switch {
				case v.Action != proxy.Forward && v.Reason == "":
					t.Fatalf("request %x refused without a reason", frame)
				case v.Action == proxy.Forward && v.Reason != "" && !v.Monitor:
					t.Fatalf("request %x forwarded although denied (%s)", frame, v.Reason)
				}
			}
		}
	})
}
