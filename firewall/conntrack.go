package firewall

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/zonegate/zonegate/gateway/zone"
)

// Flow is the original direction of a connection.
type Flow struct {
	Proto    uint8 // IPPROTO_*
	Src, Dst netip.Addr
	DstPort  uint16 // tcp/udp
}

// Allows reports whether the model lets the connection through the gateway
// between two zones: the same decision the compiled ruleset takes for its
// first packet. Flows inside one zone and flows that touch no zone are not
// the model's business and are reported as allowed.
func Allows(m *zone.Model, opt Options, f Flow) bool {
	from, to := m.ZoneOfAddr(f.Src), m.ZoneOfAddr(f.Dst)
	if from == nil || to == nil || from == to {
		return true
	}
	return !opt.Island && ConduitFor(m, f, nil) != nil
}

// ConduitFor returns the first conduit (in name order) among those keep
// accepts (nil: all) that lets the flow cross from its source zone to its
// destination zone, or nil.
func ConduitFor(m *zone.Model, f Flow, keep func(*zone.Conduit) bool) *zone.Conduit {
	from, to := m.ZoneOfAddr(f.Src), m.ZoneOfAddr(f.Dst)
	if from == nil || to == nil || from == to {
		return nil
	}
	var found *zone.Conduit
	for _, c := range m.Conduits {
		if (keep == nil || keep(c)) && c.From == from.Name && c.To == to.Name && conduitAllows(m, c, f) && (found == nil || c.Name < found.Name) {
			found = c
		}
	}
	return found
}

func conduitAllows(m *zone.Model, c *zone.Conduit, f Flow) bool {
	if !assetsAllow(m, c.FromAssets, f.Src) || !assetsAllow(m, c.ToAssets, f.Dst) {
		return false
	}
	for _, s := range c.Services {
		switch {
		case f.Proto == unix.IPPROTO_TCP && s.Proto == zone.TCP,
			f.Proto == unix.IPPROTO_UDP && s.Proto == zone.UDP:
			if s.HasPort(f.DstPort) {
				return true
			}
		case f.Proto == unix.IPPROTO_ICMP && s.Proto == zone.ICMP && f.Src.Is4(),
			f.Proto == unix.IPPROTO_ICMPV6 && s.Proto == zone.ICMPv6 && f.Src.Is6():
			// conntrack tracks ICMP queries (echo and friends); any ICMP
			// service of the conduit keeps them.
			return true
		}
	}
	return false
}

func assetsAllow(m *zone.Model, assets []string, a netip.Addr) bool {
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

// FlushDisallowed deletes the conntrack entries of connections between
// zones that the model no longer allows, so an established session through
// a removed or narrowed conduit stops. Connections to or from the gateway's
// own addresses are kept. It returns how many entries were deleted.
func FlushDisallowed(t Target, m *zone.Model, opt Options) (uint, error) {
	h, err := netlinkHandle(t)
	if err != nil {
		return 0, err
	}
	defer h.Close()
	local := map[netip.Addr]bool{}
	addrs, err := h.AddrList(nil, netlink.FAMILY_ALL)
	if err != nil {
		return 0, fmt.Errorf("list the gateway's addresses: %w", err)
	}
	for _, a := range addrs {
		if ip, ok := netip.AddrFromSlice(a.IP); ok {
			local[ip.Unmap()] = true
		}
	}
	filter := flowFilter(func(f *netlink.ConntrackFlow) bool {
		fl, ok := flowOf(f)
		if !ok || local[fl.Src] || local[fl.Dst] {
			return false
		}
		return !Allows(m, opt, fl)
	})
	var total uint
	for _, fam := range []netlink.InetFamily{unix.AF_INET, unix.AF_INET6} {
		n, err := h.ConntrackDeleteFilters(netlink.ConntrackTable, fam, filter)
		total += n
		if err != nil {
			return total, fmt.Errorf("delete conntrack entries: %w", err)
		}
	}
	return total, nil
}

type flowFilter func(*netlink.ConntrackFlow) bool

func (f flowFilter) MatchConntrackFlow(flow *netlink.ConntrackFlow) bool { return f(flow) }

func flowOf(f *netlink.ConntrackFlow) (Flow, bool) {
	src, ok1 := ipAddr(f.Forward.SrcIP)
	dst, ok2 := ipAddr(f.Forward.DstIP)
	if !ok1 || !ok2 {
		return Flow{}, false
	}
	return Flow{Proto: f.Forward.Protocol, Src: src, Dst: dst, DstPort: f.Forward.DstPort}, true
}

func ipAddr(ip net.IP) (netip.Addr, bool) {
	a, ok := netip.AddrFromSlice(ip)
	return a.Unmap(), ok
}

func netlinkHandle(t Target) (*netlink.Handle, error) {
	if err := t.usable(); err != nil {
		return nil, err
	}
	var h *netlink.Handle
	var err error
	if t.NetNS != nil {
		h, err = netlink.NewHandleAt(netns.NsHandle(t.fd()), unix.NETLINK_NETFILTER, unix.NETLINK_ROUTE)
	} else {
		h, err = netlink.NewHandle(unix.NETLINK_NETFILTER, unix.NETLINK_ROUTE)
	}
	if err != nil {
		return nil, fmt.Errorf("open netlink: %w", err)
	}
	return h, nil
}
