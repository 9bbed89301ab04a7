package modbus

import (
	"encoding/binary"
	"iter"
)

// Reason says why a request was denied. The values are stable strings meant
// for logs, audit records and metrics labels.
type Reason string

// Reasons for which the request sanity checks refuse a request, each with
// the exception code the proxy answers with.
const (
	ReasonBadFrame         Reason = "bad_frame"               // 03: frame header inconsistent (only when ParseRequest is fed a frame that did not come from a Framer)
	ReasonFunctionInvalid  Reason = "function_code_invalid"   // 01: function code 0 or >= 0x80
	ReasonFunctionUnknown  Reason = "function_code_unknown"   // 01: reserved or unassigned function code
	ReasonLength           Reason = "pdu_length_mismatch"     // 03: PDU length does not fit the function code
	ReasonQuantity         Reason = "quantity_out_of_range"   // 03: quantity outside the limits of the function
	ReasonByteCount        Reason = "byte_count_mismatch"     // 03: byte count does not match the quantity
	ReasonAddressOverflow  Reason = "address_overflow"        // 02: address + quantity beyond 65536
	ReasonCoilValue        Reason = "coil_value_invalid"      // 03: FC 5 value other than 0x0000 and 0xFF00
	ReasonSubFunction      Reason = "diagnostic_subfunction"  // 01: FC 8 sub-function not defined
	ReasonDiagnosticData   Reason = "diagnostic_data_invalid" // 03: FC 8 data invalid for the sub-function
	ReasonMEIType          Reason = "mei_type_unknown"        // 01: FC 43 MEI type other than 13 and 14
	ReasonDeviceIDCode     Reason = "device_id_code_invalid"  // 03: FC 43/14 Read Device ID code outside 1-4
	ReasonObjectID         Reason = "object_id_invalid"       // 02: FC 43/14 object id outside the category asked for
	ReasonFileReference    Reason = "file_reference_invalid"  // 02: FC 20/21 reference type, file or record number invalid
	ReasonFileRecordLength Reason = "file_record_length"      // 03: FC 20/21 record length zero or response too long
	ReasonUnitNotAllowed   Reason = "unit_not_allowed"        // 01: unit id not in the policy's units
	ReasonFunctionDenied   Reason = "function_not_allowed"    // 01: no rule allows the function (or table, or MEI type)
	ReasonDiagSubFunction  Reason = "subfunction_not_allowed" // 01: a diagnostics rule exists but does not allow this FC 8 sub-function
	ReasonAddressDenied    Reason = "address_not_allowed"     // 02: span not covered by the rules of the function
	ReasonValueDenied      Reason = "value_not_allowed"       // 03: written register value outside the rule's values
	ReasonMaskWriteDenied  Reason = "mask_write_unverifiable" // 03: FC 22 result may leave the rule's values
	ReasonRateLimited      Reason = "rate_limited"            // 06: client connection above max_rate
)

// CheckError is a request refused by the sanity checks. The values are
// shared and must not be modified.
type CheckError struct {
	Reason    Reason
	Exception ExceptionCode
}

func (e *CheckError) Error() string {
	return "modbus: request refused: " + string(e.Reason) + " (exception " + e.Exception.String() + ")"
}

// Preallocated check errors: returning them does not allocate.
var (
	errBadFrame      = &CheckError{ReasonBadFrame, ExIllegalDataValue}
	errFuncInvalid   = &CheckError{ReasonFunctionInvalid, ExIllegalFunction}
	errFuncUnknown   = &CheckError{ReasonFunctionUnknown, ExIllegalFunction}
	errLength        = &CheckError{ReasonLength, ExIllegalDataValue}
	errQuantity      = &CheckError{ReasonQuantity, ExIllegalDataValue}
	errByteCount     = &CheckError{ReasonByteCount, ExIllegalDataValue}
	errOverflow      = &CheckError{ReasonAddressOverflow, ExIllegalDataAddress}
	errCoilValue     = &CheckError{ReasonCoilValue, ExIllegalDataValue}
	errSubFunction   = &CheckError{ReasonSubFunction, ExIllegalFunction}
	errDiagData      = &CheckError{ReasonDiagnosticData, ExIllegalDataValue}
	errMEIType       = &CheckError{ReasonMEIType, ExIllegalFunction}
	errDeviceIDCode  = &CheckError{ReasonDeviceIDCode, ExIllegalDataValue}
	errObjectID      = &CheckError{ReasonObjectID, ExIllegalDataAddress}
	errFileReference = &CheckError{ReasonFileReference, ExIllegalDataAddress}
	errFileRecordLen = &CheckError{ReasonFileRecordLength, ExIllegalDataValue}
)

