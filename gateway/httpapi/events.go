package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/zonegate/zonegate/gateway/api"
	"github.com/zonegate/zonegate/gateway/auth"
	"github.com/zonegate/zonegate/gateway/events"
)

// hEvents answers GET /v1/events?since=SEQ&wait=DURATION.
func (s *server) hEvents(w http.ResponseWriter, r *http.Request, _ auth.Session) {
	q := r.URL.Query()
	var since uint64
	if v := q.Get("since"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			fail(w, fmt.Errorf("%w: since=%q is not a sequence number: pass the \"last\" of the previous answer", errBadRequest, v))
			return
		}
		since = n
	}
	var wait time.Duration
	if v := q.Get("wait"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			fail(w, fmt.Errorf("%w: wait=%q is not a duration such as 30s", errBadRequest, v))
			return
		}
		wait = min(d, api.MaxEventsWait)
	}
	res, err := s.b.Events(r.Context(), since, wait)
	if err != nil {
		fail(w, err)
		return
	}
	if res.Events == nil {
		res.Events = []api.Event{}
	}
	writeJSON(w, http.StatusOK, res)
}

// PipelineEvents answers GET /v1/events from the event pipeline p (nil:
// none): the aggregated data-plane events newer than since from the
// pipeline's ring, waiting up to wait for one when there is none.
func PipelineEvents(ctx context.Context, p *events.Pipeline, since uint64, wait time.Duration) api.EventsResult {
	if p == nil {
		return api.EventsResult{}
	}
	aggs, last := p.Since(since, 0)
	if len(aggs) == 0 && wait > 0 {
		wctx, cancel := context.WithTimeout(ctx, wait)
		p.Wait(wctx, since)
		cancel()
		aggs, last = p.Since(since, 0)
	}
	res := api.EventsResult{Last: last, Interval: p.Interval().String(), Events: make([]api.Event, 0, len(aggs))}
	for i := range aggs {
		res.Events = append(res.Events, apiEvent(&aggs[i]))
	}
	return res
}

// apiEvent is the wire form of an aggregate.
func apiEvent(a *events.Aggregate) api.Event {
	ev := &a.Sample
	out := api.Event{Seq: a.Seq, Kind: ev.Kind.String(), Count: a.Count, First: a.First.UTC(), Last: a.Last.UTC(),
		Protocol: ev.Protocol, Source: ev.Source.Addr().String(), Conduit: ev.Conduit, Zone: ev.Zone, Interface: ev.Interface,
		Chain: ev.Chain, Reason: ev.Reason, Sample: ev.Sample.String(), Monitor: ev.Monitor, OtherDestinations: a.OtherDestinations}
	if ev.Destination.IsValid() {
		out.Destination = ev.Destination.String()
		if ev.Destination.Port() == 0 {
			out.Destination = ev.Destination.Addr().String()
		}
	}
	if a.PortHi != 0 {
		out.Ports = strconv.Itoa(int(a.PortLo))
		if a.PortHi != a.PortLo {
			out.Ports += "-" + strconv.Itoa(int(a.PortHi))
		}
	}
	return out
}
