package e2e

import (
	"encoding/binary"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// mbModelQuick is mbModel with a response_timeout of 300 ms on the
// enforce-exc conduit (plc-go's).
var mbModelQuick = strings.Replace(mbModel, "          values: 0-1000\n", "          values: 0-1000\n      response_timeout: 300ms\n", 1)

// mbExpectAnswers sends the reads of addrs pipelined on c and returns the
// answers' PDUs by transaction id (1, 2, ...).
func mbExpectAnswers(t *testing.T, c net.Conn, addrs ...uint16) map[uint16][]byte {
	t.Helper()
	var out []byte
	for i, a := range addrs {
		out = append(out, mbFrame(uint16(i+1), 1, mbReadHR(a, 1)...)...)
	}
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write(out); err != nil {
		t.Fatal(err)
	}
	got := map[uint16][]byte{}
	for range addrs {
		f, err := mbReadFrame(c)
		if err != nil {
			t.Fatalf("reading an answer: %v (so far %v)", err, got)
		}
		got[binary.BigEndian.Uint16(f)] = f[7:]
	}
	return got
}

// TestModbusDeviceMisbehaviour: PLCs that misbehave, end to end in
// namespaces, behind zonegate serve (response_timeout 300 ms):
//
//   - BadAnswer: a 260-byte answer to a one-register read (byte count
//     251) never reaches the client: 0x0B, upstream_bad_answer, and the
//     next request goes over a new device connection.
//   - HalfOpen: a PLC that stops reading and keeps the socket: the first
//     two requests time out (0x0B), the proxy connects again
//     (upstream_silent), and the third is answered on the same client
//     connection.
//   - PauseInsideAnswer: a PLC that pauses inside an answer while another
//     request expires: the expired one gets 0x0B, the paused answer
//     arrives intact, over the same device connection.
//   - SYNsDropped: a PLC whose SYNs are dropped (nftables in its
//     namespace): three pipelined requests get 0x0B at their response
//     timeout, not 0x0A after the 3 s dial timeout.
func TestModbusDeviceMisbehaviour(t *testing.T) {
	mbRequire(t)
	bin := mbBuildZonegate(t)
	model := mbWriteFile(t, t.TempDir(), "model.yaml", mbModelQuick)
	l := upLab(t, loadModelText(t, mbModelQuick), "zgmbm")
	scada, plcNS := l.Assets["scada"].NS, l.Assets["plc-go"].NS
	d := mbStartDaemon(t, bin, l, model)
	target := mbPLCGo + ":502"

	t.Run("BadAnswer", func(t *testing.T) {
		plc := mbStartHookedPLC(t, plcNS, target, func(n int64, c net.Conn, req []byte) bool {
			if n != 1 {
				return false
			}
			bad := mbFrame(binary.BigEndian.Uint16(req), 1, append([]byte{3, 251}, make([]byte, 251)...)...)
			_, _ = c.Write(bad)
			return true
		})
		from := d.log.len()
		c := mbDial(t, scada, target)
		got := mbExpectAnswers(t, c, 4)
		if string(got[1]) != "\x83\x0b" {
			t.Errorf("the 260-byte answer reached the client as % x; want exception 0x0B", got[1])
		}
		if _, ok := d.log.wait(from, 15*time.Second, mbFields("msg", "modbus upstream_bad_answer")); !ok {
			t.Errorf("no upstream_bad_answer event:\n%s", d.log)
		}
		if err := mbCheckRegs(mbExpectAnswers(t, c, 5)[1], 5, 1); err != nil {
			t.Errorf("the next request: %v", err)
		}
		if n := plc.accepted.Load(); n != 2 {
			t.Errorf("the PLC accepted %d connections, want 2 (the desynchronised one replaced)", n)
		}
	})

	t.Run("HalfOpen", func(t *testing.T) {
		plc := mbStartHookedPLC(t, plcNS, target, func(n int64, c net.Conn, req []byte) bool {
			if n != 1 {
				return false
			}
			time.Sleep(time.Minute) // stops reading, keeps the socket (closed by the cleanup)
			return true
		})
		from := d.log.len()
		c := mbDial(t, scada, target)
		for i := range 2 {
			if got := mbExpectAnswers(t, c, 7)[1]; string(got) != "\x83\x0b" {
				t.Errorf("request %d to the half-open PLC: % x, want 0x0B", i+1, got)
			}
		}
		if _, ok := d.log.wait(from, 15*time.Second, mbFields("msg", "modbus upstream_silent")); !ok {
			t.Errorf("no upstream_silent event:\n%s", d.log)
		}
		if err := mbCheckRegs(mbExpectAnswers(t, c, 8)[1], 8, 1); err != nil {
			t.Errorf("the request after the redial: %v", err)
		}
		if n := plc.accepted.Load(); n != 2 {
			t.Errorf("the PLC accepted %d connections, want 2", n)
		}
	})

	t.Run("PauseInsideAnswer", func(t *testing.T) {
		plc := mbStartHookedPLC(t, plcNS, target, func(n int64, c net.Conn, req []byte) bool {
			addr := binary.BigEndian.Uint16(req[8:])
			if addr == 99 {
				return true // never answered: expires while the next answer pauses
			}
			if addr != 20 {
				return false
			}
			resp := mbFrame(binary.BigEndian.Uint16(req), 1, 3, 2, byte((1000+addr)>>8), byte(1000+addr))
			_, _ = c.Write(resp[:5])
			time.Sleep(150 * time.Millisecond)
			_, _ = c.Write(resp[5:])
			return true
		})
		c := mbDial(t, scada, target)
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := c.Write(mbFrame(1, 1, mbReadHR(99, 1)...)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond) // request 1 expires at 300 ms, inside answer 2 (200-350 ms)
		if _, err := c.Write(mbFrame(2, 1, mbReadHR(20, 1)...)); err != nil {
			t.Fatal(err)
		}
		got := map[uint16][]byte{}
		for range 2 {
			f, err := mbReadFrame(c)
			if err != nil {
				t.Fatal(err)
			}
			got[binary.BigEndian.Uint16(f)] = f[7:]
		}
		if string(got[1]) != "\x83\x0b" {
			t.Errorf("the expired request: % x, want 0x0B", got[1])
		}
		if err := mbCheckRegs(got[2], 20, 1); err != nil {
			t.Errorf("the answer the PLC paused inside: %v", err)
		}
		if err := mbCheckRegs(mbExpectAnswers(t, c, 21)[1], 21, 1); err != nil {
			t.Errorf("the next request: %v", err)
		}
		if n := plc.accepted.Load(); n != 1 {
			t.Errorf("the PLC accepted %d connections, want 1: the pause closed none", n)
		}
	})
	t.Run("SYNsDropped", func(t *testing.T) {
		nft := func(args ...string) {
			t.Helper()
			if out, err := exec.Command("ip", append([]string{"netns", "exec", plcNS, "nft"}, args...)...).CombinedOutput(); err != nil {
				t.Fatalf("nft %v: %v: %s", args, err, out)
			}
		}
		nft("add table inet dropsyn")
		nft("add chain inet dropsyn in { type filter hook input priority 0 ; }")
		nft("add rule inet dropsyn in tcp dport 502 tcp flags syn drop")
		t.Cleanup(func() { _ = exec.Command("ip", "netns", "exec", plcNS, "nft", "delete table inet dropsyn").Run() })
		c := mbDial(t, scada, target)
		start := time.Now()
		got := mbExpectAnswers(t, c, 1, 2, 3)
		took := time.Since(start)
		for tid := uint16(1); tid <= 3; tid++ {
			if string(got[tid]) != "\x83\x0b" {
				t.Errorf("request %d to a PLC whose SYNs are dropped: % x, want 0x0B at its response timeout", tid, got[tid])
			}
		}
		t.Logf("three pipelined requests answered 0x0B after %s (response_timeout 300ms, dial timeout 3s)", took.Round(time.Millisecond))
	})
}
