package modbustcp

import (
	"bytes"
	"encoding/binary"

	"github.com/zonegate/zonegate/protocols/modbus"
	"github.com/zonegate/zonegate/protocols/proxy"
)

// ReasonBadAnswer is the reason of an answer that does not fit its request
// (proxy.AnswerChecker): the client gets exception 0x0B instead and the
// device connection is closed as desynchronised.
const ReasonBadAnswer = "upstream_bad_answer"

// CheckAnswer implements proxy.AnswerChecker: an answer the engine has
// paired with its request (same unit and function) must be well formed
// for it. An exception is the function code with bit 7 set and one
// nonzero exception code; a read's byte count is what its quantity asks
// for (FC 1, 2: a bit per coil or input; FC 3, 4, 23: two bytes per
// register) and fills the PDU; a write's answer echoes the request (FC 5,
// 6, 15, 16: address and value or quantity; FC 22: address and masks);
// the functions with a byte count of their own (FC 12, 17, 20, 21, 24)
// fill their PDU with it. The frame is at most 260 bytes already (the
// framing refuses longer ones). It returns "" for a good answer.
func (s *session) CheckAnswer(frame []byte, rec *proxy.Record) string {
	return checkAnswer(modbus.Frame(frame).PDU(), rec)
}

func checkAnswer(pdu []byte, rec *proxy.Record) string {
	fc := pdu[0]
	if fc&0x80 != 0 {
		if len(pdu) != 2 || pdu[1] == 0 {
			return ReasonBadAnswer
		}
		return ""
	}
	n := len(pdu) - 1 // after the function code
	body := pdu[1:]
	valid := rec[recFlags]&flagValid != 0
	qty := int(binary.BigEndian.Uint16(rec[recQuantity:]))
	ok := true
	switch modbus.FunctionCode(fc) {
	case modbus.FuncReadCoils, modbus.FuncReadDiscreteInputs:
		ok = n >= 1 && int(body[0]) == n-1 && (!valid || n-1 == (qty+7)/8)
	case modbus.FuncReadHoldingRegisters, modbus.FuncReadInputRegisters, modbus.FuncReadWriteMultipleRegisters:
		ok = n >= 1 && int(body[0]) == n-1 && (!valid || n-1 == 2*qty)
	case modbus.FuncWriteSingleCoil, modbus.FuncWriteSingleRegister, modbus.FuncWriteMultipleCoils, modbus.FuncWriteMultipleRegisters:
		ok = n == 4 && (!valid || bytes.Equal(body, rec[recEcho:recEcho+4]))
	case modbus.FuncMaskWriteRegister:
		ok = n == 6 && (!valid || bytes.Equal(body, rec[recEcho:recEcho+6]))
	case modbus.FuncReadExceptionStatus:
		ok = n == 1
	case modbus.FuncGetCommEventCounter:
		ok = n == 4
	case modbus.FuncGetCommEventLog, modbus.FuncReportServerID, modbus.FuncReadFileRecord, modbus.FuncWriteFileRecord:
		ok = n >= 1 && int(body[0]) == n-1
	case modbus.FuncReadFIFOQueue:
		ok = n >= 2 && int(binary.BigEndian.Uint16(body)) == n-2
	}
	if !ok {
		return ReasonBadAnswer
	}
	return ""
}
