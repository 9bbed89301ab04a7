package origdst

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"

	"golang.org/x/sys/unix"
)

// ip6tSOOriginalDst is IP6T_SO_ORIGINAL_DST from linux/netfilter_ipv6/ip6_tables.h
// (golang.org/x/sys/unix does not define it).
const ip6tSOOriginalDst = 80

// OriginalDestination returns the destination a client connected to before
// netfilter NAT (an nftables `redirect` or `dnat` to the proxy) rewrote it,
// using SO_ORIGINAL_DST for IPv4 and IP6T_SO_ORIGINAL_DST for IPv6. IPv4
// clients on a dual-stack socket are looked up as IPv4. For a connection that
// was not NATed it returns the connection's own local address when
// conntrack tracks it, and an error (ENOENT) when not.
func OriginalDestination(c *net.TCPConn) (netip.AddrPort, error) {
	local, ok := c.LocalAddr().(*net.TCPAddr)
	if !ok {
		return netip.AddrPort{}, fmt.Errorf("original destination: local address %v is not TCP", c.LocalAddr())
	}
	v4 := local.AddrPort().Addr().Unmap().Is4()
	rc, err := c.SyscallConn()
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("original destination: %w", err)
	}
	var dst netip.AddrPort
	var serr error
	cerr := rc.Control(func(fd uintptr) {
		if v4 {
			dst, serr = origDst4(int(fd))
		} else {
			dst, serr = origDst6(int(fd))
		}
	})
	if cerr != nil {
		return netip.AddrPort{}, fmt.Errorf("original destination: %w", cerr)
	}
	if serr != nil {
		return netip.AddrPort{}, fmt.Errorf("original destination of %v -> %v (was the connection redirected by netfilter NAT?): %w", c.RemoteAddr(), c.LocalAddr(), serr)
	}
	return dst, nil
}

// origDst4 reads a struct sockaddr_in (16 bytes). GetsockoptIPv6Mreq passes
// a 20-byte buffer, enough for it.
func origDst4(fd int) (netip.AddrPort, error) {
	m, err := unix.GetsockoptIPv6Mreq(fd, unix.SOL_IP, unix.SO_ORIGINAL_DST)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("getsockopt SO_ORIGINAL_DST: %w", err)
	}
	b := m.Multiaddr[:] // family (host order), port (network order), address
	if fam := binary.NativeEndian.Uint16(b[0:2]); fam != unix.AF_INET {
		return netip.AddrPort{}, fmt.Errorf("getsockopt SO_ORIGINAL_DST: address family %d, want AF_INET", fam)
	}
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[4:8])), binary.BigEndian.Uint16(b[2:4])), nil
}

// origDst6 reads a struct sockaddr_in6 (28 bytes). GetsockoptIPv6MTUInfo
// passes a 32-byte buffer whose first field is a RawSockaddrInet6.
func origDst6(fd int) (netip.AddrPort, error) {
	m, err := unix.GetsockoptIPv6MTUInfo(fd, unix.SOL_IPV6, ip6tSOOriginalDst)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("getsockopt IP6T_SO_ORIGINAL_DST: %w", err)
	}
	sa := m.Addr
	if sa.Family != unix.AF_INET6 {
		return netip.AddrPort{}, fmt.Errorf("getsockopt IP6T_SO_ORIGINAL_DST: address family %d, want AF_INET6", sa.Family)
	}
	var port [2]byte // sin6_port is in network order in memory
	binary.NativeEndian.PutUint16(port[:], sa.Port)
	return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr), binary.BigEndian.Uint16(port[:])), nil
}
