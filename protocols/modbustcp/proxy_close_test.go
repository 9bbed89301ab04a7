package modbustcp

import (
	"net"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zonegate/zonegate/protocols/modbus"
	"github.com/zonegate/zonegate/protocols/proxy"
)

// TestProxyCloseConns: connections a reload no longer allows are reset at
// once; the others keep working on the same sockets.
//
// Which connection goes is decided by its client address, known as soon as
// it is dialled, not by the order in which the proxy routes two connections
// that arrive together: that order is up to the scheduler.
func TestProxyCloseConns(t *testing.T) {
	e := newEnv(t, proxySpec(), netip.AddrPort{}, nil)
	gone, kept := e.dialRaw(), e.dialRaw()
	goneAddr := gone.c.LocalAddr().(*net.TCPAddr).AddrPort()
	read := adu(1, 1, pdu(3, 0, 1))
	for _, c := range []*rawConn{gone, kept} {
		require.Equal(t, modbus.FuncReadHoldingRegisters, c.roundTrip(read).Function(), "a read through the proxy before the reload")
	}
	require.Equal(t, 2, e.proxy.ActiveConns())

	var seen []proxy.Route
	closed := e.proxy.CloseConns(func(r proxy.Route, client netip.AddrPort) bool {
		seen = append(seen, r)
		return client == goneAddr
	})
	assert.Equal(t, 1, closed)
	require.Len(t, seen, 2, "CloseConns asks about every open connection")
	for _, r := range seen {
		assert.Equal(t, e.plc.addr, r.Upstream, "the route the connection was admitted with")
	}

	assert.Error(t, gone.expectClosed(), "the closed connection ends")
	assert.Equal(t, modbus.FuncReadHoldingRegisters, kept.roundTrip(read).Function(), "the other connection keeps working")
	waitUntil(t, "one connection left", func() bool { return e.proxy.ActiveConns() == 1 })
}
