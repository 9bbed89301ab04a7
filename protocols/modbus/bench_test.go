package modbus

import (
	"bytes"
	"io"
	"net/netip"
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

// BenchmarkProxyRoundTrip compares a request/response round trip over
// loopback straight to the fake PLC with one through the proxy, in the same
// run; the ratio metric is proxied time / direct time.
func BenchmarkProxyRoundTrip(b *testing.B) {
	for _, bc := range []struct {
		name  string
		frame []byte
	}{
		{"fc3-read-10", adu(1, 1, pdu(3, 0, 10))},
		{"fc16-write-10", adu(1, 1, wrRegs(10, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10))},
	} {
		b.Run(bc.name, func(b *testing.B) {
			e := newEnv(b, proxySpec(), netip.AddrPort{}, nil)
			direct := dialRaw(b, e.plc.addr.String())
			proxied := e.dialRaw()
			req := bytes.Clone(bc.frame)
			roundTrip := func(r *rawConn) time.Duration {
				start := time.Now()
				if _, err := r.c.Write(req); err != nil {
					b.Fatal(err)
				}
				f, err := r.fr.Next()
				if err != nil {
					b.Fatal(err)
				}
				if f.Function() != Frame(req).Function() {
					b.Fatalf("unexpected response %x", []byte(f))
				}
				return time.Since(start)
			}
			for range 100 { // warm up both paths
				roundTrip(direct)
				roundTrip(proxied)
			}
			var dDirect, dProxy time.Duration
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				dDirect += roundTrip(direct)
				dProxy += roundTrip(proxied)
			}
			b.StopTimer()
			b.ReportMetric(float64(dDirect.Nanoseconds())/float64(b.N), "direct-ns/op")
			b.ReportMetric(float64(dProxy.Nanoseconds())/float64(b.N), "proxy-ns/op")
			b.ReportMetric(float64(dProxy)/float64(dDirect), "proxy/direct")
		})
	}
}

// BenchmarkProxyPipelined measures throughput with 16 requests in flight.
func BenchmarkProxyPipelined(b *testing.B) {
	e := newEnv(b, proxySpec(), netip.AddrPort{}, nil)
	r := e.dialRaw()
	req := adu(1, 1, pdu(3, 0, 10))
	const depth = 16
	b.ReportAllocs()
	b.ResetTimer()
	go func() {
		for i := 0; i < b.N; i += depth {
			n := min(depth, b.N-i)
			if _, err := r.c.Write(bytes.Repeat(req, n)); err != nil {
				return
			}
		}
	}()
	for range b.N {
		if _, err := r.fr.Next(); err != nil {
			if err == io.EOF {
				b.Fatal("proxy closed the connection")
			}
			b.Fatal(err)
		}
	}
}
