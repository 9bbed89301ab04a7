package modbusproxy

import (
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/zonegate/zonegate/protocols/modbus"
)

// pdu builds a PDU from a function code and big-endian 16-bit words.
func pdu(fc byte, words ...uint16) []byte {
	b := []byte{fc}
	for _, w := range words {
		b = binary.BigEndian.AppendUint16(b, w)
	}
	return b
}

// cat concatenates byte slices.
func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// be returns the big-endian bytes of words.
func be(words ...uint16) []byte {
	var b []byte
	for _, w := range words {
		b = binary.BigEndian.AppendUint16(b, w)
	}
	return b
}

// adu wraps a PDU into a Modbus/TCP frame.
func adu(tid uint16, unit uint8, p []byte) []byte {
	b := make([]byte, 0, modbus.MBAPHeaderLen+len(p))
	b = binary.BigEndian.AppendUint16(b, tid)
	b = append(b, 0, 0)
	b = binary.BigEndian.AppendUint16(b, uint16(len(p)+1))
	b = append(b, unit)
	return append(b, p...)
}

// wrRegs builds an FC 16 PDU writing values from addr.
func wrRegs(addr uint16, values ...uint16) []byte {
	return cat(pdu(16, addr, uint16(len(values))), []byte{byte(2 * len(values))}, be(values...))
}

// rwRegs builds an FC 23 PDU.
func rwRegs(raddr, rqty, waddr uint16, values ...uint16) []byte {
	return cat(pdu(23, raddr, rqty, waddr, uint16(len(values))), []byte{byte(2 * len(values))}, be(values...))
}

// wrCoils builds an FC 15 PDU writing n coils from packed bytes.
func wrCoils(addr, n uint16, packed ...byte) []byte {
	return cat(pdu(15, addr, n), []byte{byte(len(packed))}, packed)
}

// equal fails the test if got and want differ.
func equal[T any](t testing.TB, want, got T, msg ...any) {
	t.Helper()
	if !reflect.DeepEqual(want, got) {
		t.Errorf("%s: got %#v, want %#v", fmt.Sprint(msg...), got, want)
	}
}

// must fails the test at once if got and want differ.
func must[T any](t testing.TB, want, got T, msg ...any) {
	t.Helper()
	if !reflect.DeepEqual(want, got) {
		t.Fatalf("%s: got %#v, want %#v", fmt.Sprint(msg...), got, want)
	}
}

// noErr stops the test on an error.
func noErr(t testing.TB, err error, msg ...any) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: unexpected error: %v", fmt.Sprint(msg...), err)
	}
}

// isErr fails the test unless errors.Is(err, target).
func isErr(t testing.TB, err, target error, msg ...any) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: got error %v, want %v", fmt.Sprint(msg...), err, target)
	}
}

func rng(lo, hi uint16) *modbus.Range { return &modbus.Range{Lo: lo, Hi: hi} }
