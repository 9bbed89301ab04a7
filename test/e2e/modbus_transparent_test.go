package e2e

import (
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/zonegate/zonegate/test/lab"
)

// mbModel is the zone model of the Modbus end-to-end tests: clients in
// zone ops (scada on IPv4, scada6 on IPv6), PLCs in zone plant behind
// three inspected conduits, one per policy flavour.
const mbModel = `version: 1
gateway:
  name: mb-e2e-gw
  management:
    zones: [ops]
zones:
  - name: ops
    importance: medium
    interfaces: [eth0]
    networks: [198.18.100.0/24, "fd00:100::/64"]
  - name: plant
    importance: high
    interfaces: [eth1]
    networks: [198.18.110.0/24, "fd00:110::/64"]
assets:
  - {name: scada, zone: ops, address: 198.18.100.10, importance: high}
  - {name: scada6, zone: ops, address: "fd00:100::10", importance: high}
  - {name: plc-enf, zone: plant, address: 198.18.110.10, importance: high}
  - {name: plc-rst, zone: plant, address: 198.18.110.11, importance: high}
  - {name: plc-mon, zone: plant, address: 198.18.110.12, importance: high}
  - {name: plc-go, zone: plant, address: 198.18.110.13, importance: high}
  - {name: plc-v6, zone: plant, address: "fd00:110::10", importance: high}
conduits:
  - name: enforce-exc
    from: ops
    to: plant
    to_assets: [plc-enf, plc-go, plc-v6]
    services: [tcp/502]
    inspect: modbus
    modbus:
      mode: enforce
      on_deny: exception
      units: [1]
      allow:
        - read: holding_registers
          addresses: 0-99
        - write: holding_registers
          addresses: 10-19
          values: 0-1000
  - name: enforce-rst
    from: ops
    to: plant
    to_assets: [plc-rst]
    services: [tcp/502]
    inspect: modbus
    modbus:
      mode: enforce
      on_deny: reset
      allow:
        - read: holding_registers
          addresses: 0-99
  - name: monitor
    from: ops
    to: plant
    to_assets: [plc-mon]
    services: [tcp/502]
    inspect: modbus
    modbus:
      mode: monitor
      allow:
        - read: holding_registers
          addresses: 0-99
`

// Addresses of mbModel's PLCs.
const (
	mbPLCEnf = "198.18.110.10"
	mbPLCRst = "198.18.110.11"
	mbPLCMon = "198.18.110.12"
	mbPLCGo  = "198.18.110.13"
	mbPLCv6  = "fd00:110::10"
)

// mbEnforceAllows says whether conduit enforce-exc of mbModel allows a
// request: the policy, restated independently of protocols/modbus, to
// audit what a PLC received.
func mbEnforceAllows(unit, fc, addr, count int, values []int) bool {
	if unit != 1 {
		return false
	}
	switch fc {
	case 3:
		return count >= 1 && addr+count-1 <= 99
	case 6, 16:
		if count < 1 || addr < 10 || addr+count-1 > 19 {
			return false
		}
		for _, v := range values {
			if v < 0 || v > 1000 {
				return false
			}
		}
		return true
	}
	return false
}

func mbInts(vs []any) []int {
	out := make([]int, 0, len(vs))
	for _, v := range vs {
		switch x := v.(type) {
		case float64:
			out = append(out, int(x))
		case bool:
			if x {
				out = append(out, 1)
			} else {
				out = append(out, 0)
			}
		default:
			out = append(out, -1)
		}
	}
	return out
}