// Quantity limits of the Modbus Application Protocol V1.1b3.
const (
	MaxReadBits           = 2000 // FC 1, 2
	MaxReadRegisters      = 125  // FC 3, 4, FC 23 read half
	MaxWriteCoils         = 1968 // FC 15
	MaxWriteRegisters     = 123  // FC 16
	MaxReadWriteRegisters = 121  // FC 23 write half
)

// Function code classes.
const (
	fcPublic      = 1 << iota // public function code defined by the specification
	fcUserDefined             // user-defined ranges 65-72 and 100-110
)

var functionClass = func() (c [256]uint8) {
	for _, fc := range []FunctionCode{1, 2, 3, 4, 5, 6, 7, 8, 11, 12, 15, 16, 17, 20, 21, 22, 23, 24, 43} {
		c[fc] = fcPublic
	}
	for fc := 65; fc <= 72; fc++ {
		c[fc] = fcUserDefined
	}
	for fc := 100; fc <= 110; fc++ {
		c[fc] = fcUserDefined
	}
	return c
}()

// KnownFunction reports whether the sanity checks accept function code fc:
// the public codes 1-8, 11, 12, 15-17, 20-24 and 43, and the user-defined
// ranges 65-72 and 100-110. Everything else (0, reserved codes such as 9,
// 10, 13, 14, 41, 42, 90, 91, 125-127, unassigned codes and codes >= 128)
// is refused with exception 01.
func KnownFunction(fc FunctionCode) bool { return functionClass[fc] != 0 }

// UserDefinedFunction reports whether fc lies in a user-defined range
// (65-72, 100-110). Such codes pass the sanity checks unexamined and are
// allowed only by an explicit numeric `function` rule.
func UserDefinedFunction(fc FunctionCode) bool { return functionClass[fc] == fcUserDefined }

// Request is a parsed, sanity-checked Modbus request. It refers to the frame
// it was parsed from and is valid as long as that frame is.
//
// Address and Quantity are the span the function reads or writes (for FC 23
// the read half; for FC 5, 6 and 22 Quantity is 1). WriteAddress and
// WriteQuantity are the span written by FC 5, 6, 15, 16, 22 and 23.
type Request struct {
	TransactionID uint16
	Unit          uint8
	Function      FunctionCode
	Address       uint16
	Quantity      uint16
	WriteAddress  uint16
	WriteQuantity uint16
	AndMask       uint16 // FC 22
	OrMask        uint16 // FC 22
	SubFunction   uint16 // FC 8
	MEIType       uint8  // FC 43
	DeviceIDCode  uint8  // FC 43 / MEI 14
	ObjectID      uint8  // FC 43 / MEI 14

	frame  Frame
	valid  bool
	values []byte // written values as on the wire: packed coils (FC 5: the 2-byte value) or big-endian registers
}

// Frame returns the frame the request was parsed from.
func (r *Request) Frame() Frame { return r.frame }

// Table returns the data table the function addresses, or 0.
func (r *Request) Table() Table {
	switch r.Function {
	case FuncReadCoils, FuncWriteSingleCoil, FuncWriteMultipleCoils:
		return Coils
	case FuncReadDiscreteInputs:
		return DiscreteInputs
	case FuncReadHoldingRegisters, FuncWriteSingleRegister, FuncWriteMultipleRegisters,
		FuncMaskWriteRegister, FuncReadWriteMultipleRegisters:
		return HoldingRegisters
	case FuncReadInputRegisters:
		return InputRegisters
	}
	return 0
}

