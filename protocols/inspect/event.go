package inspect

import (
	"net/netip"
	"time"
)

// EventKind is the kind of a data-plane event that goes to the audit log.
type EventKind uint8

// Event kinds.
const (
	// Denied: a request the conduit's policy denied (or, in monitor mode,
	// would have denied).
	Denied EventKind = iota + 1
	// Write: an allowed request that changes a field device's settings,
	// forwarded to the device.
	Write
	// Malformed: a framing error; the proxy closed the connection.
	Malformed
	// Refused: a client connection refused by a connection limit or
	// because no conduit routes it.
	Refused
	// Failure: an operational problem (device unreachable, timeout,
	// unsolicited response); not a security event, for the daemon log.
	Failure
	// Opened: a client opened an authenticated channel (an OPC UA
	// secure channel with a client certificate): recorded one by one
	// with the credentials it presented (subject, fingerprint, policy).
	Opened
)

func (k EventKind) String() string {
	switch k {
	case Denied:
		return "denied"
	case Write:
		return "write"
	case Malformed:
		return "malformed"
	case Refused:
		return "refused"
	case Failure:
		return "failure"
	case Opened:
		return "opened"
	}
	return "unknown"
}

// Event is a data-plane event of any inspected protocol in a neutral shape:
// who talked to which device through which conduit, what happened, and the
// protocol's own details (for Modbus: unit, function, addresses, values).
//
// An Event holds no pointer into per-event memory (strings are the
// proxy's long-lived names and reason constants, Summary and Data are
// fixed buffers), so the proxies queue events by value without
// allocating (Queue).
type Event struct {
	Protocol    string // Protocol.Name
	Kind        EventKind
	Time        time.Time
	Source      netip.AddrPort // client
	Destination netip.AddrPort // device
	Conduit     string
	Role        string // the client's role, when a front end proved one (Modbus/TCP Security); "" otherwise
	Monitor     bool   // the policy only monitors: a denied request was forwarded
	// Reason says why: the denial's reason, the framing error, the
	// device's failure. It is the metric label, the aggregation key and
	// the audit detail of the event.
	Reason string
	// Summary describes the request in a few words (Modbus: unit,
	// function, addresses); built without allocation, for every kind.
	Summary Summary
	// Data is the protocol's raw description of a Write (Modbus: unit
	// and PDU), from which Feed.Drain builds Details off the hot path.
	Data    [DataLen]byte
	DataLen uint16
	// Count is how many events this one stands for (0 means 1): a loop
	// counts an event equal to one it queued in the same round (same
	// kind, reason, source address, destination, conduit and role) into
	// that one, so that a flood costs a count, not a queue slot, per
	// request. Write events are never counted together.
	Count uint32
	// Details are the protocol's own fields: keys [a-z0-9_], values
	// readable text. The receiver owns the map. Set by Feed.Drain for
	// Write and Opened events only (which are recorded one by one); the
	// others, which can come in floods, carry the Summary only.
	Details map[string]string
}

// DataLen is the most bytes of Event.Data.
const DataLen = 256

// N is the number of events ev stands for.
func (ev *Event) N() uint64 { return uint64(max(ev.Count, 1)) }

// SetData copies b (cut at DataLen bytes) into the event's Data.
func (ev *Event) SetData(b []byte) { ev.DataLen = uint16(copy(ev.Data[:], b)) }

// Bytes returns the event's Data.
func (ev *Event) Bytes() []byte { return ev.Data[:ev.DataLen] }

// SummaryLen is the most bytes a Summary holds.
const SummaryLen = 94

// Summary is a short text in a fixed buffer: building one does not
// allocate. Text beyond SummaryLen is cut.
type Summary struct {
	n uint8
	b [SummaryLen]byte
}

// Add appends s.
func (m *Summary) Add(s string) *Summary {
	m.n += uint8(copy(m.b[m.n:], s))
	return m
}

// AddBytes appends b.
func (m *Summary) AddBytes(b []byte) *Summary {
	m.n += uint8(copy(m.b[m.n:], b))
	return m
}

// Uint appends v in decimal.
func (m *Summary) Uint(v uint64) *Summary {
	var buf [20]byte
	i := len(buf)
	for {
		i--
		buf[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			break
		}
	}
	m.n += uint8(copy(m.b[m.n:], buf[i:]))
	return m
}

// Len is the length of the text.
func (m *Summary) Len() int { return int(m.n) }

// String returns the text (this allocates).
func (m Summary) String() string { return string(m.b[:m.n]) }

// Requests sums the counts of the given verdict ("" for all).
func Requests(counts []RequestCount, verdict string) uint64 {
	var n uint64
	for _, rc := range counts {
		if verdict == "" || rc.Verdict == verdict {
			n += rc.Count
		}
	}
	return n
}

// RequestCount is one non-zero request counter of an inspecting proxy.
type RequestCount struct {
	Protocol string
	Conduit  string
	// Function is the protocol's request type (Modbus: the function code).
	Function int
	// Name names the request type when the protocol's codec names them
	// (OPC UA: "Read", "Write", "OPN", ...); "" otherwise.
	Name    string
	Verdict string // allowed | denied | monitored
	Count   uint64
}
