package lab

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"time"

	"github.com/zonegate/zonegate/gateway/zone"
	"github.com/zonegate/zonegate/protocols/modbus"
)

// ModbusWant is what the gateway's Modbus proxy should do with a request.
type ModbusWant string

// What the proxy should do with a probe's Modbus request.
const (
	WantResponse  ModbusWant = "response"  // forward it and return the device's normal response
	WantException ModbusWant = "exception" // deny it with a Modbus exception (on_deny: exception)
	WantReset     ModbusWant = "reset"     // deny it by closing the connection (on_deny: reset)
)

// article names the outcome with its article, for messages.
func (w ModbusWant) article() string {
	switch w {
	case WantException:
		return "an exception"
	case WantReset:
		return "a reset"
	}
	return "a normal response"
}

// ModbusOp is one Modbus request a probe sends through an inspected
// conduit, chosen from the conduit's allow rules.
type ModbusOp struct {
	Conduit  string
	Unit     uint8
	Function uint8 // 1-6
	Table    modbus.Table
	Address  uint16
	Value    uint16 // FC 5: 0 or 1; FC 6: the register value
	Want     ModbusWant
	Reason   string // why the request is allowed or denied
}

// IsWrite reports whether the op writes (FC 5 or 6).
func (op ModbusOp) IsWrite() bool {
	return op.Function == fcWriteSingleCoil || op.Function == fcWriteSingleRegister
}

var tableAbbrev = map[modbus.Table]string{
	modbus.Coils: "co", modbus.DiscreteInputs: "di", modbus.HoldingRegisters: "hr", modbus.InputRegisters: "ir",
}

// String names the request, such as "modbus FC3 read hr@0 unit 1".
func (op ModbusOp) String() string {
	if op.IsWrite() {
		return fmt.Sprintf("modbus FC%d write %s@%d=%d unit %d", op.Function, tableAbbrev[op.Table], op.Address, op.Value, op.Unit)
	}
	return fmt.Sprintf("modbus FC%d read %s@%d unit %d", op.Function, tableAbbrev[op.Table], op.Address, op.Unit)
}

// pdu encodes the request PDU.
func (op ModbusOp) pdu() []byte {
	b := []byte{op.Function}
	b = binary.BigEndian.AppendUint16(b, op.Address)
	switch op.Function {
	case fcWriteSingleCoil:
		v := uint16(0)
		if op.Value != 0 {
			v = 0xFF00
		}
		return binary.BigEndian.AppendUint16(b, v)
	case fcWriteSingleRegister:
		return binary.BigEndian.AppendUint16(b, op.Value)
	}
	return binary.BigEndian.AppendUint16(b, 1) // quantity 1
}

// matches reports whether the device received this request.
func (op ModbusOp) matches(r ModbusRequest) bool {
	if r.Function != op.Function || r.Address != op.Address || r.Unit != op.Unit {
		return false
	}
	if op.IsWrite() {
		return len(r.Values) == 1 && r.Values[0] == op.Value
	}
	return true
}

// ModbusSpec returns the rules of a conduit with `inspect: modbus`, or nil.
func ModbusSpec(cd *zone.Conduit) *modbus.Spec {
	spec, _ := cd.Rules.(*modbus.Spec)
	return spec
}

// ModbusChecks chooses, from a conduit's Modbus spec, an allowed read (the
// first read rule, at the first address of its range) and a write that the
// policy denies (to a holding register or coil no write rule covers,
// preferably above every address any rule names; failing that a value
// outside a values range, or a unit that is not allowed). Either may be
// missing when the policy has no such request; the string says why.
func ModbusChecks(conduit string, spec *modbus.Spec) (read, write *ModbusOp, missing []string) {
	if spec == nil {
		return nil, nil, []string{"the conduit has no modbus block"}
	}
	unit := uint8(1)
	if len(spec.Units) > 0 {
		unit = spec.Units[0]
	}
	forwarded := func(denied bool) ModbusWant {
		switch {
		case !denied || spec.Mode == modbus.ModeMonitor:
			return WantResponse
		case spec.OnDeny == modbus.DenyReset:
			return WantReset
		}
		return WantException
	}
	for _, r := range spec.Rules {
		if r.Access == modbus.AccessRead {
			read = &ModbusOp{Conduit: conduit, Unit: unit, Function: uint8(r.Table.ReadFunction()), Table: r.Table,
				Address: r.Addresses.Lo, Want: WantResponse,
				Reason: fmt.Sprintf("read inside %s %s of conduit %s", r.Table, r.Addresses, conduit)}
			break
		}
	}
	if read == nil {
		missing = append(missing, "the conduit allows no read")
	}

	covered := func(t modbus.Table, a uint16) bool {
		for _, r := range spec.Rules {
			if r.Access == modbus.AccessWrite && r.Table == t && r.Addresses.Contains(a) {
				return true
			}
		}
		return false
	}
	maxHi, any := 0, false
	for _, r := range spec.Rules {
		if r.Access == modbus.AccessRead || r.Access == modbus.AccessWrite {
			maxHi, any = max(maxHi, int(r.Addresses.Hi)), true
		}
	}
	writeOp := func(t modbus.Table, addr, value uint16, u uint8, reason string) *ModbusOp {
		fc := uint8(fcWriteSingleRegister)
		if t == modbus.Coils {
			fc = fcWriteSingleCoil
		}
		return &ModbusOp{Conduit: conduit, Unit: u, Function: fc, Table: t, Address: addr, Value: value,
			Want: forwarded(true), Reason: reason}
	}
	valueFor := func(t modbus.Table) uint16 {
		if t == modbus.Coils {
			return 1
		}
		return 7
	}
	// An address no rule names at all makes the clearest denied write.
	above := 0
	if any {
		above = maxHi + 1
	}
	if above <= 65535 {
		write = writeOp(modbus.HoldingRegisters, uint16(above), valueFor(modbus.HoldingRegisters), unit,
			fmt.Sprintf("write to holding register %d, which no rule of conduit %s covers", above, conduit))
		return read, write, missing
	}
	for _, t := range []modbus.Table{modbus.HoldingRegisters, modbus.Coils} {
		for a := 0; a <= 65535; a++ {
			if !covered(t, uint16(a)) {
				write = writeOp(t, uint16(a), valueFor(t), unit,
					fmt.Sprintf("write to %s %d, outside every write range of conduit %s", t, a, conduit))
				return read, write, missing
			}
		}
	}
	for _, r := range spec.Rules {
		if r.Access == modbus.AccessWrite && r.Table == modbus.HoldingRegisters && r.Values != nil {
			v, ok := int(r.Values.Hi)+1, r.Values.Hi < 65535
			if !ok && r.Values.Lo > 0 {
				v, ok = int(r.Values.Lo)-1, true
			}
			if ok {
				write = writeOp(modbus.HoldingRegisters, r.Addresses.Lo, uint16(v), unit,
					fmt.Sprintf("write of value %d, outside the values %s of conduit %s", v, r.Values, conduit))
				return read, write, missing
			}
		}
	}
	if spec.Units != nil {
		allowed := map[uint8]bool{}
		for _, u := range spec.Units {
			allowed[u] = true
		}
		for u := 0; u < 256; u++ {
			if !allowed[uint8(u)] {
				write = writeOp(modbus.HoldingRegisters, 0, 7, uint8(u),
					fmt.Sprintf("write to unit %d, which conduit %s does not list", u, conduit))
				return read, write, missing
			}
		}
	}
	return read, nil, append(missing, "the policy allows every write")
}