// IsWrite reports whether the request changes data in the device: writes to
// coils and holding registers (FC 5, 6, 15, 16, 22, 23) and file records
// (FC 21).
func (r *Request) IsWrite() bool {
	switch r.Function {
	case FuncWriteSingleCoil, FuncWriteSingleRegister, FuncWriteMultipleCoils, FuncWriteMultipleRegisters,
		FuncMaskWriteRegister, FuncReadWriteMultipleRegisters, FuncWriteFileRecord:
		return true
	}
	return false
}

// WritesRegisters reports whether the request carries register values (FC 6,
// 16, 23); Register returns them.
func (r *Request) WritesRegisters() bool {
	f := r.Function
	return f == FuncWriteSingleRegister || f == FuncWriteMultipleRegisters || f == FuncReadWriteMultipleRegisters
}

// WritesCoils reports whether the request carries coil values (FC 5, 15);
// Coil returns them.
func (r *Request) WritesCoils() bool {
	return r.Function == FuncWriteSingleCoil || r.Function == FuncWriteMultipleCoils
}

// Register returns the i-th register value written by FC 6, 16 or 23, to
// address WriteAddress+i. i must be below WriteQuantity.
func (r *Request) Register(i int) uint16 {
	return binary.BigEndian.Uint16(r.values[2*i:])
}

// Coil returns the i-th coil value written by FC 5 or 15, to address
// WriteAddress+i. i must be below WriteQuantity.
func (r *Request) Coil(i int) bool {
	if r.Function == FuncWriteSingleCoil {
		return r.values[0] == 0xFF
	}
	return r.values[i/8]&(1<<(i%8)) != 0
}

// Values iterates over the written (address, value) pairs of FC 5, 6, 15,
// 16 and 23; coils give 0 or 1. Other functions yield nothing.
func (r *Request) Values() iter.Seq2[uint16, uint16] {
	return func(yield func(uint16, uint16) bool) {
		regs, coils := r.WritesRegisters(), r.WritesCoils()
		if !regs && !coils {
			return
		}
		for i := 0; i < int(r.WriteQuantity); i++ {
			var v uint16
			if regs {
				v = r.Register(i)
			} else if r.Coil(i) {
				v = 1
			}
			if !yield(r.WriteAddress+uint16(i), v) {
				return
			}
		}
	}
}

// ParseRequest parses frame f into req and checks it against the Modbus
// Application Protocol V1.1b3. It does not allocate. On failure it returns
// a *CheckError with the reason and the exception code to answer with;
// req then holds at least the header fields (transaction id, unit,
// function).
func ParseRequest(f Frame, req *Request) error {
	err := parseRequest(f, req)
	req.valid = err == nil
	return err
}

// Valid reports whether the request passed ParseRequest; only then are the
// fields beyond TransactionID, Unit and Function meaningful.
func (r *Request) Valid() bool { return r.valid }

