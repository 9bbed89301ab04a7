package events

import (
	"net/netip"
	"strings"
)

// Log prefixes of the ruleset's drop rules (package firewall, compile.go
// and counters.go). The ruleset logs dropped packets to NFLOG with these.
const (
	prefixSpoofed       = "zonegate spoofed "
	prefixForward       = "zonegate drop forward: "
	prefixInput         = "zonegate drop input: "
	prefixLockdown      = "zonegate lockdown drop forward: "
	reasonSpoofed       = "source address not of the ingress zone"
	reasonForward       = "no conduit allows the flow"
	reasonInput         = "not a management service for this zone"
	reasonLockdown      = "lockdown: all forwarding dropped"
	chainSpoofed        = "spoofed"
	chainForward        = "forward"
	chainInput          = "input"
	chainLockdownFwd    = "lockdown-forward"
	protoTCP, protoUDP  = "tcp", "udp"
	protoICMP, protoIC6 = "icmp", "icmpv6"
	protoSCTP, protoIP  = "sctp", "ip"
)

// classify fills kind, chain and reason from a drop rule's log prefix; false
// for a prefix that is not zonegate's.
func classify(prefix string, ev *Event) bool {
	switch {
	case strings.HasPrefix(prefix, prefixSpoofed):
		ev.Kind, ev.Chain, ev.Reason = Spoofed, chainSpoofed, reasonSpoofed
	case prefix == prefixForward:
		ev.Kind, ev.Chain, ev.Reason = DroppedFlow, chainForward, reasonForward
	case prefix == prefixInput:
		ev.Kind, ev.Chain, ev.Reason = DroppedFlow, chainInput, reasonInput
	case prefix == prefixLockdown:
		ev.Kind, ev.Chain, ev.Reason = DroppedFlow, chainLockdownFwd, reasonLockdown
	default:
		return false
	}
	return true
}

// Decode reads the IPv4 or IPv6 header and the TCP, UDP, SCTP or ICMP
// header of a logged packet (payload from the network header on) into ev:
// protocol, source and destination address and port, and a sample ("tcp
// flags S", "icmp type 8 code 0"). It does not allocate. false: not an IP
// packet, or too short for its IP header.
func Decode(b []byte, ev *Event) bool {
	if len(b) < 1 {
		return false
	}
	var proto byte
	var src, dst netip.Addr
	var l4 []byte
	fragment := false
	switch b[0] >> 4 {
	case 4:
		ihl := int(b[0]&0x0f) * 4
		if len(b) < 20 || ihl < 20 || len(b) < ihl {
			return false
		}
		proto = b[9]
		src = netip.AddrFrom4([4]byte(b[12:16]))
		dst = netip.AddrFrom4([4]byte(b[16:20]))
		fragment = (uint16(b[6])&0x1f)<<8|uint16(b[7]) != 0
		l4 = b[ihl:]
	case 6:
		if len(b) < 40 {
			return false
		}
		proto = b[6]
		src = netip.AddrFrom16([16]byte(b[8:24]))
		dst = netip.AddrFrom16([16]byte(b[24:40]))
		l4 = b[40:]
		// Skip extension headers (hop-by-hop, routing, destination
		// options, fragment) to the upper-layer header.
	ext:
		for range 8 {
			switch proto {
			case 0, 43, 60:
				if len(l4) < 2 {
					l4 = nil
					break ext
				}
				n := (int(l4[1]) + 1) * 8
				proto = l4[0]
				if len(l4) < n {
					l4 = nil
				} else {
					l4 = l4[n:]
				}
				continue
			case 44:
				if len(l4) < 8 {
					l4 = nil
					break ext
				}
				proto = l4[0]
				fragment = (uint16(l4[2])<<8|uint16(l4[3]))>>3 != 0
				l4 = l4[8:]
				continue
			}
			break ext
		}
	default:
		return false
	}
	var sport, dport uint16
	if fragment {
		l4 = nil // a non-first fragment carries no upper-layer header
	}
	switch proto {
	case 6, 17, 132:
		ev.Protocol = protoTCP
		if proto == 17 {
			ev.Protocol = protoUDP
		} else if proto == 132 {
			ev.Protocol = protoSCTP
		}
		if len(l4) >= 4 {
			sport = uint16(l4[0])<<8 | uint16(l4[1])
			dport = uint16(l4[2])<<8 | uint16(l4[3])
		}
		ev.Sample.Add(ev.Protocol)
		if proto == 6 && len(l4) >= 14 {
			ev.Sample.Add(" flags ")
			const names = "FSRPAUEC"
			for i := range 8 {
				if l4[13]&(1<<i) != 0 {
					ev.Sample.AddBytes([]byte{names[i]})
				}
			}
		}
	case 1, 58:
		ev.Protocol = protoICMP
		if proto == 58 {
			ev.Protocol = protoIC6
		}
		ev.Sample.Add(ev.Protocol)
		if len(l4) >= 2 {
			ev.Sample.Add(" type ").Uint(uint64(l4[0])).Add(" code ").Uint(uint64(l4[1]))
		}
	default:
		ev.Protocol = protoIP
		ev.Sample.Add("ip proto ").Uint(uint64(proto))
	}
	if fragment {
		ev.Sample.Add(" fragment")
	}
	ev.Sample.Add(" len ").Uint(uint64(len(b)))
	ev.Source = netip.AddrPortFrom(src, sport)
	ev.Destination = netip.AddrPortFrom(dst, dport)
	return true
}
