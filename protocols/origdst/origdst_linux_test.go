package origdst_test

import (
	"net"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zonegate/zonegate/protocols/internal/netnstest"
	"github.com/zonegate/zonegate/protocols/origdst"
)

func TestOriginalDestination(t *testing.T) {
	ns := netnstest.New(t)
	var ln net.Listener
	var err error
	ns.Do(func() { ln, err = net.Listen("tcp", ":15020") }) // dual stack
	require.NoError(t, err)
	defer ln.Close()
	for _, dst := range []string{"127.0.0.1:5020", "[::1]:5020"} {
		t.Run(dst, func(t *testing.T) {
			var c net.Conn
			ns.Do(func() { c, err = net.Dial("tcp", dst) })
			require.NoError(t, err)
			defer c.Close()
			s, err := ln.Accept()
			require.NoError(t, err)
			defer s.Close()
			got, err := origdst.OriginalDestination(s.(*net.TCPConn))
			require.NoError(t, err)
			assert.Equal(t, netip.MustParseAddrPort(dst), got)
			assert.Equal(t, uint16(15020), s.LocalAddr().(*net.TCPAddr).AddrPort().Port())
		})
	}
	t.Run("not redirected", func(t *testing.T) {
		var c net.Conn
		ns.Do(func() { c, err = net.Dial("tcp", "127.0.0.1:15020") })
		require.NoError(t, err)
		defer c.Close()
		s, err := ln.Accept()
		require.NoError(t, err)
		defer s.Close()
		got, err := origdst.OriginalDestination(s.(*net.TCPConn))
		t.Logf("not redirected: %v, %v", got, err)
		// Without NAT the kernel either refuses or reports the real
		// destination.
		if err == nil {
			assert.Equal(t, netip.MustParseAddrPort("127.0.0.1:15020"), got, "a connection that was not redirected")
		}
	})
}
