// Package events is the daemon's one pipeline for data-plane events:
// requests the inspecting proxies denied, framing errors and refused
// connections, and the packets the ruleset dropped (read from NFLOG).
//
// The inspecting proxies' event loops only queue their events (each loop
// its own bounded queue, inspect.Feed); Pipeline.Follow drains them on a
// goroutine of the pipeline's, so nothing on a loop formats, logs or takes
// a lock the sinks take. Record counts an event into a fixed-size
// aggregation table under one short lock: no formatting, no allocation;
// it also counts it once in the cumulative counters the metrics read
// (Totals).
// Once per interval (Config.Interval, default 10 s) the table is swapped
// and handed, off the hot path, to the sinks: the audit log gets one record
// per key (kind, source address, conduit or zone, reason) with a count,
// the first and last time and a sample; the daemon log gets a bounded
// number of lines and "N more suppressed"; a ring of recent aggregates
// serves `zonegate events`. The table holds at most Config.MaxKeys keys per
// interval; events of further keys are counted into one "other" aggregate.
//
// Allowed writes to field devices are management-relevant and stay
// individual records (Pipeline.Individual); they share the audit log's
// data-plane budget with the aggregates.
package events

import (
	"net/netip"
	"strconv"
	"time"

	"github.com/zonegate/zonegate/protocols/inspect"
)

// Kind is the kind of a data-plane event.
type Kind uint8

// Kinds of events.
const (
	// Denied: a request an inspected conduit's policy denied (or would
	// have denied in monitor mode), rate-limit hits included.
	Denied Kind = iota + 1
	// Malformed: a framing error on an inspected connection.
	Malformed
	// Refused: an inspected connection refused by a connection limit or
	// because no conduit routes it.
	Refused
	// Failure: an operational problem of a proxy (device unreachable or
	// silent); daemon log only, not a security event.
	Failure
	// DroppedFlow: a packet the ruleset dropped (forward or input).
	DroppedFlow
	// Spoofed: a packet dropped by anti-spoofing (source address not of
	// the zone of its ingress interface).
	Spoofed
	// Write: an allowed write to a field device (individual record).
	Write
	// Other: the aggregate of the events whose keys did not fit in the
	// table in one interval.
	Other
	// Opened: a client opened an authenticated channel (an OPC UA secure
	// channel): individual record with the credentials it presented.
	Opened
	numKinds
)

var kindNames = [numKinds]string{
	Denied:      "denied",
	Malformed:   "malformed",
	Refused:     "refused",
	Failure:     "failure",
	DroppedFlow: "dropped-flow",
	Spoofed:     "spoofed",
	Write:       "write",
	Other:       "other",
	Opened:      "opened",
}

func (k Kind) String() string {
	if k < numKinds && kindNames[k] != "" {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Security reports whether events of this kind are security events, which
// go to the audit log.
func (k Kind) Security() bool { return k != Failure && k != 0 }

// Event is one data-plane event. It has no pointers into per-event
// memory: strings are the callers' long-lived ones (conduit, zone and
// interface names, reason constants), the sample is a fixed buffer.
type Event struct {
	Kind        Kind
	Time        time.Time
	Protocol    string         // inspected protocol ("modbus") or IP protocol ("tcp", "udp", "icmp", "icmpv6")
	Source      netip.AddrPort // client, or packet source (port 0 when none)
	Destination netip.AddrPort // device, or packet destination (port 0 when none)
	Conduit     string         // inspected conduit (proxy events)
	Role        string         // the client's role, when a front end proved one (proxy events)
	Zone        string         // ingress zone (dropped packets), "" if unknown
	Interface   string         // ingress interface (dropped packets)
	Chain       string         // ruleset chain that dropped the packet: forward, input, spoofed
	Reason      string         // why (a reason constant)
	Monitor     bool           // monitor mode: would have been denied, was forwarded
	Sample      inspect.Summary
	// Count is how many equal events this one stands for (0 means 1): a
	// proxy counts repeated events of one round into one.
	Count uint64
}

// n is the number of events ev stands for.
func (ev *Event) n() uint64 { return max(ev.Count, 1) }

// key is what events are aggregated by. The destination is not part of
// it: a scan of many ports or addresses from one source is one key.
type key struct {
	kind   Kind
	src    netip.Addr
	scope  string // conduit, or ingress zone
	chain  string
	reason string
	proto  string
}

func keyOf(ev *Event) key {
	scope := ev.Conduit
	if scope == "" {
		scope = ev.Zone
	}
	return key{kind: ev.Kind, src: ev.Source.Addr(), scope: scope, chain: ev.Chain, reason: ev.Reason, proto: ev.Protocol}
}

// Aggregate is what one key saw in one interval.
type Aggregate struct {
	// Seq numbers aggregates in the order they were emitted (from 1);
	// set by the pipeline when the interval is flushed.
	Seq   uint64
	Count uint64
	First time.Time
	Last  time.Time
	// Sample is the first event of the key in the interval.
	Sample Event
	// PortLo and PortHi are the lowest and highest destination port seen
	// (0 when the protocol has none).
	PortLo, PortHi uint16
	// OtherDestinations counts the events whose destination address
	// differs from the sample's (0: one destination).
	OtherDestinations uint64
}

func (a *Aggregate) add(ev *Event) {
	if a.Count == 0 {
		a.Sample, a.First, a.Last = *ev, ev.Time, ev.Time
		a.Sample.Count = 0
		a.PortLo, a.PortHi = ev.Destination.Port(), ev.Destination.Port()
		a.Count = ev.n()
		return
	}
	a.Count += ev.n()
	if ev.Time.After(a.Last) {
		a.Last = ev.Time
	}
	if ev.Time.Before(a.First) {
		a.First = ev.Time
	}
	p := ev.Destination.Port()
	a.PortLo, a.PortHi = min(a.PortLo, p), max(a.PortHi, p)
	if ev.Destination.Addr() != a.Sample.Destination.Addr() {
		a.OtherDestinations += ev.n()
	}
}

// Batch is one interval's aggregates, handed to the sinks.
type Batch struct {
	Start, End time.Time
	Aggregates []Aggregate // in the order their keys first appeared
}