// TestModbusTransparent runs `zonegate serve` with mbModel in a namespace
// lab: nftables redirects the inspected conduits to the proxy, which
// finds the conduit from the original destination. Real third-party peers
// talk through it: mbpoll and a pymodbus client in the ops zone, a
// pymodbus PLC (which logs every request it decodes) and simonvetter/modbus
// PLCs in the plant zone. It checks allowed reads (IPv4 and IPv6) return
// the PLC's values, denials answer 01, 02 and 03 over a connection that
// stays usable, on_deny: reset resets it, monitor mode forwards and logs,
// and finally that no PLC ever received a request its conduit denies.
func TestModbusTransparent(t *testing.T) {
	mbRequire(t)
	bin := mbBuildZonegate(t)
	dir := t.TempDir()
	model := mbWriteFile(t, dir, "model.yaml", mbModel)
	l := upLab(t, loadModelText(t, mbModel), "zgmb1")
	scada, scada6 := l.Assets["scada"].NS, l.Assets["scada6"].NS

	plcEnf := mbStartPyPLC(t, l.Assets["plc-enf"].NS, mbPLCEnf)
	plcMon := mbStartPyPLC(t, l.Assets["plc-mon"].NS, mbPLCMon)
	plcRst := mbStartGoPLC(t, l.Assets["plc-rst"].NS, mbPLCRst+":502")
	plcV6 := mbStartGoPLC(t, l.Assets["plc-v6"].NS, "["+mbPLCv6+"]:502")
	d := mbStartDaemon(t, bin, l, model)

	// wantDenied waits for the daemon's security event of a denial.
	wantDenied := func(t *testing.T, from int, conduit, reason, mode string) {
		t.Helper()
		if _, ok := d.log.wait(from, 3*time.Second, mbFields("msg", "modbus denied", "conduit", conduit, "reason", reason, "mode", mode)); !ok {
			t.Errorf("no `modbus denied` event with conduit=%s reason=%s mode=%s in the daemon's log:\n%s", conduit, reason, mode, d.log)
		}
	}

	t.Run("AllowedRead/mbpoll", func(t *testing.T) {
		out, errOut, code := mbPoll(t, scada, mbPLCEnf, []string{"-t", "4", "-r", "0", "-c", "10"})
		if code != 0 {
			t.Fatalf("mbpoll read of holding registers 0-9: exit %d\n%s%s", code, out, errOut)
		}
		vals := mbPollValues(out)
		for i := 0; i < 10; i++ {
			if vals[i] != 1000+i {
				t.Errorf("mbpoll register %d = %d, want %d\n%s", i, vals[i], 1000+i, out)
			}
		}
	})

	t.Run("AllowedRead/pymodbus", func(t *testing.T) {
		res := mbPyClient(t, scada, mbPLCEnf, "rh:0:10", "rh:90:10")
		for i, r := range res {
			base := []int{0, 90}[i]
			want := make([]int, 10)
			for j := range want {
				want[j] = 1000 + base + j
			}
			if !r.OK || !slices.Equal(r.Values, want) {
				t.Errorf("%s: %+v, want values %v", r.Op, r, want)
			}
		}
	})

	t.Run("AllowedWrite", func(t *testing.T) {
		from := d.log.len()
		res := mbPyClient(t, scada, mbPLCEnf, "wh:10:500", "wm:11:0,1000")
		for _, r := range res {
			if !r.OK {
				t.Errorf("%s: %+v, want a normal response", r.Op, r)
			}
		}
		// Allowed writes are device setting changes: the daemon logs them.
		if _, ok := d.log.wait(from, 3*time.Second, mbFields("msg", "modbus write", "conduit", "enforce-exc", "addresses", "10")); !ok {
			t.Errorf("no `modbus write` event for the allowed write:\n%s", d.log)
		}
	})

	t.Run("DeniedAddress02", func(t *testing.T) {
		from := d.log.len()
		res := mbPyClient(t, scada, mbPLCEnf, "wh:50:7", "wm:18:1,2,3", "rh:95:10", "rh:0:3")
		for _, r := range res[:3] {
			if r.OK || r.Exception != 2 {
				t.Errorf("%s: %+v, want exception 02 (illegal data address)", r.Op, r)
			}
		}
		if r := res[3]; !r.OK || !slices.Equal(r.Values, []int{1000, 1001, 1002}) {
			t.Errorf("read after the denials on the same connection: %+v, want 1000 1001 1002", r)
		}
		wantDenied(t, from, "enforce-exc", "address_not_allowed", "enforce")
		out, errOut, code := mbPoll(t, scada, mbPLCEnf, []string{"-t", "4", "-r", "50"}, "7")
		if code == 0 || !strings.Contains(errOut, "Illegal data address") {
			t.Errorf("mbpoll write to register 50: exit %d, want a failure saying \"Illegal data address\"\n%s%s", code, out, errOut)
		}
	})

	t.Run("DeniedValue03", func(t *testing.T) {
		from := d.log.len()
		res := mbPyClient(t, scada, mbPLCEnf, "wh:10:5000", "wm:10:1,1001")
		for _, r := range res {
			if r.OK || r.Exception != 3 {
				t.Errorf("%s: %+v, want exception 03 (illegal data value)", r.Op, r)
			}
		}
		wantDenied(t, from, "enforce-exc", "value_not_allowed", "enforce")
		out, errOut, code := mbPoll(t, scada, mbPLCEnf, []string{"-t", "4", "-r", "12"}, "2000")
		if code == 0 || !strings.Contains(errOut, "Illegal data value") {
			t.Errorf("mbpoll write of 2000 to register 12: exit %d, want a failure saying \"Illegal data value\"\n%s%s", code, out, errOut)
		}
	})

	t.Run("DeniedFunction01", func(t *testing.T) {
		from := d.log.len()
		res := mbPyClient(t, scada, mbPLCEnf, "rc:0:8", "ri:0:2", "wc:0:1", "id", "rh:0:1:u2")
		for _, r := range res {
			if r.OK || r.Exception != 1 {
				t.Errorf("%s: %+v, want exception 01 (illegal function)", r.Op, r)
			}
		}
		wantDenied(t, from, "enforce-exc", "function_not_allowed", "enforce")
		wantDenied(t, from, "enforce-exc", "unit_not_allowed", "enforce")
		out, errOut, code := mbPoll(t, scada, mbPLCEnf, []string{"-t", "0", "-r", "0", "-c", "4"})
		if code == 0 || !strings.Contains(errOut, "Illegal function") {
			t.Errorf("mbpoll read of coils: exit %d, want a failure saying \"Illegal function\"\n%s%s", code, out, errOut)
		}
	})

	t.Run("OnDenyReset", func(t *testing.T) {
		from := d.log.len()
		c := mbDial(t, scada, mbPLCRst+":502")
		pdu, err := c.do(1, mbReadHR(0, 4)...)
		if err != nil {
			t.Fatalf("allowed read through the reset conduit: %v", err)
		}
		if err := mbCheckRegs(pdu, 0, 4); err != nil {
			t.Fatal(err)
		}
		_, err = c.do(1, mbWriteHR(10, 1)...)
		if !mbIsReset(err) {
			t.Fatalf("denied write on an on_deny: reset conduit: got %v, want the connection reset", err)
		}
		if _, err := c.do(1, mbReadHR(0, 1)...); err == nil {
			t.Fatal("the connection still answers after the reset")
		}
		wantDenied(t, from, "enforce-rst", "function_not_allowed", "enforce")

		res := mbPyClient(t, scada, mbPLCRst, "rh:5:2", "wh:10:1")
		if !res[0].OK || !slices.Equal(res[0].Values, []int{1005, 1006}) {
			t.Errorf("pymodbus read through the reset conduit: %+v", res[0])
		}
		if res[1].OK || res[1].Exception != 0 {
			t.Errorf("pymodbus denied write through the reset conduit: %+v, want a connection error and no Modbus answer", res[1])
		}
		out, errOut, code := mbPoll(t, scada, mbPLCRst, []string{"-t", "4", "-r", "10"}, "1")
		if code == 0 || strings.Contains(errOut, "Illegal") {
			t.Errorf("mbpoll denied write through the reset conduit: exit %d, want a connection failure\n%s%s", code, out, errOut)
		}
		t.Logf("mbpoll on reset: %s", strings.TrimSpace(errOut))
		for _, r := range plcRst.requests() {
			if r.Write {
				t.Errorf("the PLC behind the reset conduit received a write: %+v", r)
			}
		}
	})

	t.Run("MonitorForwardsAndLogs", func(t *testing.T) {
		from := d.log.len()
		res := mbPyClient(t, scada, mbPLCMon, "wh:50:7", "rh:0:2")
		if !res[0].OK {
			t.Errorf("monitor mode: would-be-denied write %+v, want it forwarded and answered by the PLC", res[0])
		}
		if !res[1].OK || !slices.Equal(res[1].Values, []int{1000, 1001}) {
			t.Errorf("monitor mode read: %+v", res[1])
		}
		wantDenied(t, from, "monitor", "function_not_allowed", "monitor")
		ev, _ := d.log.wait(from, time.Second, mbFields("msg", "modbus denied", "conduit", "monitor"))
		if ev != nil && ev["level"] != "info" {
			t.Errorf("monitor-mode denial logged at level %v, want info (it is not enforced): %v", ev["level"], ev)
		}
		found := false
		for _, r := range plcMon.requests(t) {
			if r.FC == 6 && r.Address == 50 && slices.Equal(mbInts(r.Values), []int{7}) {
				found = true
			}
		}
		if !found {
			t.Errorf("the monitored PLC never received the would-be-denied write 7 to register 50: %+v", plcMon.requests(t))
		}
	})

	t.Run("IPv6", func(t *testing.T) {
		out, errOut, code := mbPoll(t, scada6, mbPLCv6, []string{"-t", "4", "-r", "20", "-c", "5"})
		if code != 0 {
			t.Fatalf("mbpoll over IPv6: exit %d\n%s%s", code, out, errOut)
		}
		vals := mbPollValues(out)
		for i := 20; i < 25; i++ {
			if vals[i] != 1000+i {
				t.Errorf("mbpoll over IPv6: register %d = %d, want %d", i, vals[i], 1000+i)
			}
		}
		from := d.log.len()
		res := mbPyClient(t, scada6, mbPLCv6, "rh:0:3", "wh:50:7", "wh:10:5000", "rc:0:1", "wh:15:15")
		if !res[0].OK || !slices.Equal(res[0].Values, []int{1000, 1001, 1002}) {
			t.Errorf("pymodbus read over IPv6: %+v", res[0])
		}
		for i, ex := range []int{2, 3, 1} {
			if r := res[1+i]; r.OK || r.Exception != ex {
				t.Errorf("%s over IPv6: %+v, want exception %02d", r.Op, r, ex)
			}
		}
		if !res[4].OK {
			t.Errorf("allowed write over IPv6: %+v", res[4])
		}
		ev, ok := d.log.wait(from, 3*time.Second, mbFields("msg", "modbus denied", "conduit", "enforce-exc", "reason", "address_not_allowed"))
		if !ok || !strings.HasPrefix(fmt.Sprint(ev["source"]), "[fd00:100::10]:") || ev["destination"] != "["+mbPLCv6+"]:502" {
			t.Errorf("IPv6 denial event %v: want source [fd00:100::10]:* and destination [%s]:502", ev, mbPLCv6)
		}
		c := mbDial(t, scada6, "["+mbPLCv6+"]:502")
		pdu, err := c.do(1, mbReadHR(99, 1)...)
		if err == nil {
			err = mbCheckRegs(pdu, 99, 1)
		}
		if err != nil {
			t.Errorf("raw read over IPv6: %v", err)
		}
		var writes int
		for _, r := range plcV6.requests() {
			if r.Write {
				writes++
				if r.Addr != 15 || !slices.Equal(r.Regs, []uint16{15}) {
					t.Errorf("the IPv6 PLC received a denied write: %+v", r)
				}
			}
		}
		if writes != 1 {
			t.Errorf("the IPv6 PLC received %d writes, want the one allowed", writes)
		}
	})

	t.Run("ProxyPortIsNoRelay", func(t *testing.T) {
		// A client that connects to the proxy's port itself (ops is a
		// management zone, so the gateway may accept) has no original
		// destination: it must not get a Modbus answer from anywhere.
		gw := l.GatewayAddrs["ops"][0]
		c, err := lab.Dial(scada, "tcp", net.JoinHostPort(gw.String(), "5020"), time.Second)
		if err != nil {
			t.Logf("the gateway does not accept %s:5020 from scada (%v): fine", gw, err)
			return
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(3 * time.Second))
		_, _ = c.Write(mbFrame(1, 1, mbReadHR(0, 1)...))
		if f, err := mbReadFrame(c); err == nil {
			t.Errorf("a connection straight to the proxy port got an answer % x", f)
		} else if !mbIsReset(err) {
			t.Errorf("a connection straight to the proxy port: %v, want it closed", err)
		}
	})

	// Runs last: every request the pymodbus PLC decoded must be one its
	// conduit allows, and the allowed ones sent above must be there.
	t.Run("PLCNeverSawDenied", func(t *testing.T) {
		reqs := plcEnf.requests(t)
		var sawRead, sawWrite bool
		for _, r := range reqs {
			vals := mbInts(r.Values)
			if !mbEnforceAllows(r.Unit, r.FC, r.Address, r.Count, vals) {
				t.Errorf("the PLC received a request its conduit denies: %+v", r)
			}
			sawRead = sawRead || r.FC == 3 && r.Address == 90 && r.Count == 10
			sawWrite = sawWrite || r.FC == 6 && r.Address == 10 && slices.Equal(vals, []int{500})
		}
		if !sawRead || !sawWrite {
			t.Errorf("the PLC's log lacks the allowed read (%v) or write (%v) sent earlier, so it proves nothing: %+v", sawRead, sawWrite, reqs)
		}
		t.Logf("the PLC behind enforce-exc decoded %d requests", len(reqs))
		// Negative control: the same audit flags the write the monitor
		// conduit let through, so a leak would not go unnoticed.
		var flagged bool
		for _, r := range plcMon.requests(t) {
			flagged = flagged || !mbEnforceAllows(r.Unit, r.FC, r.Address, r.Count, mbInts(r.Values))
		}
		if !flagged {
			t.Error("the audit does not flag the would-be-denied write the monitored PLC received: it could not catch a leak either")
		}
	})
}
