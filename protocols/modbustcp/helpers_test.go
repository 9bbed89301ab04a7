package modbustcp

import (
	"testing"
	"time"

	"github.com/zonegate/zonegate/protocols/internal/mbtest"
	"github.com/zonegate/zonegate/protocols/modbus"
)

// Frame builders and checks shared with the other package's tests
// (protocols/internal/mbtest).
var (
	pdu    = mbtest.PDU
	cat    = mbtest.Cat
	be     = mbtest.BE
	adu    = mbtest.ADU
	wrRegs = mbtest.WriteRegs
	noErr  = mbtest.NoErr
	isErr  = mbtest.IsErr
)

func equal[T any](t testing.TB, want, got T, msg ...any) {
	t.Helper()
	mbtest.Equal(t, want, got, msg...)
}

func must[T any](t testing.TB, want, got T, msg ...any) {
	t.Helper()
	mbtest.Must(t, want, got, msg...)
}

func rng(lo, hi uint16) *modbus.Range { return &modbus.Range{Lo: lo, Hi: hi} }

// testNow is the clock of the codec's unit tests.
var testNow = time.Unix(1000, 0)
