package metrics

import (
	"sync"
	"sync/atomic"

	"github.com/zonegate/zonegate/protocols/inspect"
)

// DenialCounter counts the denied requests of the inspecting proxies by
// protocol, conduit and reason, from the events they hand the daemon's
// sink (zonegate_inspected_denials_total). Counting is a read-locked map lookup and an atomic add; only the
// first denial of a key allocates. Keys are bounded: conduits of the
// models run since the start times the protocols' fixed reasons.
type DenialCounter struct {
	mu sync.RWMutex
	m  map[denialKey]*atomic.Uint64
}

type denialKey struct {
	protocol, conduit, reason string
	monitor                   bool
}

func (c *DenialCounter) count(ev inspect.Event) {
	k := denialKey{ev.Protocol, ev.Conduit, ev.Reason, ev.Monitor}
	c.mu.RLock()
	n := c.m[k]
	c.mu.RUnlock()
	if n == nil {
		c.mu.Lock()
		if c.m == nil {
			c.m = map[denialKey]*atomic.Uint64{}
		}
		if n = c.m[k]; n == nil {
			n = new(atomic.Uint64)
			c.m[k] = n
		}
		c.mu.Unlock()
	}
	n.Add(1)
}

// Snapshot returns the counts so far.
func (c *DenialCounter) Snapshot() []Denial {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]Denial, 0, len(c.m))
	for k, n := range c.m {
		out = append(out, Denial{Protocol: k.protocol, Conduit: k.conduit, Reason: k.reason, Monitor: k.monitor, Count: n.Load()})
	}
	return out
}

// Sink wraps the proxies' sink (nil: none) so that denials are counted
// before they go on.
func (c *DenialCounter) Sink(next inspect.Sink) inspect.Sink {
	return inspect.SinkFunc(func(ev inspect.Event) {
		if ev.Kind == inspect.Denied {
			c.count(ev)
		}
		if next != nil {
			next.InspectedEvent(ev)
		}
	})
}
