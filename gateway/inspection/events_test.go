package inspection

import (
	"bufio"
	"context"
	"encoding/binary"
	"io"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/zonegate/zonegate/gateway/audit"
	"github.com/zonegate/zonegate/gateway/events"
	"github.com/zonegate/zonegate/protocols/inspect"
	"github.com/zonegate/zonegate/protocols/modbus"
	"github.com/zonegate/zonegate/protocols/modbustcp"
	"github.com/zonegate/zonegate/protocols/proxy"
)

// productionPipeline is the daemon's pipeline with its production sinks:
// a JSON zap logger (to nowhere) and a real audit log.
func productionPipeline(t testing.TB) *events.Pipeline {
	l, err := audit.Open(audit.Options{Dir: t.TempDir(), Gateway: "line3-gw", BootID: "b", MaxBytes: 4 << 20})
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	enc := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
	log := zap.New(zapcore.NewCore(enc, zapcore.AddSync(io.Discard), zap.InfoLevel))
	return events.New(events.Config{Sinks: []events.Sink{&events.LogSink{Log: log}, events.AuditSink{Log: l}}})
}

// TestDeniedEventNoAllocs: a denied request reported by a proxy costs no
// allocation on the way into the pipeline with the production sinks
// attached (the proxy's loop only queues it; this is the pipeline's side).
func TestDeniedEventNoAllocs(t *testing.T) {
	p := productionPipeline(t)
	feed := inspect.NewFeed(1, 2048, nil) // room for every event of the test
	q := feed.Queue(0)
	push := func() {
		ev := q.Reserve(1)
		*ev = inspect.Event{Protocol: "modbus", Kind: inspect.Denied, Time: time.Now(),
			Source: netip.MustParseAddrPort("198.18.0.10:40000"), Destination: netip.MustParseAddrPort("198.18.1.10:502"),
			Conduit: "scada-to-plc", Reason: string(modbus.ReasonAddressDenied)}
		ev.Summary.Add("unit 1 fc 6 addr 50")
		q.Commit()
		feed.Signal()
	}
	p.Follow(feed)
	push()
	waitFor(t, func() bool { return p.Stats().Events["denied"] == 1 })
	allocs := testing.AllocsPerRun(1000, push)
	assert.Zero(t, allocs, "queueing an event")
	feed.Close()
	// The first, AllocsPerRun's warm-up and its 1000 runs.
	waitFor(t, func() bool { return p.Stats().Events["denied"] == 1002 })
	assert.Equal(t, []events.Total{{Kind: events.Denied, Protocol: "modbus", Scope: "scada-to-plc", Reason: "address_not_allowed", Count: 1002}},
		p.Totals(events.Denied), "counted once each")
	p.Flush()
	got, _ := p.Since(0, 0)
	require.Len(t, got, 1)
	assert.Equal(t, netip.MustParseAddr("198.18.0.10"), got[0].Sample.Source.Addr())
}

// waitFor polls cond until it holds (bounded only against a hang).
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("condition not met")
		}
	}
}

// floodProxy starts the Modbus proxy on loopback, its events followed by
// pipeline (nil: dropped by the proxy's queues); every connection goes to
// a conduit whose policy allows reads of holding registers 0-9 only. No
// upstream is needed: denied requests are answered by the proxy.
func floodProxy(tb testing.TB, pipeline *events.Pipeline) string {
	spec := modbus.Spec{Units: []uint8{1}, Rules: []modbus.Rule{{Access: modbus.AccessRead, Table: modbus.HoldingRegisters, Addresses: modbus.Range{Lo: 0, Hi: 9}}}}
	in := modbustcp.Inspector{}
	pol, err := in.Compile(&spec)
	require.NoError(tb, err)
	px, err := in.NewProxy(proxy.Config{
		Route: func(net.Conn) (proxy.Route, error) {
			return proxy.Route{Upstream: netip.MustParseAddrPort("127.0.0.1:9"), Conduit: "scada-to-plc"}, nil
		},
		Log: zap.NewNop(),
	})
	require.NoError(tb, err)
	if pipeline != nil {
		pipeline.Follow(px.Events())
	}
	require.NoError(tb, px.Install(map[string]proxy.Policy{"scada-to-plc": pol}))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(tb, err)
	go px.Serve(ln)
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		px.Shutdown(ctx)
	})
	return ln.Addr().String()
}

// deniedADU is a Modbus/TCP FC 6 write to holding register 50: denied.
func deniedADU(tid uint16) []byte {
	b := make([]byte, 12)
	binary.BigEndian.PutUint16(b[0:], tid)
	binary.BigEndian.PutUint16(b[4:], 6)
	b[6], b[7] = 1, 6
	binary.BigEndian.PutUint16(b[8:], 50)
	binary.BigEndian.PutUint16(b[10:], 1)
	return b
}

// BenchmarkDeniedFlood floods the proxy with denied requests, 16 in
// flight: without a pipeline (the events are dropped by the proxy's
// queues) and with the daemon's pipeline and its production sinks
// following the proxy. allocs/op and ns/op are per request.
func BenchmarkDeniedFlood(b *testing.B) {
	for _, bc := range []struct {
		name     string
		pipeline func(testing.TB) *events.Pipeline
	}{
		{"no-pipeline", func(testing.TB) *events.Pipeline { return nil }},
		{"pipeline", productionPipeline},
	} {
		b.Run(bc.name, func(b *testing.B) {
			addr := floodProxy(b, bc.pipeline(b))
			c, err := net.Dial("tcp", addr)
			require.NoError(b, err)
			defer c.Close()
			const depth = 16
			batch := make([]byte, 0, depth*12)
			for i := range depth {
				batch = append(batch, deniedADU(uint16(i))...)
			}
			r := bufio.NewReaderSize(c, 64<<10)
			resp := make([]byte, 9) // MBAP + exception function + code
			read := func(n int) {
				for range n {
					if _, err := io.ReadFull(r, resp); err != nil {
						b.Fatal(err)
					}
					if resp[7] != 0x86 {
						b.Fatalf("not an exception to FC 6: %x", resp)
					}
				}
			}
			for range 10 { // warm up
				c.Write(batch)
				read(depth)
			}
			b.ReportAllocs()
			b.ResetTimer()
			done := make(chan struct{})
			go func() {
				defer close(done)
				for i := 0; i < b.N; i += depth {
					n := min(depth, b.N-i)
					if _, err := c.Write(batch[:n*12]); err != nil {
						return
					}
				}
			}()
			read(b.N)
			b.StopTimer()
			<-done
		})
	}
}
