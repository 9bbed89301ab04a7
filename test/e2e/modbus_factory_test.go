package e2e

import (
	"encoding/binary"
	"slices"
	"testing"
	"time"

	"github.com/zonegate/zonegate/test/lab"
)

// TestModbusExampleFactory runs `zonegate serve` with the example factory
// (configs/example-factory.yaml) in a namespace lab, a pymodbus PLC as
// plc-1 and a simonvetter/modbus PLC as sis-1, and checks its three
// inspected conduits with real clients: scada-to-plc (enforce, exception,
// unit 1, value range, 100 requests/s), eng-to-plc (the same PLC under
// another policy, chosen by the client's address), scada-to-sis
// (read-only, on_deny: reset); a device that does not listen (0A); and a
// client without a conduit, which the ruleset drops.
func TestModbusExampleFactory(t *testing.T) {
	mbRequire(t)
	bin := mbBuildZonegate(t)
	path := repoFile(t, "configs/example-factory.yaml")
	l := upLab(t, loadModel(t, path), "zgmb2")
	scada, hmi, eng := l.Assets["scada-1"].NS, l.Assets["hmi-1"].NS, l.Assets["eng-ws"].NS
	const plc1, plc2, sis1 = "198.18.40.10", "198.18.40.11", "198.18.50.10"
	plc := mbStartPyPLC(t, l.Assets["plc-1"].NS, plc1)
	sis := mbStartGoPLC(t, l.Assets["sis-1"].NS, sis1+":502")
	d := mbStartDaemon(t, bin, l, path)

	t.Run("ScadaToPLC", func(t *testing.T) {
		out, errOut, code := mbPoll(t, scada, plc1, []string{"-t", "4", "-r", "0", "-c", "10"})
		vals := mbPollValues(out)
		if code != 0 || vals[0] != 1000 || vals[9] != 1009 {
			t.Errorf("mbpoll read of holding registers 0-9 from scada-1: exit %d, values %v\n%s%s", code, vals, out, errOut)
		}
		res := mbPyClient(t, scada, plc1, "rh:0:10", "rc:0:8", "wh:12:100", "wc:3:1", "id",
			"wh:50:1", "wc:20:1", "wh:10:5000", "ri:0:1", "rh:0:1:u2")
		for _, r := range res[:5] {
			if !r.OK {
				t.Errorf("scada-1 -> plc-1 %s: %+v, want a normal response", r.Op, r)
			}
		}
		if !slices.Equal(res[0].Values, []int{1000, 1001, 1002, 1003, 1004, 1005, 1006, 1007, 1008, 1009}) ||
			!slices.Equal(res[1].Values, []int{0, 1, 0, 1, 0, 1, 0, 1}) {
			t.Errorf("scada-1 -> plc-1 reads: %+v %+v", res[0], res[1])
		}
		for i, ex := range []int{2, 2, 3, 1, 1} {
			if r := res[5+i]; r.OK || r.Exception != ex {
				t.Errorf("scada-1 -> plc-1 %s: %+v, want exception %02d", r.Op, r, ex)
			}
		}
	})

	t.Run("EngToPLCOtherPolicy", func(t *testing.T) {
		// Register 500 and value 1234 are outside scada-to-plc but inside
		// eng-to-plc: the proxy picks the conduit by the client.
		res := mbPyClient(t, eng, plc1, "wh:500:1234", "ri:0:2", "rh:5000:1")
		for _, r := range res {
			if !r.OK {
				t.Errorf("eng-ws -> plc-1 %s: %+v, want a normal response", r.Op, r)
			}
		}
		res = mbPyClient(t, scada, plc1, "wh:500:1234")
		if res[0].OK || res[0].Exception != 2 {
			t.Errorf("scada-1 -> plc-1 wh:500:1234: %+v, want exception 02", res[0])
		}
	})

	t.Run("RateLimit", func(t *testing.T) {
		// scada-to-plc allows 100 requests/s per connection: 300 pipelined
		// reads get some 06 (server device busy) answers.
		c := mbDial(t, scada, plc1+":502")
		var stream []byte
		for i := 0; i < 300; i++ {
			stream = append(stream, mbFrame(uint16(i), 1, mbReadHR(0, 1)...)...)
		}
		_ = c.SetDeadline(time.Now().Add(20 * time.Second))
		go c.Write(stream)
		var ok, busy int
		seen := map[uint16]bool{}
		for i := 0; i < 300; i++ {
			f, err := mbReadFrame(c)
			if err != nil {
				t.Fatalf("response %d: %v", i, err)
			}
			// Answers come as they are ready (06 at once, reads when the
			// PLC answers), each with its request's transaction id.
			if tid := binary.BigEndian.Uint16(f); tid >= 300 || seen[tid] {
				t.Fatalf("response %d: unexpected or repeated transaction id: % x", i, f)
			} else {
				seen[tid] = true
			}
			switch mbException(f[7:]) {
			case 0:
				ok++
			case 6:
				busy++
			default:
				t.Fatalf("response %d: % x", i, f)
			}
		}
		if busy == 0 || ok < 90 {
			t.Errorf("300 pipelined reads: %d answered, %d got 06; want about 100 answered and the rest 06", ok, busy)
		}
		t.Logf("300 pipelined reads at max_rate 100/s: %d answered, %d got 06", ok, busy)
	})

	t.Run("ScadaToSISReset", func(t *testing.T) {
		res := mbPyClient(t, scada, sis1, "ri:0:4", "rd:0:8", "wh:0:1")
		if !res[0].OK || !slices.Equal(res[0].Values, []int{1000, 1001, 1002, 1003}) {
			t.Errorf("scada-1 -> sis-1 read input registers: %+v", res[0])
		}
		if !res[1].OK || !slices.Equal(res[1].Values, []int{0, 1, 0, 1, 0, 1, 0, 1}) {
			t.Errorf("scada-1 -> sis-1 read discrete inputs: %+v", res[1])
		}
		if res[2].OK || res[2].Exception != 0 {
			t.Errorf("scada-1 -> sis-1 write: %+v, want the connection reset", res[2])
		}
		out, errOut, code := mbPoll(t, scada, sis1, []string{"-t", "4", "-r", "0"}, "1")
		if code == 0 {
			t.Errorf("mbpoll write to sis-1: exit 0, want a failure\n%s%s", out, errOut)
		}
		for _, r := range sis.requests() {
			if r.Write {
				t.Errorf("the SIS received a write: %+v", r)
			}
		}
	})

	t.Run("DeviceDown0A", func(t *testing.T) {
		// plc-2 is in the conduit but nothing listens on it.
		res := mbPyClient(t, hmi, plc2, "rh:0:1")
		if res[0].OK || res[0].Exception != 0x0A {
			t.Errorf("hmi-1 -> plc-2 (no server): %+v, want exception 0A (gateway path unavailable)", res[0])
		}
		if _, ok := d.log.wait(0, 3*time.Second, mbFields("msg", "modbus upstream_unreachable", "conduit", "scada-to-plc")); !ok {
			t.Errorf("no upstream_unreachable event:\n%s", d.log)
		}
	})

	t.Run("NoConduitDropped", func(t *testing.T) {
		// hmi-1 has no conduit to the SIS: the ruleset drops the SYN.
		c, err := lab.Dial(hmi, "tcp", sis1+":502", time.Second)
		if err == nil {
			c.Close()
			t.Fatal("hmi-1 connected to sis-1:502 although no conduit allows it")
		}
	})

	// The requests denied above must not have reached plc-1. (Its
	// upstream connections all come from the gateway, so the PLC cannot
	// tell scada-1 from eng-ws: eng-ws's allowed FC 4 read is of 2
	// registers, scada-1's denied one of 1.)
	t.Run("PLCNeverSawDenied", func(t *testing.T) {
		for _, r := range plc.requests(t) {
			bad := false
			switch {
			case r.FC == 6 && r.Address == 50, r.FC == 5 && r.Address == 20, r.Unit != 1, r.FC == 4 && r.Address == 0 && r.Count == 1:
				bad = true
			case r.FC == 6 && r.Address == 10:
				bad = slices.Contains(mbInts(r.Values), 5000)
			}
			if bad {
				t.Errorf("plc-1 received a request its conduit denies: %+v", r)
			}
		}
		var writes500 int
		for _, r := range plc.requests(t) {
			if r.FC == 6 && r.Address == 500 {
				writes500++
			}
		}
		if writes500 != 1 {
			t.Errorf("plc-1 received %d writes to register 500, want eng-ws's one only", writes500)
		}
	})
}
