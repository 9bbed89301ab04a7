package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/zonegate/zonegate/test/lab"
)

// mbExpectRead reads qty holding registers from addr over c and fails the
// test unless the PLC's values come back.
func mbExpectRead(t *testing.T, what string, c *mbConn, addr, qty uint16) {
	t.Helper()
	pdu, err := c.do(1, mbReadHR(addr, qty)...)
	if err == nil {
		err = mbCheckRegs(pdu, addr, qty)
	}
	if err != nil {
		t.Errorf("%s: read %d-%d: %v", what, addr, addr+qty-1, err)
	}
}

// mbExpectException sends pdu over c and fails the test unless the answer
// is exception ex.
func mbExpectException(t *testing.T, what string, c *mbConn, ex int, pdu ...byte) {
	t.Helper()
	resp, err := c.do(1, pdu...)
	if err != nil {
		t.Errorf("%s: %v, want exception %02d", what, err, ex)
		return
	}
	if got := mbException(resp); got != ex {
		t.Errorf("%s: answer % x, want exception %02d", what, resp, ex)
	}
}

// TestModbusReloadSIGHUP changes the model under a running `zonegate
// serve` and sends SIGHUP: connections that stayed open get the new
// policy from their next request (a read range narrowed: now 02; a write
// range widened: now allowed), a connection whose requests stay allowed
// keeps working on the same client socket and the same upstream
// connection, an invalid model leaves the running policy in place, and a
// removed conduit's connections stop while the others carry on.
func TestModbusReloadSIGHUP(t *testing.T) {
	mbRequire(t)
	bin := mbBuildZonegate(t)
	model := mbWriteFile(t, t.TempDir(), "model.yaml", mbModel)
	l := upLab(t, loadModelText(t, mbModel), "zgmb3")
	scada := l.Assets["scada"].NS
	plc := mbStartPyPLC(t, l.Assets["plc-enf"].NS, mbPLCEnf)
	mbStartGoPLC(t, l.Assets["plc-mon"].NS, mbPLCMon+":502")
	d := mbStartDaemon(t, bin, l, model)

	narrowed := strings.Replace(mbModel, `        - read: holding_registers
          addresses: 0-99
        - write: holding_registers
          addresses: 10-19
          values: 0-1000`, `        - read: holding_registers
          addresses: 0-19
        - write: holding_registers
          addresses: 10-29
          values: 0-1000`, 1)
	if narrowed == mbModel {
		t.Fatal("the test's model edit did not apply")
	}

	target := mbPLCEnf + ":502"
	a := mbDial(t, scada, target) // reads 50-59: allowed, then not
	b := mbDial(t, scada, target) // reads 0-9: allowed throughout
	c := mbDial(t, scada, target) // writes register 25: denied, then allowed
	mbExpectRead(t, "before reload, connection A", a, 50, 10)
	mbExpectRead(t, "before reload, connection B", b, 0, 10)
	mbExpectException(t, "before reload, connection C writes register 25", c, 2, mbWriteHR(25, 7)...)
	m := mbDial(t, scada, mbPLCMon+":502") // through conduit monitor, removed at the end
	mbExpectRead(t, "before reload, connection M", m, 0, 10)
	peerB := mbLastPeer(t, plc, 0, 10)

	d.reload(t, model, narrowed)

	mbExpectException(t, "after reload, open connection A reads 50-59", a, 2, mbReadHR(50, 10)...)
	mbExpectRead(t, "after reload, open connection A reads 0-9", a, 0, 10)
	mbExpectRead(t, "after reload, open connection B", b, 0, 10)
	mbExpectRead(t, "after reload, open connection B again", b, 10, 10)
	if got := mbLastPeer(t, plc, 10, 10); got != peerB {
		t.Errorf("connection B reached the PLC from %s before the reload and from %s after: the proxy reconnected", peerB, got)
	}
	mbExpectRead(t, "after reload, connection C", c, 0, 1)
	if resp, err := c.do(1, mbWriteHR(25, 7)...); err != nil || resp[0] != 6 {
		t.Errorf("after reload, open connection C writes register 25 (now allowed): % x %v, want the echo", resp, err)
	}
	fresh := mbDial(t, scada, target)
	mbExpectException(t, "after reload, a new connection reads 50-59", fresh, 2, mbReadHR(50, 10)...)

	// An invalid model is rejected; the running policies stay.
	from := d.log.len()
	d.hup(t, model, "version: 1\nzones: [oops\n")
	if _, ok := d.log.wait(from, 5*time.Second, mbFields("msg", "reload failed; the running ruleset is unchanged")); !ok {
		t.Fatalf("the daemon did not report the invalid model:\n%s", d.log)
	}
	mbExpectRead(t, "after a failed reload, connection B", b, 0, 10)
	mbExpectException(t, "after a failed reload, connection A reads 50-59", a, 2, mbReadHR(50, 10)...)
	if resp, err := c.do(1, mbWriteHR(26, 8)...); err != nil || resp[0] != 6 {
		t.Errorf("after a failed reload, connection C writes register 26: % x %v, want the echo", resp, err)
	}

	// Removing a conduit: the daemon deletes the conntrack entries of its
	// connections, so an open one gets no answer any more and a new one
	// is dropped, while connections of the other conduits carry on.
	without := narrowed[:strings.Index(narrowed, "  - name: monitor")]
	d.reload(t, model, without)
	mbExpectRead(t, "after removing conduit monitor, connection B", b, 0, 10)
	_ = m.SetDeadline(time.Now().Add(1500 * time.Millisecond))
	if _, err := m.Write(mbFrame(99, 1, mbReadHR(0, 10)...)); err == nil {
		if f, err := mbReadFrame(m); err == nil {
			t.Errorf("after removing conduit monitor, its open connection still got an answer % x", f)
		}
	}
	if nc, err := lab.Dial(scada, "tcp", mbPLCMon+":502", time.Second); err == nil {
		nc.Close()
		t.Error("after removing conduit monitor, a new connection to its PLC was accepted")
	}

	var reads50, writes25 int
	for _, r := range plc.requests(t) {
		switch {
		case r.FC == 3 && r.Address == 50:
			reads50++
		case r.FC == 6 && r.Address == 25:
			writes25++
		}
	}
	if reads50 != 1 {
		t.Errorf("the PLC received %d reads of register 50, want only the one before the reload", reads50)
	}
	if writes25 != 1 {
		t.Errorf("the PLC received %d writes to register 25, want only the one after the reload", writes25)
	}
}

// mbLastPeer returns the source (the proxy's upstream connection) of the
// pymodbus PLC's last read of addr/count.
func mbLastPeer(t *testing.T, plc *mbPyPLC, addr, count int) string {
	t.Helper()
	peer := ""
	for _, r := range plc.requests(t) {
		if r.FC == 3 && r.Address == addr && r.Count == count {
			peer = r.Peer
		}
	}
	if peer == "" {
		t.Fatalf("the PLC logged no read of %d registers from %d", count, addr)
	}
	return peer
}
