package modbustcp

import (
	"context"
	"net"
	"net/netip"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/zonegate/zonegate/protocols/inspect"
	"github.com/zonegate/zonegate/protocols/internal/netnstest"
	"github.com/zonegate/zonegate/protocols/modbus"
	"github.com/zonegate/zonegate/protocols/origdst"
	"github.com/zonegate/zonegate/protocols/proxy"
)

// TestTransparentProxy runs the proxy the way the gateway does in
// transparent mode: the client connects to the device address, nftables
// redirects it to the proxy, the proxy finds the device with
// OriginalDestination and connects with a marked socket that the redirect
// lets through.
func TestTransparentProxy(t *testing.T) {
	ns := netnstest.New(t)
	plc := &fakePLC{hr: make([]uint16, 65536), coils: make([]bool, 65536)}
	for i := range plc.hr {
		plc.hr[i] = uint16(1000 + i)
	}
	var ln net.Listener
	var err error
	plc.addr = netip.MustParseAddrPort("127.0.0.1:5020")
	ns.Do(func() { plc.srv, err = startPLCAt(plc, plc.addr.String()) })
	noErr(t, err)
	defer plc.srv.Stop()
	ns.Do(func() { ln, err = net.Listen("tcp", ":15020") })
	noErr(t, err)
	pol, err := modbus.Compile(proxySpec())
	noErr(t, err)
	p, err := proxy.New(proxy.Config{
		Route: func(c net.Conn) (proxy.Route, error) {
			dst, err := origdst.OriginalDestination(c.(*net.TCPConn))
			return proxy.Route{Upstream: dst, Conduit: "transparent"}, err
		},
		Dial: func(ctx context.Context, network, addr string) (c net.Conn, err error) {
			d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
				var serr error
				err := rc.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_MARK, 42) })
				if err != nil {
					return err
				}
				return serr
			}}
			ns.Do(func() { c, err = d.DialContext(ctx, network, addr) })
			return c, err
		},
	}, Codec{})
	noErr(t, err)
	defer p.Close()
	noErr(t, p.Install(map[string]proxy.Policy{"transparent": pol}))
	sink := follow(p.Events())
	go p.Serve(ln)

	var c net.Conn
	ns.Do(func() { c, err = net.Dial("tcp", "127.0.0.1:5020") })
	noErr(t, err)
	defer c.Close()
	r := &rawConn{t: t, c: c, fr: modbus.NewFramer(c, nil)}
	equal(t, modbus.Frame(adu(1, 1, cat([]byte{3, 4}, be(1007, 1008)))), r.roundTrip(adu(1, 1, pdu(3, 7, 2))))
	wantException(t, r.roundTrip(adu(2, 1, pdu(6, 50, 1))), 2, 6, modbus.ExIllegalDataAddress)
	equal(t, int64(1), plc.requests.Load())
	ev := sink.waitFor(t, "denied", func(ev recEvent) bool { return ev.Kind == inspect.Denied })
	equal(t, plc.addr, ev.Destination)
	equal(t, "transparent", ev.Conduit)
}
