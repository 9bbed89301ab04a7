package lab

import (
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/zonegate/zonegate/gateway/zone"
	"github.com/zonegate/zonegate/protocols/modbus"
)

// startPLC runs a fake PLC on loopback.
func startPLC(t *testing.T) (*ModbusServer, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	plc := NewModbusServer()
	go plc.Serve(ln)
	t.Cleanup(func() { plc.Close() })
	return plc, ln.Addr().String()
}

// exchange sends one raw request PDU and returns the response PDU.
func exchange(t *testing.T, addr string, unit byte, pdu ...byte) []byte {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	frame := []byte{0x12, 0x34, 0, 0, 0, byte(len(pdu) + 1), unit}
	if _, err := c.Write(append(frame, pdu...)); err != nil {
		t.Fatal(err)
	}
	hdr := make([]byte, 7)
	if _, err := io.ReadFull(c, hdr); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(hdr[:4], []byte{0x12, 0x34, 0, 0}) || hdr[6] != unit {
		t.Fatalf("response header %x does not echo the request", hdr)
	}
	resp := make([]byte, binary.BigEndian.Uint16(hdr[4:6])-1)
	if _, err := io.ReadFull(c, resp); err != nil {
		t.Fatal(err)
	}
	return resp
}

func TestModbusServerAnswersAndRecords(t *testing.T) {
	plc, addr := startPLC(t)
	cases := []struct {
		name string
		pdu  []byte
		want []byte
	}{
		{"FC3 reads register N as N", []byte{3, 0, 10, 0, 2}, []byte{3, 4, 0, 10, 0, 11}},
		{"FC4 reads input registers", []byte{4, 0, 1, 0, 1}, []byte{4, 2, 0, 1}},
		{"FC1 reads odd coils as on", []byte{1, 0, 0, 0, 4}, []byte{1, 1, 0b1010}},
		{"FC2 reads discrete inputs", []byte{2, 0, 1, 0, 1}, []byte{2, 1, 1}},
		{"FC6 echoes", []byte{6, 0, 20, 0x01, 0x02}, []byte{6, 0, 20, 0x01, 0x02}},
		{"FC3 sees the FC6 write", []byte{3, 0, 20, 0, 1}, []byte{3, 2, 0x01, 0x02}},
		{"FC16 echoes address and quantity", []byte{16, 0, 30, 0, 2, 4, 0, 5, 0, 6}, []byte{16, 0, 30, 0, 2}},
		{"FC3 sees the FC16 write", []byte{3, 0, 30, 0, 2}, []byte{3, 4, 0, 5, 0, 6}},
		{"FC5 echoes", []byte{5, 0, 2, 0xFF, 0}, []byte{5, 0, 2, 0xFF, 0}},
		{"FC5 with a bad value", []byte{5, 0, 2, 0x12, 0}, []byte{0x85, exIllegalDataValue}},
		{"FC3 quantity 0", []byte{3, 0, 0, 0, 0}, []byte{0x83, exIllegalDataValue}},
		{"FC3 past the last address", []byte{3, 0xFF, 0xFF, 0, 2}, []byte{0x83, exIllegalDataAddress}},
		{"unknown function", []byte{43, 14, 1, 0}, []byte{0xAB, exIllegalFunction}},
	}
	for _, c := range cases {
		if got := exchange(t, addr, 1, c.pdu...); !bytes.Equal(got, c.want) {
			t.Errorf("%s: response %x, want %x", c.name, got, c.want)
		}
	}
	if n := plc.Writes(); n != 4 {
		t.Errorf("the PLC counted %d writes, want 4 (FC6, FC16, FC5 and the refused FC5)", n)
	}
	if n := plc.Count(func(r ModbusRequest) bool { return r.Function == 16 && r.Address == 30 && len(r.Values) == 2 }); n != 1 {
		t.Errorf("the FC16 write was recorded %d times with its values, want once", n)
	}
	if got := plc.HoldingRegister(31); got != 6 {
		t.Errorf("holding register 31 = %d after the write, want 6", got)
	}
	if got := len(plc.Requests()); got != len(cases) {
		t.Errorf("recorded %d requests, want %d", got, len(cases))
	}
}