func parseRequest(f Frame, req *Request) error {
	*req = Request{frame: f}
	if len(f) < MinFrameLen || len(f) > MaxFrameLen || f.ProtocolID() != 0 || int(f.LengthField()) != len(f)-6 {
		if len(f) >= MinFrameLen {
			req.TransactionID, req.Unit, req.Function = f.TransactionID(), f.Unit(), f.Function()
		}
		return errBadFrame
	}
	req.TransactionID, req.Unit, req.Function = f.TransactionID(), f.Unit(), f.Function()
	fc := req.Function
	if fc == 0 || fc >= 0x80 {
		return errFuncInvalid
	}
	if !KnownFunction(fc) {
		return errFuncUnknown
	}
	pdu := f.PDU()
	d := pdu[1:]
	switch fc {
	case FuncReadCoils, FuncReadDiscreteInputs:
		return req.parseRead(d, MaxReadBits)
	case FuncReadHoldingRegisters, FuncReadInputRegisters:
		return req.parseRead(d, MaxReadRegisters)
	case FuncWriteSingleCoil:
		if len(d) != 4 {
			return errLength
		}
		req.setSingleWrite(d)
		if v := u16(d[2:]); v != 0x0000 && v != 0xFF00 {
			return errCoilValue
		}
		return nil
	case FuncWriteSingleRegister:
		if len(d) != 4 {
			return errLength
		}
		req.setSingleWrite(d)
		return nil
	case FuncReadExceptionStatus, FuncGetCommEventCounter, FuncGetCommEventLog, FuncReportServerID:
		if len(d) != 0 {
			return errLength
		}
		return nil
	case FuncDiagnostics:
		return req.parseDiagnostics(d)
	case FuncWriteMultipleCoils:
		return req.parseWriteMultiple(d, MaxWriteCoils, func(q int) int { return (q + 7) / 8 })
	case FuncWriteMultipleRegisters:
		return req.parseWriteMultiple(d, MaxWriteRegisters, func(q int) int { return 2 * q })
	case FuncReadFileRecord:
		return parseFileRecords(d, false)
	case FuncWriteFileRecord:
		return parseFileRecords(d, true)
	case FuncMaskWriteRegister:
		if len(d) != 6 {
			return errLength
		}
		req.Address, req.Quantity = u16(d), 1
		req.WriteAddress, req.WriteQuantity = req.Address, 1
		req.AndMask, req.OrMask = u16(d[2:]), u16(d[4:])
		return nil
	case FuncReadWriteMultipleRegisters:
		return req.parseReadWrite(d)
	case FuncReadFIFOQueue:
		if len(d) != 2 {
			return errLength
		}
		req.Address = u16(d)
		return nil
	case FuncEncapsulatedInterface:
		return req.parseMEI(d)
	}
	// User-defined function codes: any data up to the PDU limit.
	return nil
}

func u16(b []byte) uint16 { return binary.BigEndian.Uint16(b) }

// spanOK reports whether addr+qty stays within the 65536 addresses.
func spanOK(addr, qty uint16) bool { return int(addr)+int(qty) <= 0x10000 }

func (r *Request) parseRead(d []byte, max uint16) error {
	if len(d) != 4 {
		return errLength
	}
	r.Address, r.Quantity = u16(d), u16(d[2:])
	if r.Quantity < 1 || r.Quantity > max {
		return errQuantity
	}
	if !spanOK(r.Address, r.Quantity) {
		return errOverflow
	}
	return nil
}

func (r *Request) setSingleWrite(d []byte) {
	r.Address, r.Quantity = u16(d), 1
	r.WriteAddress, r.WriteQuantity = r.Address, 1
	r.values = d[2:4]
}

func (r *Request) parseWriteMultiple(d []byte, max uint16, byteCount func(int) int) error {
	if len(d) < 5 {
		return errLength
	}
	r.Address, r.Quantity = u16(d), u16(d[2:])
	r.WriteAddress, r.WriteQuantity = r.Address, r.Quantity
	if r.Quantity < 1 || r.Quantity > max {
		return errQuantity
	}
	if int(d[4]) != byteCount(int(r.Quantity)) {
		return errByteCount
	}
	if len(d) != 5+int(d[4]) {
		return errLength
	}
	if !spanOK(r.Address, r.Quantity) {
		return errOverflow
	}
	r.values = d[5:]
	return nil
}

func (r *Request) parseReadWrite(d []byte) error {
	if len(d) < 9 {
		return errLength
	}
	r.Address, r.Quantity = u16(d), u16(d[2:])
	r.WriteAddress, r.WriteQuantity = u16(d[4:]), u16(d[6:])
	if r.Quantity < 1 || r.Quantity > MaxReadRegisters || r.WriteQuantity < 1 || r.WriteQuantity > MaxReadWriteRegisters {
		return errQuantity
	}
	if int(d[8]) != 2*int(r.WriteQuantity) {
		return errByteCount
	}
	if len(d) != 9+int(d[8]) {
		return errLength
	}
	if !spanOK(r.Address, r.Quantity) || !spanOK(r.WriteAddress, r.WriteQuantity) {
		return errOverflow
	}
	r.values = d[9:]
	return nil
}

