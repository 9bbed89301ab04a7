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
)

func (k EventKind) String() string {
	switch k {
	case Denied:
		return "denied"
	case Write:
		return "write"
	}
	return "unknown"
}

// Event is a data-plane event of any inspected protocol in a neutral shape:
// who talked to which device through which conduit, what happened, and the
// protocol's own details (for Modbus: unit, function, addresses, values).
type Event struct {
	Protocol    string // Protocol.Name
	Kind        EventKind
	Time        time.Time
	Source      netip.AddrPort // client
	Destination netip.AddrPort // device
	Conduit     string
	Monitor     bool   // the policy only monitors: a denied request was forwarded
	Reason      string // why it was denied
	// Details are the protocol's own fields: keys [a-z0-9_], values
	// readable text. The receiver owns the map.
	Details map[string]string
}

// Sink receives data-plane events. Proxies call it on their hot path from
// many goroutines: it must be safe for concurrent use and must not block
// (queue or drop instead). The Event is the receiver's to keep.
type Sink interface {
	InspectedEvent(ev Event)
}

// SinkFunc adapts a function to Sink.
type SinkFunc func(ev Event)

// InspectedEvent implements Sink.
func (f SinkFunc) InspectedEvent(ev Event) { f(ev) }

// RequestCount is one non-zero request counter of an inspecting proxy.
type RequestCount struct {
	Protocol string
	Conduit  string
	// Function is the protocol's request type (Modbus: the function code).
	Function int
	Verdict  string // allowed | denied | monitored
	Count    uint64
}
