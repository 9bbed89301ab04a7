package modbus

import (
	"net/netip"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// EventKind classifies proxy events.
type EventKind uint8

// Event kinds.
const (
	EventDenied              EventKind = iota + 1 // security event: a request was (or, in monitor mode, would have been) denied
	EventWrite                                    // device setting change: a write was forwarded to the device
	EventUnsolicited                              // a response without a matching outstanding request was dropped
	EventMalformed                                // a framing error; the connection was closed
	EventUpstreamTimeout                          // the device did not answer in time (0x0B sent)
	EventUpstreamClosed                           // the device connection broke with requests outstanding (0x0B sent)
	EventUpstreamUnreachable                      // connecting to the device failed (0x0A sent)
	EventConnRefused                              // a client connection was refused by a limit or by the resolver
	numEventKinds
)

var eventKindNames = [numEventKinds]string{
	EventDenied:              "denied",
	EventWrite:               "write",
	EventUnsolicited:         "unsolicited_response",
	EventMalformed:           "malformed_frame",
	EventUpstreamTimeout:     "upstream_timeout",
	EventUpstreamClosed:      "upstream_closed",
	EventUpstreamUnreachable: "upstream_unreachable",
	EventConnRefused:         "connection_refused",
}

func (k EventKind) String() string {
	if k < numEventKinds && eventKindNames[k] != "" {
		return eventKindNames[k]
	}
	return "event(" + strconv.Itoa(int(k)) + ")"
}

// Event describes something the proxy did or saw. The proxy reuses Event
// values: a sink must copy what it keeps and must not retain the pointer,
// Request or Frame after ModbusEvent returns.
type Event struct {
	Kind        EventKind
	Time        time.Time
	Source      netip.AddrPort // client
	Destination netip.AddrPort // device (upstream)
	Conduit     string
	Mode        Mode // of the policy that decided (Denied, Write)

	// Request fields (zero when no request applies, e.g. EventConnRefused).
	TransactionID uint16 // as sent by the client
	Unit          uint8
	Function      FunctionCode
	Address       uint16
	Quantity      uint16

	Reason    Reason
	Exception ExceptionCode // exception sent to the client, if any (in monitor mode: the one that would have been sent)

	// Request is the parsed request for Denied and Write events when it
	// parsed; use Request.Values for written values. Nil otherwise.
	Request *Request
	// Frame is the raw frame concerned (request, or the dropped response
	// for EventUnsolicited), if any.
	Frame Frame
	// Err is the underlying error (framing error, dial error), if any.
	Err error
}

// EventSink receives proxy events. ModbusEvent is called on the proxy's
// hot path, from the goroutines of many connections at once: it must be
// safe for concurrent use, must not block (queue or drop instead), and must
// copy whatever it keeps, because the Event and everything it points to is
// reused after the call returns.
type EventSink interface {
	ModbusEvent(ev *Event)
}

// Verdict is the outcome class of a request for counters.
type Verdict uint8

// Verdicts.
const (
	VerdictAllowed   Verdict = iota // allowed and forwarded
	VerdictDenied                   // denied and not forwarded
	VerdictMonitored                // would have been denied; forwarded in monitor mode
	numVerdicts
)

func (v Verdict) String() string {
	switch v {
	case VerdictAllowed:
		return "allowed"
	case VerdictDenied:
		return "denied"
	case VerdictMonitored:
		return "monitored"
	}
	return "verdict(" + strconv.Itoa(int(v)) + ")"
}

// Counters holds request and event counters per conduit. It is safe for
// concurrent use; counting is one atomic add.
type Counters struct {
	mu       sync.RWMutex
	conduits map[string]*ConduitCounters
}

// ConduitCounters are the counters of one conduit.
type ConduitCounters struct {
	requests [256][numVerdicts]atomic.Uint64 // by request function code and verdict
	events   [numEventKinds]atomic.Uint64
}

// Request counts one request with function code fc and verdict v.
func (c *ConduitCounters) Request(fc FunctionCode, v Verdict) { c.requests[fc][v].Add(1) }

// Event counts one event of kind k.
func (c *ConduitCounters) Event(k EventKind) {
	if k < numEventKinds {
		c.events[k].Add(1)
	}
}

// Conduit returns the counters of a conduit, creating them on first use.
// Callers on a hot path keep the result.
func (c *Counters) Conduit(name string) *ConduitCounters {
	c.mu.RLock()
	cc := c.conduits[name]
	c.mu.RUnlock()
	if cc != nil {
		return cc
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conduits == nil {
		c.conduits = make(map[string]*ConduitCounters)
	}
	if cc = c.conduits[name]; cc == nil {
		cc = new(ConduitCounters)
		c.conduits[name] = cc
	}
	return cc
}

// RequestCount is one non-zero request counter in a snapshot.
type RequestCount struct {
	Conduit  string
	Function FunctionCode
	Verdict  Verdict
	Count    uint64
}

// EventCount is one non-zero event counter in a snapshot.
type EventCount struct {
	Conduit string
	Kind    EventKind
	Count   uint64
}

// CounterSnapshot is a point-in-time copy of all non-zero counters, sorted
// by conduit, then function code or kind, then verdict.
type CounterSnapshot struct {
	Requests []RequestCount
	Events   []EventCount
}

// Snapshot copies the counters.
func (c *Counters) Snapshot() CounterSnapshot {
	c.mu.RLock()
	names := make([]string, 0, len(c.conduits))
	for n := range c.conduits {
		names = append(names, n)
	}
	sort.Strings(names)
	ccs := make([]*ConduitCounters, len(names))
	for i, n := range names {
		ccs[i] = c.conduits[n]
	}
	c.mu.RUnlock()
	var s CounterSnapshot
	for i, cc := range ccs {
		for fc := range cc.requests {
			for v := range cc.requests[fc] {
				if n := cc.requests[fc][v].Load(); n > 0 {
					s.Requests = append(s.Requests, RequestCount{names[i], FunctionCode(fc), Verdict(v), n})
				}
			}
		}
		for k := range cc.events {
			if n := cc.events[k].Load(); n > 0 {
				s.Events = append(s.Events, EventCount{names[i], EventKind(k), n})
			}
		}
	}
	return s
}

// RequestTotal sums the request counters of a snapshot matching conduit
// ("" = any) and verdict.
func (s CounterSnapshot) RequestTotal(conduit string, v Verdict) uint64 {
	var n uint64
	for _, r := range s.Requests {
		if (conduit == "" || r.Conduit == conduit) && r.Verdict == v {
			n += r.Count
		}
	}
	return n
}

// EventTotal sums the event counters of a snapshot matching conduit ("" =
// any) and kind.
func (s CounterSnapshot) EventTotal(conduit string, k EventKind) uint64 {
	var n uint64
	for _, e := range s.Events {
		if (conduit == "" || e.Conduit == conduit) && e.Kind == k {
			n += e.Count
		}
	}
	return n
}
