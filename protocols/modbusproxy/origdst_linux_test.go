package modbusproxy

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/zonegate/zonegate/protocols/modbus"
	"github.com/zonegate/zonegate/protocols/origdst"
)

// netnsThread runs functions on one OS thread inside a new network
// namespace. Sockets created there stay in that namespace whatever thread
// uses them later.
type netnsThread struct{ work chan func() }

// nftRedirect sends local TCP connections to port 5020 (IPv4 and IPv6) to
// port 15020, except those of sockets with mark 42 (the proxy's own).
const nftRedirect = `
table inet zgtest {
	chain out {
		type nat hook output priority -100; policy accept;
		meta mark 42 return
		tcp dport 5020 redirect to :15020
	}
}
`

// newNetns creates the namespace, brings lo up and loads nftRedirect. It
// skips the test when that is impossible (not root, no nft).
func newNetns(t *testing.T) *netnsThread {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("SO_ORIGINAL_DST test needs root to create a network namespace with an nftables redirect; run as root")
	}
	nft, err := exec.LookPath("nft")
	if err != nil {
		t.Skip("SO_ORIGINAL_DST test needs the nft command (Debian package nftables)")
	}
	ns := &netnsThread{work: make(chan func())}
	ready := make(chan error)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			ready <- err
			return
		}
		ready <- nil
		for f := range ns.work {
			f()
		}
	}()
	if err := <-ready; err != nil {
		t.Skipf("cannot create a network namespace (%v): run as root on a kernel with network namespaces", err)
	}
	t.Cleanup(func() { close(ns.work) })
	ns.do(func() {
		if out, e := exec.Command("ip", "link", "set", "lo", "up").CombinedOutput(); e != nil {
			err = &exec.Error{Name: "ip link set lo up: " + string(out), Err: e}
			return
		}
		cmd := exec.Command(nft, "-f", "-")
		cmd.Stdin = strings.NewReader(nftRedirect)
		if out, e := cmd.CombinedOutput(); e != nil {
			err = &exec.Error{Name: "nft: " + string(out), Err: e}
		}
	})
	if err != nil {
		t.Skipf("cannot set up the namespace (no NAT support in this kernel?): %v", err)
	}
	// QEMU user-mode emulation does not pass SO_ORIGINAL_DST through.
	var ln net.Listener
	var c net.Conn
	ns.do(func() {
		if ln, err = net.Listen("tcp", "127.0.0.1:15020"); err == nil {
			c, err = net.Dial("tcp", "127.0.0.1:5020")
		}
	})
	noErr(t, err, "probe connection")
	defer ln.Close()
	defer c.Close()
	s, err := ln.Accept()
	noErr(t, err)
	defer s.Close()
	if _, err := origdst.OriginalDestination(s.(*net.TCPConn)); errors.Is(err, unix.ENOPROTOOPT) {
		t.Skipf("SO_ORIGINAL_DST is not available here (QEMU user-mode emulation?): %v", err)
	}
	return ns
}

func (n *netnsThread) do(f func()) {
	done := make(chan struct{})
	n.work <- func() { defer close(done); f() }
	<-done
}

func TestOriginalDestination(t *testing.T) {
	ns := newNetns(t)
	var ln net.Listener
	var err error
	ns.do(func() { ln, err = net.Listen("tcp", ":15020") }) // dual stack
	noErr(t, err)
	defer ln.Close()
	for _, dst := range []string{"127.0.0.1:5020", "[::1]:5020"} {
		t.Run(dst, func(t *testing.T) {
			var c net.Conn
			ns.do(func() { c, err = net.Dial("tcp", dst) })
			noErr(t, err)
			defer c.Close()
			s, err := ln.Accept()
			noErr(t, err)
			defer s.Close()
			got, err := origdst.OriginalDestination(s.(*net.TCPConn))
			noErr(t, err)
			equal(t, netip.MustParseAddrPort(dst), got)
			equal(t, uint16(15020), s.LocalAddr().(*net.TCPAddr).AddrPort().Port())
		})
	}
	t.Run("not redirected", func(t *testing.T) {
		var c net.Conn
		ns.do(func() { c, err = net.Dial("tcp", "127.0.0.1:15020") })
		noErr(t, err)
		defer c.Close()
		s, err := ln.Accept()
		noErr(t, err)
		defer s.Close()
		got, err := origdst.OriginalDestination(s.(*net.TCPConn))
		t.Logf("not redirected: %v, %v", got, err)
		// Without NAT the kernel either refuses or reports the real
		// destination.
		if err == nil && got != netip.MustParseAddrPort("127.0.0.1:15020") {
			t.Errorf("got %v for a connection that was not redirected", got)
		}
	})
}

// TestTransparentProxy runs the proxy the way the gateway does in
// transparent mode: the client connects to the device address, nftables
// redirects it to the proxy, the proxy finds the device with
// OriginalDestination and connects with a marked socket that the redirect
// lets through.
func TestTransparentProxy(t *testing.T) {
	ns := newNetns(t)
	plc := &fakePLC{hr: make([]uint16, 65536), coils: make([]bool, 65536)}
	for i := range plc.hr {
		plc.hr[i] = uint16(1000 + i)
	}
	var ln net.Listener
	var err error
	plc.addr = netip.MustParseAddrPort("127.0.0.1:5020")
	ns.do(func() { plc.srv, err = startPLCAt(plc, plc.addr.String()) })
	noErr(t, err)
	defer plc.srv.Stop()
	ns.do(func() { ln, err = net.Listen("tcp", ":15020") })
	noErr(t, err)
	pol, err := modbus.Compile(proxySpec())
	noErr(t, err)
	live := modbus.NewLivePolicy(pol)
	sink := &recSink{}
	p, err := New(Config{
		Route: func(c net.Conn) (Route, error) {
			dst, err := origdst.OriginalDestination(c.(*net.TCPConn))
			return Route{Upstream: dst, Conduit: "transparent", Policy: live}, err
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
			ns.do(func() { c, err = d.DialContext(ctx, network, addr) })
			return c, err
		},
		Sink: sink,
	})
	noErr(t, err)
	go p.Serve(ln)
	defer p.Close()

	var c net.Conn
	ns.do(func() { c, err = net.Dial("tcp", "127.0.0.1:5020") })
	noErr(t, err)
	defer c.Close()
	r := &rawConn{t: t, c: c, fr: modbus.NewFramer(c, nil)}
	equal(t, modbus.Frame(adu(1, 1, cat([]byte{3, 4}, be(1007, 1008)))), r.roundTrip(adu(1, 1, pdu(3, 7, 2))))
	wantException(t, r.roundTrip(adu(2, 1, pdu(6, 50, 1))), 2, 6, modbus.ExIllegalDataAddress)
	equal(t, int64(1), plc.requests.Load())
	ev := sink.waitFor(t, "denied", func(ev recEvent) bool { return ev.Kind == modbus.EventDenied })
	equal(t, plc.addr, ev.Destination)
	equal(t, "transparent", ev.Conduit)
}
