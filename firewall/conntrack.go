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
		return !m.Allows(fl, opt.Island)
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

func flowOf(f *netlink.ConntrackFlow) (zone.Flow, bool) {
	src, ok1 := ipAddr(f.Forward.SrcIP)
	dst, ok2 := ipAddr(f.Forward.DstIP)
	if !ok1 || !ok2 {
		return zone.Flow{}, false
	}
	return zone.Flow{Proto: f.Forward.Protocol, Src: src, Dst: dst, DstPort: f.Forward.DstPort}, true
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
