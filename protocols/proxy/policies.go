package proxy

import (
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/zonegate/zonegate/protocols/inspect"
)

// livePolicy holds the current policy of a conduit. Connections keep a
// pointer to it and load it for every request, so Install applies a new
// policy to the next request of every open connection.
type livePolicy struct{ p atomic.Pointer[policyBox] }

type policyBox struct{ p Policy }

// load returns the current policy; nil when the conduit has none any more.
func (l *livePolicy) load() Policy {
	if b := l.p.Load(); b != nil {
		return b.p
	}
	return nil
}

// policies are the live policies by conduit. A conduit that was never
// installed has none (its connections are refused); one that was removed
// keeps a live policy holding nil.
type policies struct {
	mu sync.RWMutex
	m  map[string]*livePolicy
}

func (ps *policies) live(conduit string) *livePolicy {
	ps.mu.RLock()
	defer ps.mu.RUnlock()
	return ps.m[conduit]
}

func (ps *policies) install(next map[string]Policy) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.m == nil {
		ps.m = map[string]*livePolicy{}
	}
	for name, l := range ps.m {
		if _, kept := next[name]; !kept {
			l.p.Store(nil)
		}
	}
	for name, p := range next {
		l := ps.m[name]
		if l == nil {
			l = &livePolicy{}
			ps.m[name] = l
		}
		l.p.Store(&policyBox{p})
	}
}

// verdict classes of the request counters.
const (
	countAllowed = iota
	countDenied
	countMonitored
	numCounts
)

var countNames = [numCounts]string{"allowed", "denied", "monitored"}

// conduitCounters count one conduit's requests by request type (Op) and
// verdict: one atomic add per request.
type conduitCounters struct {
	requests [256][numCounts]atomic.Uint64
}

func (c *conduitCounters) count(v *Verdict) {
	class := countAllowed
	switch {
	case v.Reason == "":
	case v.Monitor && v.Action == Forward:
		class = countMonitored
	default:
		class = countDenied
	}
	c.requests[v.Op][class].Add(1)
}

// counters are the request counters by conduit.
type counters struct {
	mu sync.RWMutex
	m  map[string]*conduitCounters
}

// conduit returns the counters of a conduit, made on first use.
func (cs *counters) conduit(name string) *conduitCounters {
	cs.mu.RLock()
	c := cs.m[name]
	cs.mu.RUnlock()
	if c != nil {
		return c
	}
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.m == nil {
		cs.m = map[string]*conduitCounters{}
	}
	if c = cs.m[name]; c == nil {
		c = new(conduitCounters)
		cs.m[name] = c
	}
	return c
}

// snapshot returns the non-zero counters, by conduit, request type and
// verdict.
func (cs *counters) snapshot(protocol string, name func(uint8) string) []inspect.RequestCount {
	cs.mu.RLock()
	names := make([]string, 0, len(cs.m))
	for n := range cs.m {
		names = append(names, n)
	}
	cs.mu.RUnlock()
	slices.SortFunc(names, strings.Compare)
	var out []inspect.RequestCount
	for _, conduit := range names {
		c := cs.conduit(conduit)
		for op := range c.requests {
			for v := range c.requests[op] {
				if n := c.requests[op][v].Load(); n > 0 {
					rc := inspect.RequestCount{Protocol: protocol, Conduit: conduit, Function: op, Verdict: countNames[v], Count: n}
					if name != nil {
						rc.Name = name(uint8(op))
					}
					out = append(out, rc)
				}
			}
		}
	}
	return out
}
