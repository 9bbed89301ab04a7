package firewall_test

import (
	"net/netip"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/zonegate/zonegate/firewall"
)

func TestAllows(t *testing.T) {
	m := loadFile(t, examplePath)
	a := netip.MustParseAddr
	for _, tc := range []struct {
		name string
		flow firewall.Flow
		opt  firewall.Options
		want bool
	}{
		{"conduit to asset", firewall.Flow{unix.IPPROTO_TCP, a("198.18.10.5"), a("198.18.20.10"), 443}, firewall.Options{}, true},
		{"conduit to other asset", firewall.Flow{unix.IPPROTO_TCP, a("198.18.10.5"), a("198.18.20.11"), 443}, firewall.Options{}, false},
		{"wrong port", firewall.Flow{unix.IPPROTO_TCP, a("198.18.10.5"), a("198.18.20.10"), 444}, firewall.Options{}, false},
		{"reverse", firewall.Flow{unix.IPPROTO_TCP, a("198.18.20.10"), a("198.18.10.5"), 443}, firewall.Options{}, false},
		{"inside a zone", firewall.Flow{unix.IPPROTO_TCP, a("198.18.10.5"), a("198.18.10.6"), 1}, firewall.Options{}, true},
		{"outside every zone", firewall.Flow{unix.IPPROTO_TCP, a("203.0.113.1"), a("198.18.10.6"), 1}, firewall.Options{}, true},
		{"ipv6 zone-wide", firewall.Flow{unix.IPPROTO_TCP, a("fd00:10::5"), a("fd00:20::7"), 8443}, firewall.Options{}, true},
		{"icmpv6 echo", firewall.Flow{unix.IPPROTO_ICMPV6, a("fd00:10::5"), a("fd00:20::7"), 0}, firewall.Options{}, true},
		{"icmp where only icmpv6", firewall.Flow{unix.IPPROTO_ICMP, a("198.18.10.5"), a("198.18.20.7"), 0}, firewall.Options{}, false},
		{"udp", firewall.Flow{unix.IPPROTO_UDP, a("198.18.30.10"), a("198.18.20.11"), 123}, firewall.Options{}, true},
		{"from asset not listed", firewall.Flow{unix.IPPROTO_UDP, a("198.18.30.11"), a("198.18.20.11"), 123}, firewall.Options{}, false},
		{"island", firewall.Flow{unix.IPPROTO_TCP, a("198.18.10.5"), a("198.18.20.10"), 443}, firewall.Options{Island: true}, false},
		{"island inside zone", firewall.Flow{unix.IPPROTO_TCP, a("198.18.10.5"), a("198.18.10.6"), 443}, firewall.Options{Island: true}, true},
	} {
		if got := firewall.Allows(m, tc.opt, tc.flow); got != tc.want {
			t.Errorf("%s: Allows = %v, want %v", tc.name, got, tc.want)
		}
	}
}
