package httpapi

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zonegate/zonegate/gateway/api"
	"github.com/zonegate/zonegate/gateway/events"
	"github.com/zonegate/zonegate/gateway/internal/clock"
)

func TestEventsEndpoint(t *testing.T) {
	h := newHarness(t)
	code, body := h.do("GET", "/v1/events?since=0&wait=5s", "tok-viewer", "")
	assert.Equal(t, 200, code, "%s", body)
	assert.Contains(t, string(body), `"kind":"dropped-flow"`)
	assert.Contains(t, string(body), `"ports":"23"`)
	assert.Equal(t, []string{"events"}, h.b.takeCalls())

	code, body = h.do("GET", "/v1/events?since=2", "tok-viewer", "")
	assert.Equal(t, 200, code)
	assert.Contains(t, string(body), `"events":[]`, "no events is an empty list, not null")
	h.b.takeCalls()

	for _, q := range []string{"since=x", "wait=soon", "wait=-1s"} {
		code, body = h.do("GET", "/v1/events?"+q, "tok-viewer", "")
		assert.Equal(t, 400, code, "%s: %s", q, body)
	}
	assert.Empty(t, h.b.takeCalls())

	code, _ = h.do("GET", "/v1/events", "", "")
	assert.Equal(t, 401, code)
}

// TestPipelineEvents: the pipeline's aggregates in their wire form, with
// the destination's port only when it has one and the port range of a
// scan; no pipeline, no events.
func TestPipelineEvents(t *testing.T) {
	ctx := context.Background()
	assert.Equal(t, api.EventsResult{}, PipelineEvents(ctx, nil, 0, time.Second))

	start := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	p := events.New(events.Config{Interval: 10 * time.Second, Clock: clock.NewFake(start)})
	res := PipelineEvents(ctx, p, 0, time.Millisecond)
	assert.Empty(t, res.Events, "nothing came while it waited")
	assert.Equal(t, "10s", res.Interval)

	for _, port := range []uint16{23, 25, 22} {
		p.Record(&events.Event{Kind: events.DroppedFlow, Time: start, Protocol: "tcp", Chain: "forward", Zone: "office", Interface: "eth0",
			Source: netip.MustParseAddrPort("198.18.0.10:0"), Destination: netip.AddrPortFrom(netip.MustParseAddr("198.18.1.10"), port)})
	}
	p.Record(&events.Event{Kind: events.Spoofed, Time: start, Protocol: "icmp", Chain: "spoofed", Zone: "office",
		Source: netip.MustParseAddrPort("198.18.9.9:0"), Destination: netip.MustParseAddrPort("198.18.1.10:0")})
	p.Flush()
	res = PipelineEvents(ctx, p, 0, 0)
	require.Len(t, res.Events, 2)
	scan := res.Events[0]
	assert.Equal(t, api.Event{Seq: scan.Seq, Kind: "dropped-flow", Count: 3, First: start, Last: start, Protocol: "tcp",
		Source: "198.18.0.10", Destination: "198.18.1.10:23", Ports: "22-25", Zone: "office", Interface: "eth0", Chain: "forward"}, scan)
	assert.Equal(t, "198.18.1.10", res.Events[1].Destination, "no port, no :0")
	assert.Empty(t, res.Events[1].Ports)
	assert.Equal(t, res.Events[1].Seq, res.Last)
	assert.Empty(t, PipelineEvents(ctx, p, res.Last, 0).Events, "nothing newer")
}
