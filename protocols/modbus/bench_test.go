package modbus

import (
	"bytes"
	"testing"
	"time"
)

// loopReader serves a stream over and over.
type loopReader struct {
	data []byte
	off  int
}

func (r *loopReader) Read(b []byte) (int, error) {
	if r.off == len(r.data) {
		r.off = 0
	}
	n := copy(b, r.data[r.off:])
	r.off += n
	return n, nil
}

// BenchmarkFrameCheckDecide measures the per-request hot path: framing,
// sanity checks, rate limit and policy decision.
func BenchmarkFrameCheckDecide(b *testing.B) {
	spec := testSpec()
	spec.MaxRate = 1e12
	pol, err := Compile(spec)
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name  string
		frame []byte
	}{
		{"fc3-read-100", adu(1, 1, pdu(3, 0, 100))},
		{"fc16-write-10", adu(1, 1, wrRegs(10, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10))},
		{"fc16-write-10-any-value", adu(1, 1, wrRegs(40, make([]uint16, 10)...))},
	} {
		b.Run(bc.name, func(b *testing.B) {
			fr := NewFramer(&loopReader{data: bytes.Repeat(bc.frame, 64)}, nil)
			var req Request
			var lim RateLimiter
			now := time.Now()
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.frame)))
			b.ResetTimer()
			for range b.N {
				f, err := fr.Next()
				if err != nil {
					b.Fatal(err)
				}
				if d := pol.Evaluate(f, &req, &lim, now); !d.Allowed {
					b.Fatalf("denied: %+v", d)
				}
			}
		})
	}
}
