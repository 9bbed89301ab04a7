package events

import (
	"github.com/zonegate/zonegate/protocols/inspect"
)

// Follow takes the events of an inspecting proxy (its proxy.Proxy.Events
// feed) into the pipeline until the feed closes (the proxy stopped): it
// starts the goroutine that drains the proxy's per-loop queues, so that
// nothing on the proxy's event loops formats, logs or waits. Denials,
// framing errors, refused connections and the proxies' failures are
// recorded (aggregated); allowed writes and opened channels go to the
// sinks one by one with their details. When Run stops, its last flush has the events of the
// proxies that stopped before.
func (p *Pipeline) Follow(feed *inspect.Feed) {
	f := follower{feed: feed, done: make(chan struct{})}
	p.feedsMu.Lock()
	p.feeds = append(p.feeds, f)
	p.feedsMu.Unlock()
	go func() {
		defer close(f.done)
		feed.Follow(p.inspected)
	}()
}

// follower is a feed Follow drains; done is closed when Follow returns.
type follower struct {
	feed *inspect.Feed
	done chan struct{}
}

// settle waits until the followers of the feeds that closed have taken
// their last events, so that a final Flush has them.
func (p *Pipeline) settle() {
	p.feedsMu.Lock()
	fs := append([]follower(nil), p.feeds...)
	p.feedsMu.Unlock()
	for _, f := range fs {
		select {
		case <-f.feed.Done():
			<-f.done
		default:
		}
	}
}

var inspectKinds = [...]Kind{
	inspect.Denied:    Denied,
	inspect.Write:     Write,
	inspect.Malformed: Malformed,
	inspect.Refused:   Refused,
	inspect.Failure:   Failure,
	inspect.Opened:    Opened,
}

// inspected records one event of an inspecting proxy.
func (p *Pipeline) inspected(ev *inspect.Event) {
	kind := Failure
	if int(ev.Kind) < len(inspectKinds) && inspectKinds[ev.Kind] != 0 {
		kind = inspectKinds[ev.Kind]
	}
	e := Event{Kind: kind, Time: ev.Time, Protocol: ev.Protocol, Source: ev.Source, Destination: ev.Destination,
		Conduit: ev.Conduit, Role: ev.Role, Reason: ev.Reason, Monitor: ev.Monitor, Sample: ev.Summary, Count: ev.N()}
	if kind == Write || kind == Opened {
		p.Individual(&e, ev.Details)
		return
	}
	p.Record(&e)
}

// dropped is how many events the followed proxies dropped because their
// queues were full.
func (p *Pipeline) dropped() uint64 {
	p.feedsMu.Lock()
	defer p.feedsMu.Unlock()
	var n uint64
	for _, f := range p.feeds {
		n += f.feed.Dropped()
	}
	return n
}
