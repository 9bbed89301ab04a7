// Package mbtest builds Modbus/TCP frames and checks results for the tests
// of protocols/modbus and protocols/modbustcp. It imports no zonegate
// package, so the engine's own (in-package) tests can use it too.
package mbtest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"
	"testing"
)

// mbapHeaderLen is the MBAP header: transaction, protocol, length, unit.
const mbapHeaderLen = 7

// PDU builds a PDU from a function code and big-endian 16-bit words.
func PDU(fc byte, words ...uint16) []byte {
	return append([]byte{fc}, BE(words...)...)
}

// Cat concatenates byte slices.
func Cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// BE returns the big-endian bytes of words.
func BE(words ...uint16) []byte {
	var b []byte
	for _, w := range words {
		b = binary.BigEndian.AppendUint16(b, w)
	}
	return b
}

// ADU wraps a PDU into a Modbus/TCP frame.
func ADU(tid uint16, unit uint8, p []byte) []byte {
	b := make([]byte, 0, mbapHeaderLen+len(p))
	b = binary.BigEndian.AppendUint16(b, tid)
	b = append(b, 0, 0)
	b = binary.BigEndian.AppendUint16(b, uint16(len(p)+1))
	b = append(b, unit)
	return append(b, p...)
}

// WriteRegs builds an FC 16 PDU writing values from addr.
func WriteRegs(addr uint16, values ...uint16) []byte {
	return Cat(PDU(16, addr, uint16(len(values))), []byte{byte(2 * len(values))}, BE(values...))
}

// ReadWriteRegs builds an FC 23 PDU.
func ReadWriteRegs(raddr, rqty, waddr uint16, values ...uint16) []byte {
	return Cat(PDU(23, raddr, rqty, waddr, uint16(len(values))), []byte{byte(2 * len(values))}, BE(values...))
}

// WriteCoils builds an FC 15 PDU writing n coils from packed bytes.
func WriteCoils(addr, n uint16, packed ...byte) []byte {
	return Cat(PDU(15, addr, n), []byte{byte(len(packed))}, packed)
}

// Equal fails the test if got and want differ.
func Equal[T any](t testing.TB, want, got T, msg ...any) {
	t.Helper()
	if !reflect.DeepEqual(want, got) {
		t.Errorf("%s: got %#v, want %#v", fmt.Sprint(msg...), got, want)
	}
}

// Must stops the test at once if got and want differ.
func Must[T any](t testing.TB, want, got T, msg ...any) {
	t.Helper()
	if !reflect.DeepEqual(want, got) {
		t.Fatalf("%s: got %#v, want %#v", fmt.Sprint(msg...), got, want)
	}
}

// NoErr stops the test on an error.
func NoErr(t testing.TB, err error, msg ...any) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: unexpected error: %v", fmt.Sprint(msg...), err)
	}
}

// IsErr stops the test unless errors.Is(err, target).
func IsErr(t testing.TB, err, target error, msg ...any) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: got error %v, want %v", fmt.Sprint(msg...), err, target)
	}
}
