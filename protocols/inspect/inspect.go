// Package inspect is the protocol-neutral contract between the gateway and
// the protocols it inspects: what the zone model, the firewall redirect, the
// daemon and the audit log need to know about "an inspected protocol",
// without knowing which one it is.
//
// It holds the registry of inspected protocols (their `inspect:` names and
// default proxy ports), the data-plane event every inspecting proxy reports
// (denied requests, allowed writes), the bounded queues the proxies' event
// loops hand events to the event pipeline through (Queue, Feed) and the
// request counter every proxy keeps. It is pure: no sockets, no logger.
// The runtime side, the proxy engine the daemon starts for each protocol,
// is package protocols/proxy.
//
// Adding a protocol (DNP3, say) is one engine package beside
// protocols/modbus, one codec package for the proxy engine with its
// proxy.Inspector, one entry in Protocols below and one in the daemon's
// list of inspectors (gateway/inspection.go).
package inspect

import "slices"

// Protocol describes an inspected protocol.
type Protocol struct {
	// Name is the value of a conduit's `inspect:` field, the key of its
	// rules block in the zone model, the prefix of its nftables chains and
	// the protocol detail of its audit records. [a-z][a-z0-9]*.
	Name string
	// Title names the protocol in messages and ruleset comments.
	Title string
	// DefaultPort is the local port its proxy listens on when the settings
	// name none.
	DefaultPort uint16
}

// Modbus is Modbus/TCP (packages protocols/modbus and protocols/modbustcp).
var Modbus = Protocol{Name: "modbus", Title: "Modbus", DefaultPort: 5020}

// registry lists every inspected protocol, in a fixed order.
var registry = []Protocol{Modbus}

// Protocols returns the registered protocols.
func Protocols() []Protocol { return slices.Clone(registry) }

// Lookup returns the protocol called name.
func Lookup(name string) (Protocol, bool) {
	i := slices.IndexFunc(registry, func(p Protocol) bool { return p.Name == name })
	if i < 0 {
		return Protocol{}, false
	}
	return registry[i], true
}

// Names returns the names of the registered protocols.
func Names() []string {
	out := make([]string, len(registry))
	for i, p := range registry {
		out[i] = p.Name
	}
	return out
}
