package modbus

import (
	"encoding/binary"
	"strconv"
)

// ExceptionCode is a Modbus exception code.
type ExceptionCode uint8

// Exception codes used by the proxy (Modbus Application Protocol V1.1b3, section 7).
const (
	ExIllegalFunction         ExceptionCode = 0x01
	ExIllegalDataAddress      ExceptionCode = 0x02
	ExIllegalDataValue        ExceptionCode = 0x03
	ExServerDeviceFailure     ExceptionCode = 0x04
	ExServerDeviceBusy        ExceptionCode = 0x06
	ExGatewayPathUnavailable  ExceptionCode = 0x0A
	ExGatewayTargetNoResponse ExceptionCode = 0x0B
)

func (e ExceptionCode) String() string {
	switch e {
	case 0:
		return "none"
	case ExIllegalFunction:
		return "illegal_function"
	case ExIllegalDataAddress:
		return "illegal_data_address"
	case ExIllegalDataValue:
		return "illegal_data_value"
	case ExServerDeviceFailure:
		return "server_device_failure"
	case ExServerDeviceBusy:
		return "server_device_busy"
	case ExGatewayPathUnavailable:
		return "gateway_path_unavailable"
	case ExGatewayTargetNoResponse:
		return "gateway_target_failed_to_respond"
	}
	return "exception(" + strconv.Itoa(int(e)) + ")"
}

// ExceptionLen is the length of an exception response frame: MBAP header,
// function code | 0x80 and the exception code.
const ExceptionLen = MBAPHeaderLen + 2

// AppendException appends an exception response frame for a request with the
// given transaction id, unit id and function code to dst and returns the
// extended slice. It does not allocate when dst has ExceptionLen bytes of
// spare capacity.
func AppendException(dst []byte, tid uint16, unit uint8, fc FunctionCode, code ExceptionCode) []byte {
	var b [ExceptionLen]byte
	binary.BigEndian.PutUint16(b[0:2], tid)
	// b[2:4] protocol id 0
	binary.BigEndian.PutUint16(b[4:6], 3) // unit id, function code, exception code
	b[6] = unit
	b[7] = byte(fc) | 0x80
	b[8] = byte(code)
	return append(dst, b[:]...)
}

// AppendExceptionFor appends the exception response to request frame f.
func AppendExceptionFor(dst []byte, f Frame, code ExceptionCode) []byte {
	return AppendException(dst, f.TransactionID(), f.Unit(), f.Function(), code)
}
