package events

import (
	"context"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/zonegate/zonegate/gateway/audit"
	"github.com/zonegate/zonegate/gateway/internal/clock"
	"github.com/zonegate/zonegate/protocols/inspect"
)

var t0 = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

// batches collects what the pipeline flushes.
type batches struct {
	got   []Batch
	indiv []Event
}

func (b *batches) Flush(x *Batch) {
	c := *x
	c.Aggregates = append([]Aggregate(nil), x.Aggregates...)
	b.got = append(b.got, c)
}
func (b *batches) Individual(ev *Event, _ map[string]string) { b.indiv = append(b.indiv, *ev) }

func denied(src string, clk *clock.Fake) *Event {
	ev := &Event{Kind: Denied, Time: clk.Now(), Protocol: "modbus", Source: netip.MustParseAddrPort(src),
		Destination: netip.MustParseAddrPort("198.18.1.10:502"), Conduit: "scada-to-plc", Reason: "function_not_allowed"}
	ev.Sample.Add("unit 1 fc 6 addr 50")
	return ev
}

func TestAggregatePerKeyAndInterval(t *testing.T) {
	clk := clock.NewFake(t0)
	sink := &batches{}
	p := New(Config{Clock: clk, Sinks: []Sink{sink}})
	for i := range 1000 {
		clk.Advance(time.Millisecond)
		// Every request on a new connection: the source port does not
		// split the key.
		p.Record(denied("198.18.0.10:"+itoa(40000+i%4), clk))
	}
	p.Record(denied("198.18.0.11:40000", clk))
	p.Flush()
	require.Len(t, sink.got, 1)
	b := sink.got[0]
	require.Len(t, b.Aggregates, 2)
	a := b.Aggregates[0]
	assert.EqualValues(t, 1000, a.Count)
	assert.Equal(t, t0.Add(time.Millisecond), a.First)
	assert.Equal(t, t0.Add(time.Second), a.Last)
	assert.Equal(t, "unit 1 fc 6 addr 50", a.Sample.Sample.String())
	assert.EqualValues(t, 1, a.Seq)
	assert.EqualValues(t, 1, b.Aggregates[1].Count)
	assert.EqualValues(t, 2, b.Aggregates[1].Seq)

	// The next interval starts empty.
	p.Flush()
	assert.Len(t, sink.got, 1, "an empty interval hands nothing on")
	p.Record(denied("198.18.0.10:40000", clk))
	p.Flush()
	require.Len(t, sink.got, 2)
	assert.EqualValues(t, 1, sink.got[1].Aggregates[0].Count)

	got, last := p.Since(1, 0)
	assert.EqualValues(t, 3, last)
	require.Len(t, got, 2)
	assert.EqualValues(t, 2, got[0].Seq)
	st := p.Stats()
	assert.EqualValues(t, 1002, st.Events["denied"])
	assert.EqualValues(t, 3, st.Aggregates)
}

func TestTableBoundedOther(t *testing.T) {
	clk := clock.NewFake(t0)
	sink := &batches{}
	p := New(Config{Clock: clk, MaxKeys: 2, Sinks: []Sink{sink}})
	for i := range 10 {
		p.Record(denied("198.18.0."+itoa(10+i)+":40000", clk))
		p.Record(denied("198.18.0."+itoa(10+i)+":40000", clk))
	}
	p.Flush()
	require.Len(t, sink.got[0].Aggregates, 3)
	o := sink.got[0].Aggregates[2]
	assert.Equal(t, Other, o.Sample.Kind)
	assert.EqualValues(t, 16, o.Count)
	assert.EqualValues(t, 16, p.Stats().Overflow)
	rec := AuditRecord(&o, time.Second)
	assert.Equal(t, audit.ActionEventsOverflow, rec.Action)
	assert.Equal(t, "16", rec.Details[audit.DetailCount])
	assert.Equal(t, "zonegate", rec.Actor)
	assert.Equal(t, "198.18.0.12", rec.Details["sample_source"])
}

func TestRingWrapsAndWait(t *testing.T) {
	clk := clock.NewFake(t0)
	p := New(Config{Clock: clk, Ring: 4})
	for i := range 6 {
		p.Record(denied("198.18.0."+itoa(10+i)+":1", clk))
		p.Flush()
	}
	got, last := p.Since(0, 0)
	assert.EqualValues(t, 6, last)
	require.Len(t, got, 4, "the oldest fell out of the ring")
	assert.EqualValues(t, 3, got[0].Seq)
	got, _ = p.Since(3, 1)
	require.Len(t, got, 1)
	assert.EqualValues(t, 4, got[0].Seq)

	done := make(chan struct{})
	go func() {
		p.Wait(context.Background(), 6)
		close(done)
	}()
	p.Record(denied("198.18.0.99:1", clk))
	p.Flush()
	<-done
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	p.Wait(ctx, 7) // returns on a done context
}

