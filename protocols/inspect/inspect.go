// Package inspect is the protocol-neutral contract between the gateway and
// the protocols it inspects: what the zone model, the firewall redirect, the
// daemon and the audit log need to know about "an inspected protocol",
// without knowing which one it is.
//
// It holds what names a protocol (Protocol: its `inspect:` name, title and
// default proxy port), the data-plane event every inspecting proxy reports
// (denied requests, allowed writes), the bounded queues the proxies' event
// loops hand events to the event pipeline through (Queue, Feed) and the
// request counter every proxy keeps. It is pure: no sockets, no logger.
// The runtime side, the proxy engine the daemon starts for each protocol,
// is package protocols/proxy; the list of the protocols zonegate inspects
// is package protocols/registry.
package inspect

// Protocol names an inspected protocol. Each protocol declares its own
// once, in its model-side package (modbusrules.Protocol embeds Modbus's),
// and its proxy.Inspector and Codec return that same value.
type Protocol struct {
	// Name is the value of a conduit's `inspect:` field, the key of its
	// rules block in the zone model, the prefix of its nftables chains and
	// the protocol detail of its audit records. [a-z][a-z0-9]*.
	Name string
	// Title names the protocol in messages, ruleset comments, drawings
	// and reports, such as "Modbus".
	Title string
	// DefaultPort is the local port its proxy listens on when the settings
	// name none.
	DefaultPort uint16
}