// modbusOutcome is what came back for one request.
type modbusOutcome struct {
	kind      ModbusWant // WantResponse, WantException or WantReset (closed or reset)
	exception uint8
	detail    string // human-readable
	noAnswer  bool   // nothing came back in time, or the connection failed
}

// modbusExchange connects with dial, sends op and reads the answer.
func modbusExchange(dial func() (net.Conn, error), op ModbusOp, tid uint16, timeout time.Duration) modbusOutcome {
	conn, err := dial()
	if err != nil {
		return modbusOutcome{noAnswer: true, detail: "no connection: " + shortErr(err)}
	}
	defer conn.Close()
	pdu := op.pdu()
	frame := binary.BigEndian.AppendUint16(nil, tid)
	frame = binary.BigEndian.AppendUint16(frame, 0)
	frame = binary.BigEndian.AppendUint16(frame, uint16(len(pdu)+1))
	frame = append(frame, op.Unit)
	frame = append(frame, pdu...)
	_ = conn.SetDeadline(time.Now().Add(timeout))
	if _, err := conn.Write(frame); err != nil {
		return closedOutcome(err)
	}
	hdr := make([]byte, 7)
	if _, err := io.ReadFull(conn, hdr); err != nil {
		return closedOutcome(err)
	}
	length := binary.BigEndian.Uint16(hdr[4:6])
	if length < 2 || length > 254 {
		return modbusOutcome{noAnswer: true, detail: fmt.Sprintf("malformed answer (length %d)", length)}
	}
	resp := make([]byte, length-1)
	if _, err := io.ReadFull(conn, resp); err != nil {
		return closedOutcome(err)
	}
	if got := binary.BigEndian.Uint16(hdr[0:2]); got != tid {
		return modbusOutcome{noAnswer: true, detail: fmt.Sprintf("answer with transaction %d to request %d", got, tid)}
	}
	switch {
	case resp[0] == op.Function|0x80 && len(resp) >= 2:
		return modbusOutcome{kind: WantException, exception: resp[1], detail: fmt.Sprintf("exception 0x%02x (%s)", resp[1], exceptionName(resp[1]))}
	case resp[0] != op.Function:
		return modbusOutcome{noAnswer: true, detail: fmt.Sprintf("answer with function %d to function %d", resp[0], op.Function)}
	case !op.IsWrite() && (len(resp) < 2 || int(resp[1]) != len(resp)-2 || resp[1] == 0):
		return modbusOutcome{noAnswer: true, detail: "malformed read response"}
	}
	return modbusOutcome{kind: WantResponse, detail: "normal response"}
}

// closedOutcome classifies a failed read or write on the connection.
func closedOutcome(err error) modbusOutcome {
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		return modbusOutcome{noAnswer: true, detail: "no answer in time"}
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return modbusOutcome{kind: WantReset, detail: "connection closed"}
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return modbusOutcome{kind: WantReset, detail: "connection reset"}
	}
	return modbusOutcome{noAnswer: true, detail: shortErr(err)}
}

func shortErr(err error) string {
	var se *os.SyscallError
	if errors.As(err, &se) {
		return se.Err.Error()
	}
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		return oe.Err.Error()
	}
	return err.Error()
}

func exceptionName(code uint8) string {
	switch code {
	case 0x01:
		return "illegal function"
	case 0x02:
		return "illegal data address"
	case 0x03:
		return "illegal data value"
	case 0x04:
		return "server device failure"
	case 0x0A:
		return "gateway path unavailable"
	case 0x0B:
		return "gateway target failed to respond"
	}
	return "exception"
}
