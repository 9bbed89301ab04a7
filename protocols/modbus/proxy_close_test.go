package modbus

import (
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"
)

// TestProxyCloseConns: connections a reload no longer allows are reset at
// once; the others keep working on the same sockets.
func TestProxyCloseConns(t *testing.T) {
	var n atomic.Int32
	e := newEnv(t, proxySpec(), netip.AddrPort{}, func(c *Config) {
		route := c.Route
		c.Route = func(nc net.Conn) (Route, error) {
			r, err := route(nc)
			if n.Add(1) == 1 {
				r.Conduit = "removed"
			}
			return r, err
		}
	})
	gone, kept := e.client(1), e.client(1)
	for _, c := range []interface {
		ReadHoldingRegisters(uint16, uint16) ([]byte, error)
	}{gone, kept} {
		if _, err := c.ReadHoldingRegisters(0, 1); err != nil {
			t.Fatal(err)
		}
	}
	closed := e.proxy.CloseConns(func(r Route, _ netip.AddrPort) bool { return r.Conduit == "removed" })
	equal(t, 1, closed)
	if _, err := gone.ReadHoldingRegisters(0, 1); err == nil {
		t.Fatal("a closed connection still got an answer")
	}
	if _, err := kept.ReadHoldingRegisters(0, 1); err != nil {
		t.Fatalf("the other connection stopped working: %v", err)
	}
	deadline := time.Now().Add(hang)
	for e.proxy.ActiveConns() != 1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	equal(t, 1, e.proxy.ActiveConns())
}