func TestLogSinkSuppresses(t *testing.T) {
	core, logs := observer.New(zap.InfoLevel)
	clk := clock.NewFake(t0)
	ls := &LogSink{Log: zap.New(core), Lines: 3}
	p := New(Config{Clock: clk, Sinks: []Sink{ls}})
	for i := range 10 {
		for range 100 {
			p.Record(denied("198.18.0."+itoa(10+i)+":1", clk))
		}
	}
	p.Flush()
	// 3 lines in all: the first events of three keys; the first events of
	// the other seven and all ten aggregates are suppressed.
	lines := logs.FilterMessage("modbus denied").All()
	require.Len(t, lines, 3)
	for _, l := range lines {
		assert.NotContains(t, l.ContextMap(), "count", "a first-event line is one event")
		assert.Equal(t, "enforce", l.ContextMap()["mode"])
	}
	sup := logs.FilterMessage("17 more suppressed").All()
	require.Len(t, sup, 1)
	assert.EqualValues(t, 1000, sup[0].ContextMap()["events"])
	assert.EqualValues(t, 17, ls.Suppressed())

	// The next interval has its allowance again: first line, then the
	// aggregate with its count.
	logs.TakeAll()
	for range 5 {
		p.Record(denied("198.18.0.10:1", clk))
	}
	p.Flush()
	lines = logs.FilterMessage("modbus denied").All()
	require.Len(t, lines, 2)
	assert.Equal(t, "198.18.0.10:1", lines[0].ContextMap()["source"])
	assert.EqualValues(t, 5, lines[1].ContextMap()["count"])
	assert.Equal(t, "198.18.0.10", lines[1].ContextMap()["source"])
}

// TestFirstEventLoggedAtOnce: Run hands a new key's first event to the
// daemon log without waiting for the end of the interval.
func TestFirstEventLoggedAtOnce(t *testing.T) {
	core, logs := observer.New(zap.InfoLevel)
	clk := clock.NewFake(t0)
	p := New(Config{Clock: clk, Sinks: []Sink{&LogSink{Log: zap.New(core)}}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		p.Run(ctx)
		close(done)
	}()
	ev := denied("198.18.0.10:40000", clk)
	ev.Kind, ev.Reason = Failure, "upstream_unreachable"
	p.Record(ev)
	require.Eventually(t, func() bool { return logs.FilterMessage("modbus upstream_unreachable").Len() == 1 }, time.Minute, time.Millisecond)
	p.Record(ev) // the same key: no new line
	cancel()
	<-done
	got := logs.FilterMessage("modbus upstream_unreachable").All()
	require.Len(t, got, 2, "the first event, then the aggregate at the end")
	assert.EqualValues(t, 2, got[1].ContextMap()["count"])
}

// TestFloodAuditGrowth simulates 20 s of a flood of denied requests at
// 40,000 requests/s from one source on one conduit through the real audit
// log: the log grows by one record per interval, far below 64 KiB.
func TestFloodAuditGrowth(t *testing.T) {
	clk := clock.NewFake(t0)
	dir := t.TempDir()
	l, err := audit.Open(audit.Options{Dir: dir, Gateway: "line3-gw", BootID: "b", MaxBytes: 4 << 20, Now: clk.Now})
	require.NoError(t, err)
	before := l.Stats().Used
	p := New(Config{Clock: clk, Sinks: []Sink{AuditSink{Log: l}}})
	const rate, seconds = 40000, 20
	for s := range seconds {
		for i := range rate {
			if i%1000 == 0 {
				clk.Advance(25 * time.Millisecond)
			}
			p.Record(denied("198.18.0.10:"+itoa(40000+i%4), clk))
		}
		if (s+1)%10 == 0 {
			p.Flush()
		}
	}
	p.Flush()
	require.NoError(t, l.Flush(context.Background()))
	grown := l.Stats().Used - before
	t.Logf("audit log grew %d bytes for %d denied requests in %d s", grown, rate*seconds, seconds)
	assert.Less(t, grown, int64(64<<10))
	require.NoError(t, l.Close())

	var total uint64
	require.NoError(t, audit.Read(dir, audit.Filter{Action: audit.ActionRequestDenied}, func(e audit.Entry) error {
		n, err := parseUint(e.Details[audit.DetailCount])
		require.NoError(t, err)
		total += n
		assert.Equal(t, "198.18.0.10", e.Details[audit.DetailSource])
		assert.Equal(t, "unit 1 fc 6 addr 50", e.Details["sample"])
		assert.NotEmpty(t, e.Details["first"])
		return nil
	}))
	assert.EqualValues(t, rate*seconds, total, "every request is counted")
}

// TestFollowThenStop: the events a proxy queued before it stopped are in
// the pipeline's last flush, however the goroutines are scheduled.
func TestFollowThenStop(t *testing.T) {
	flushed := &countSink{}
	p := New(Config{Sinks: []Sink{flushed}})
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() {
		p.Run(ctx)
		close(ran)
	}()
	feed := inspect.NewFeed(0, 64, nil)
	p.Follow(feed)
	for range 10 {
		feed.Push(&inspect.Event{Protocol: "modbus", Kind: inspect.Denied, Conduit: "c", Reason: "r", Count: 3})
	}
	feed.Close() // the proxy stopped
	cancel()     // then the daemon stops the pipeline
	<-ran
	assert.Equal(t, uint64(30), flushed.count.Load())
}

// countSink counts the events of the aggregates it is handed.
type countSink struct{ count atomic.Uint64 }

func (s *countSink) Flush(b *Batch) {
	for _, a := range b.Aggregates {
		s.count.Add(a.Count)
	}
}

func (s *countSink) Individual(*Event, map[string]string) {}