// Diagnostics (FC 8) sub-functions defined for Modbus/TCP use.
const (
	DiagReturnQueryData       = 0x00
	DiagRestartCommunications = 0x01
	DiagReturnRegister        = 0x02
	DiagChangeASCIIDelimiter  = 0x03
	DiagForceListenOnly       = 0x04
	DiagClearCounters         = 0x0A
	DiagBusMessageCount       = 0x0B // 0x0B-0x12 return counters
	DiagReturnOverrunCount    = 0x12
	DiagClearOverrun          = 0x14
)

func (r *Request) parseDiagnostics(d []byte) error {
	if len(d) < 2 {
		return errLength
	}
	r.SubFunction = u16(d)
	data := d[2:]
	switch sf := r.SubFunction; {
	case sf == DiagReturnQueryData:
		return nil // echoes any data
	case sf == DiagRestartCommunications:
		if len(data) != 2 {
			return errLength
		}
		if v := u16(data); v != 0x0000 && v != 0xFF00 {
			return errDiagData
		}
	case sf == DiagChangeASCIIDelimiter:
		if len(data) != 2 {
			return errLength
		}
		if data[1] != 0 {
			return errDiagData
		}
	case sf == DiagReturnRegister || sf == DiagForceListenOnly ||
		(sf >= DiagClearCounters && sf <= DiagReturnOverrunCount) || sf == DiagClearOverrun:
		if len(data) != 2 {
			return errLength
		}
		if u16(data) != 0 {
			return errDiagData
		}
	default:
		return errSubFunction
	}
	return nil
}

// File record limits (FC 20, 21).
const (
	fileRefType   = 6
	maxFileRecord = 0x270F
)

// parseFileRecords checks the sub-requests of FC 20 (7 bytes each) or FC 21
// (7 bytes and the record data each).
func parseFileRecords(d []byte, write bool) error {
	if len(d) < 1 {
		return errLength
	}
	bc := int(d[0])
	if write {
		if bc < 9 || bc > 0xFB {
			return errByteCount
		}
	} else if bc < 7 || bc > 0xF5 || bc%7 != 0 {
		return errByteCount
	}
	if len(d) != 1+bc {
		return errLength
	}
	respLen := 2 // function code and response data length
	for s := d[1:]; len(s) > 0; {
		if len(s) < 7 {
			return errByteCount
		}
		ref, file, rec, n := s[0], u16(s[1:]), int(u16(s[3:])), int(u16(s[5:]))
		if ref != fileRefType || file == 0 || rec > maxFileRecord {
			return errFileReference
		}
		if n == 0 {
			return errFileRecordLen
		}
		if rec+n-1 > maxFileRecord {
			return errFileReference
		}
		s = s[7:]
		if write {
			if len(s) < 2*n {
				return errByteCount
			}
			s = s[2*n:]
		} else if respLen += 2 + 2*n; respLen > MaxPDULen {
			return errFileRecordLen
		}
	}
	return nil
}

func (r *Request) parseMEI(d []byte) error {
	if len(d) < 1 {
		return errLength
	}
	r.MEIType = d[0]
	switch r.MEIType {
	case MEICANopenGeneralReference:
		return nil // CANopen data is opaque here
	case MEIReadDeviceIdentification:
		if len(d) != 3 {
			return errLength
		}
		r.DeviceIDCode, r.ObjectID = d[1], d[2]
		switch r.DeviceIDCode {
		case 1: // basic stream: objects 0x00-0x02
			if r.ObjectID > 0x02 {
				return errObjectID
			}
		case 2: // regular stream: objects 0x00-0x7F
			if r.ObjectID > 0x7F {
				return errObjectID
			}
		case 3, 4: // extended stream, individual access: any object id
		default:
			return errDeviceIDCode
		}
		return nil
	}
	return errMEIType
}
