package modbustcp

import (
	"bytes"
	"errors"
	"io"
	"net/netip"
	"testing"
	"time"

	"github.com/zonegate/zonegate/protocols/modbus"
)

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
				if f.Function() != modbus.Frame(req).Function() {
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
			if errors.Is(err, io.EOF) {
				b.Fatal("proxy closed the connection")
			}
			b.Fatal(err)
		}
	}
}
