package zone

import "net/netip"

// IP protocol numbers (IANA) of a Flow, as conntrack reports them.
const (
	IPProtoICMP   uint8 = 1
	IPProtoTCP    uint8 = 6
	IPProtoUDP    uint8 = 17
	IPProtoICMPv6 uint8 = 58
)

// Flow is the original direction of a connection: what the model is asked
// about when a connection's first packet arrives, when conntrack entries
// are checked after a change, and when a proxy routes a redirected
// connection.
type Flow struct {
	Proto    uint8 // IPPROTO_* (IPProtoTCP, ...)
	Src, Dst netip.Addr
	DstPort  uint16 // tcp/udp
}

// Allows reports whether the model lets the connection through the gateway
// between two zones: the same decision the compiled ruleset takes for its
// first packet. In island mode no conduit allows anything. Flows inside one
// zone and flows that touch no zone are not the model's business and are
// reported as allowed.
func (m *Model) Allows(f Flow, island bool) bool {
	from, to := m.ZoneOfAddr(f.Src), m.ZoneOfAddr(f.Dst)
	if from == nil || to == nil || from == to {
		return true
	}
	return !island && m.ConduitFor(f, nil) != nil
}

// ConduitFor returns the first conduit (in name order) among those keep
// accepts (nil: all) that lets the flow cross from its source zone to its
// destination zone, or nil.
func (m *Model) ConduitFor(f Flow, keep func(*Conduit) bool) *Conduit {
	from, to := m.ZoneOfAddr(f.Src), m.ZoneOfAddr(f.Dst)
	if from == nil || to == nil || from == to {
		return nil
	}
	var found *Conduit
	for _, c := range m.Conduits {
		if (keep == nil || keep(c)) && c.From == from.Name && c.To == to.Name && m.conduitAllows(c, f) && (found == nil || c.Name < found.Name) {
			found = c
		}
	}
	return found
}

func (m *Model) conduitAllows(c *Conduit, f Flow) bool {
	if !m.assetsAllow(c.FromAssets, f.Src) || !m.assetsAllow(c.ToAssets, f.Dst) {
		return false
	}
	for _, s := range c.Services {
		switch {
		case f.Proto == IPProtoTCP && s.Proto == TCP,
			f.Proto == IPProtoUDP && s.Proto == UDP:
			if s.HasPort(f.DstPort) {
				return true
			}
		case f.Proto == IPProtoICMP && s.Proto == ICMP && f.Src.Is4(),
			f.Proto == IPProtoICMPv6 && s.Proto == ICMPv6 && f.Src.Is6():
			// conntrack tracks ICMP queries (echo and friends); any ICMP
			// service of the conduit keeps them.
			return true
		}
	}
	return false
}

func (m *Model) assetsAllow(assets []string, a netip.Addr) bool {
	if len(assets) == 0 {
		return true
	}
	for _, name := range assets {
		if as := m.Asset(name); as != nil && as.Address == a {
			return true
		}
	}
	return false
}
