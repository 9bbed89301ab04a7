//go:build !linux

package origdst

import (
	"errors"
	"net"
	"net/netip"
)

// OriginalDestination needs Linux netfilter; elsewhere it always fails.
func OriginalDestination(c *net.TCPConn) (netip.AddrPort, error) {
	return netip.AddrPort{}, errors.New("original destination needs Linux netfilter (SO_ORIGINAL_DST)")
}