func exampleConduits(t *testing.T) *zone.Model {
	t.Helper()
	m, err := zone.LoadFile("../../configs/example-factory.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestModbusChecksOfTheExampleFactory(t *testing.T) {
	m := exampleConduits(t)
	want := map[string][2]string{
		"scada-to-plc": {"modbus FC3 read hr@0 unit 1", "modbus FC6 write hr@100=7 unit 1"},
		"scada-to-sis": {"modbus FC2 read di@0 unit 1", "modbus FC6 write hr@128=7 unit 1"},
		"eng-to-plc":   {"modbus FC3 read hr@0 unit 1", "modbus FC6 write hr@10000=7 unit 1"},
	}
	wantDeny := map[string]ModbusWant{"scada-to-plc": WantException, "scada-to-sis": WantReset, "eng-to-plc": WantException}
	for name, w := range want {
		cd := m.Conduit(name)
		read, write, missing := ModbusChecks(cd.Name, ModbusSpec(cd))
		if read == nil || write == nil || len(missing) > 0 {
			t.Fatalf("%s: read %v, write %v, missing %v", name, read, write, missing)
		}
		if read.String() != w[0] || write.String() != w[1] {
			t.Errorf("%s: chose %q and %q, want %q and %q", name, read, write, w[0], w[1])
		}
		if read.Want != WantResponse || write.Want != wantDeny[name] {
			t.Errorf("%s: wants %s and %s, want response and %s", name, read.Want, write.Want, wantDeny[name])
		}
	}
}

func TestModbusChecksFindADeniedWrite(t *testing.T) {
	all := modbus.Range{Lo: 0, Hi: 65535}
	values := modbus.Range{Lo: 0, Hi: 1000}
	hr := modbus.Rule{Access: modbus.AccessWrite, Table: modbus.HoldingRegisters, Addresses: all}
	coils := modbus.Rule{Access: modbus.AccessWrite, Table: modbus.Coils, Addresses: all}
	hrValues := hr
	hrValues.Values = &values
	cases := []struct {
		name string
		spec modbus.Spec
		want string // "" for none
	}{
		{"no rules", modbus.Spec{}, "modbus FC6 write hr@0=7 unit 1"},
		{"every register writable", modbus.Spec{Rules: []modbus.Rule{hr}}, "modbus FC5 write co@0=1 unit 1"},
		{"every register and coil writable, values limited", modbus.Spec{Rules: []modbus.Rule{hrValues, coils}}, "modbus FC6 write hr@0=1001 unit 1"},
		{"everything writable but one unit", modbus.Spec{Units: []uint8{0, 1}, Rules: []modbus.Rule{hr, coils}}, "modbus FC6 write hr@0=7 unit 2"},
		{"everything writable", modbus.Spec{Rules: []modbus.Rule{hr, coils}}, ""},
	}
	for _, c := range cases {
		_, write, missing := ModbusChecks("c", &c.spec)
		got := ""
		if write != nil {
			got = write.String()
		}
		if got != c.want {
			t.Errorf("%s: denied write %q, want %q (missing %v)", c.name, got, c.want, missing)
		}
	}
	monitor := modbus.Spec{Mode: modbus.ModeMonitor, OnDeny: modbus.DenyReset}
	if _, w, _ := ModbusChecks("c", &monitor); w == nil || w.Want != WantResponse {
		t.Errorf("in monitor mode a denied write is forwarded: want %v, got %+v", WantResponse, w)
	}
}

// fakeProxy stands for the gateway's Modbus proxy: it forwards reads to
// the PLC and, by mode, answers writes with exception 2, resets the
// connection, or forwards them too ("leak").
func fakeProxy(t *testing.T, plcAddr, mode string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn) {
				defer c.Close()
				hdr := make([]byte, 7)
				if _, err := io.ReadFull(c, hdr); err != nil {
					return
				}
				pdu := make([]byte, binary.BigEndian.Uint16(hdr[4:6])-1)
				if _, err := io.ReadFull(c, pdu); err != nil {
					return
				}
				if pdu[0] == fcWriteSingleRegister && mode != "leak" {
					if mode == "reset" {
						c.(*net.TCPConn).SetLinger(0)
						return
					}
					c.Write(append(append(hdr[:4:4], 0, 3, hdr[6]), pdu[0]|0x80, exIllegalDataAddress))
					return
				}
				up, err := net.Dial("tcp", plcAddr)
				if err != nil {
					return
				}
				defer up.Close()
				up.Write(append(hdr, pdu...))
				io.Copy(c, io.LimitReader(up, 7+255))
			}(c)
		}
	}()
	return ln.Addr().String()
}

