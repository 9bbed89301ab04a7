package e2e

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/zonegate/zonegate/firewall"
	"github.com/zonegate/zonegate/protocols/opcua/opcuarules"
	"github.com/zonegate/zonegate/test/lab"
)

// TestLabModbusChecksThroughRedirect runs the probe's Modbus checks of
// the example factory through the real nftables redirect to a stand-in
// for the gateway's Modbus proxy: a small transparent proxy in the gateway
// namespace that forwards reads to the original destination and denies
// writes (exception 2, or a reset for the safety system as its conduit's
// on_deny says). It proves the probe's proxy detection, its fake PLCs and
// its judgement end to end, so they work unchanged once zonegate serve
// runs protocols/modbus; and that a proxy forwarding a denied write is
// caught by the PLC's request log.
func TestLabModbusChecksThroughRedirect(t *testing.T) {
	requireNetns(t)
	m := loadModel(t, repoFile(t, "configs/example-factory.yaml"))
	l := upLab(t, m, "zlt4")
	if _, err := firewall.Apply(gatewayTarget(t, l), firewall.Compile(m, firewall.Options{})); err != nil {
		t.Fatalf("apply: %v", err)
	}
	var inspected []lab.Case
	for _, c := range l.Cases() {
		// The stand-in speaks plain Modbus only: the OPC UA conduit's
		// cases and the Modbus/TCP Security ones (TLS) are the real
		// proxy's (make demo, TestLabRun..., TestModbusSecurity).
		if c.Inspected && c.Inspect != opcuarules.Name && c.TLS == nil {
			inspected = append(inspected, c)
		}
	}

	results, err := l.Probe(context.Background(), inspected, lab.ProbeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range results {
		if !strings.HasPrefix(r.Skipped, lab.NeedsModbusProxy) {
			t.Errorf("%s %s without a proxy: skipped %q, want %q", r.Why, r.Service(), r.Skipped, lab.NeedsModbusProxy)
		}
	}

	sis, _ := l.Assets["sis-1"].Addr(4)
	for _, leak := range []bool{false, true} {
		stop := labFakeProxy(t, l, sis, leak)
		results, err := l.Probe(context.Background(), inspected, lab.ProbeOptions{})
		stop()
		if err != nil {
			t.Fatal(err)
		}
		var reads, writes int
		for _, r := range results {
			if r.Skipped != "" {
				t.Errorf("%s %s: skipped (%s) although the proxy listens", r.Why, r.Service(), r.Skipped)
				continue
			}
			row := r.Row()
			switch {
			case r.Modbus == nil:
				if r.Mismatch() {
					t.Errorf("%s %s: %+v", r.Why, r.Service(), row)
				}
			case !r.Modbus.IsWrite():
				reads++
				if r.Mismatch() || row.Actual != "normal response" {
					t.Errorf("%s: allowed read: %+v", r.Why, row)
				}
			case !leak:
				writes++
				want := "exception 0x02 (illegal data address)"
				if r.DstAddr == sis {
					want = "connection reset"
				}
				if r.Mismatch() || row.Actual != want {
					t.Errorf("%s: denied write answered %q (%s), want %q", r.Why, row.Actual, row.Note, want)
				}
			default:
				writes++
				if !r.Mismatch() || row.Note != "the device received the denied request" {
					t.Errorf("%s: a write the proxy forwarded is not caught: %+v", r.Why, row)
				}
			}
		}
		if reads != 3 || writes != 3 {
			t.Errorf("leak=%v: %d read and %d write checks, want 3 each (one per inspected conduit)", leak, reads, writes)
		}
	}
}

// labFakeProxy listens on the Modbus proxy port in the gateway namespace.
// It answers one request per connection: reads are forwarded to the
// original destination; writes are denied (a reset for resetAddr, else
// exception 2) unless leak is set.
func labFakeProxy(t *testing.T, l *lab.Lab, resetAddr netip.Addr, leak bool) (stop func()) {
	t.Helper()
	ln, err := lab.Listen(l.Gateway, "tcp", ":5020")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go labProxyConn(l, c.(*net.TCPConn), resetAddr, leak)
		}
	}()
	return func() { ln.Close() }
}

func labProxyConn(l *lab.Lab, c *net.TCPConn, resetAddr netip.Addr, leak bool) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	dst, err := labOrigDst(c)
	if err != nil {
		return
	}
	hdr := make([]byte, 7)
	if _, err := io.ReadFull(c, hdr); err != nil {
		return
	}
	pdu := make([]byte, binary.BigEndian.Uint16(hdr[4:6])-1)
	if _, err := io.ReadFull(c, pdu); err != nil {
		return
	}
	if write := pdu[0] == 5 || pdu[0] == 6 || pdu[0] == 15 || pdu[0] == 16; write && !leak {
		if dst.Addr() == resetAddr {
			_ = c.SetLinger(0)
			return
		}
		_, _ = c.Write(append(append(hdr[:4:4], 0, 3, hdr[6]), pdu[0]|0x80, 0x02))
		return
	}
	up, err := lab.Dial(l.Gateway, "tcp", dst.String(), 2*time.Second)
	if err != nil {
		return
	}
	defer up.Close()
	_ = up.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := up.Write(append(hdr, pdu...)); err != nil {
		return
	}
	resp := make([]byte, 7)
	if _, err := io.ReadFull(up, resp); err != nil {
		return
	}
	rest := make([]byte, binary.BigEndian.Uint16(resp[4:6])-1)
	if _, err := io.ReadFull(up, rest); err != nil {
		return
	}
	_, _ = c.Write(append(resp, rest...))
}

// labOrigDst reads SO_ORIGINAL_DST (IPv4) of a redirected connection.
func labOrigDst(c *net.TCPConn) (netip.AddrPort, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return netip.AddrPort{}, err
	}
	var dst netip.AddrPort
	var serr error
	err = rc.Control(func(fd uintptr) {
		// struct sockaddr_in fits the 20 bytes of an IPv6Mreq.
		m, err := unix.GetsockoptIPv6Mreq(int(fd), unix.SOL_IP, unix.SO_ORIGINAL_DST)
		if err != nil {
			serr = err
			return
		}
		b := m.Multiaddr[:]
		dst = netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[4:8])), binary.BigEndian.Uint16(b[2:4]))
	})
	if err != nil {
		return dst, err
	}
	return dst, serr
}