func TestModbusJudgement(t *testing.T) {
	read := ModbusOp{Unit: 1, Function: fcReadHoldingRegisters, Table: modbus.HoldingRegisters, Address: 0, Want: WantResponse}
	write := ModbusOp{Unit: 1, Function: fcWriteSingleRegister, Table: modbus.HoldingRegisters, Address: 100, Value: 7, Want: WantException}
	resetWrite := write
	resetWrite.Want = WantReset
	cases := []struct {
		mode      string
		op        ModbusOp
		got       bool
		deviation string
	}{
		{"exception", read, true, ""},
		{"exception", write, false, ""},
		{"reset", resetWrite, false, ""},
		{"exception", resetWrite, false, "expected a reset as on_deny says, got exception 0x02 (illegal data address)"},
		{"reset", write, false, "expected an exception as on_deny says, got connection reset"},
		{"leak", write, true, "the device received the denied request"},
	}
	for _, c := range cases {
		plc, plcAddr := startPLC(t)
		proxy := fakeProxy(t, plcAddr, c.mode)
		out := modbusExchange(func() (net.Conn, error) { return net.Dial("tcp", proxy) }, c.op, 9, time.Second)
		got, dev := judgeModbus(c.op, out, plc.Count(c.op.matches) > 0)
		if got != c.got || dev != c.deviation {
			t.Errorf("proxy %s, %s: got=%v deviation=%q (%s), want got=%v deviation=%q", c.mode, c.op, got, dev, out.detail, c.got, c.deviation)
		}
	}
}

func TestMatrixShowsMismatchAndSummary(t *testing.T) {
	h := &Host{NS: "p-z-a", Zone: "a"}
	rs := []Result{
		{Case: Case{From: "a", To: "b", Src: h, Dst: h, Proto: zone.TCP, Port: 443, Why: "no conduit"}, Got: true},
		{Case: Case{From: "a", To: "b", Src: h, Dst: h, Proto: zone.TCP, Port: 502, Expect: true, Why: "conduit c", Inspected: true}, Skipped: NeedsModbusProxy + " (x)"},
	}
	var b strings.Builder
	if err := WriteMatrix(&b, rs, time.Second); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"MISMATCH", "model expects drop, got pass (no conduit)", "2 cases: 0 ok, 1 mismatch(es), 1 skipped", "needs the Modbus proxy", "does NOT"} {
		if !strings.Contains(out, want) {
			t.Errorf("matrix lacks %q:\n%s", want, out)
		}
	}
}

func TestScaleModelLoads(t *testing.T) {
	b, err := ScaleModel(10)
	if err != nil {
		t.Fatal(err)
	}
	m, err := zone.Load("gen.yaml", b)
	if err != nil {
		t.Fatalf("generated model does not load: %v\n%s", err, b)
	}
	if len(m.Zones) != 10 || len(m.Conduits) != 10 {
		t.Errorf("generated %d zones and %d conduits, want 10 and 10", len(m.Zones), len(m.Conduits))
	}
}
