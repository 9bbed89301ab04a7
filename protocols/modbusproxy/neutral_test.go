package modbusproxy

import (
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zonegate/zonegate/protocols/inspect"
	"github.com/zonegate/zonegate/protocols/modbus"
)

// lastEvent keeps the last event it got, without allocating.
type lastEvent struct{ ev inspect.Event }

func (s *lastEvent) InspectedEvent(ev inspect.Event) { s.ev = ev }

func parsed(t *testing.T, pdu []byte) *modbus.Request {
	t.Helper()
	var req modbus.Request
	require.NoError(t, modbus.ParseRequest(modbus.Frame(adu(1, 1, pdu)), &req))
	return &req
}

// TestWriteValuesCut: an FC 16 write of 123 registers records the first 64
// values and says how many there were.
func TestWriteValuesCut(t *testing.T) {
	vals := make([]uint16, 123)
	for i := range vals {
		vals[i] = uint16(i)
	}
	req := parsed(t, wrRegs(0, vals...))
	out := &lastEvent{}
	neutralSink{out: out}.ModbusEvent(&modbus.Event{Kind: modbus.EventWrite, Unit: 1, Function: 16, Request: req})
	got := out.ev.Details["values"]
	assert.True(t, strings.HasSuffix(got, " (123 values, 64 shown)"), got)
	assert.True(t, strings.HasPrefix(got, "0,1,2,"), got)
	assert.Equal(t, 64, len(strings.Split(strings.TrimSuffix(got, " (123 values, 64 shown)"), ",")))
	assert.Contains(t, got, ","+strconv.Itoa(63)+" (")
	assert.Equal(t, "0-122", out.ev.Details["addresses"])

	// A write that fits has no note.
	out2 := &lastEvent{}
	neutralSink{out: out2}.ModbusEvent(&modbus.Event{Kind: modbus.EventWrite, Unit: 1, Function: 16, Request: parsed(t, wrRegs(0, vals[:64]...))})
	assert.NotContains(t, out2.ev.Details["values"], "shown")
}

// TestDeniedNoAllocs: reporting a denied request through the neutral sink
// does not allocate.
func TestDeniedNoAllocs(t *testing.T) {
	req := parsed(t, pdu(6, 50, 1))
	ev := &modbus.Event{Kind: modbus.EventDenied, Time: time.Now(), Source: netip.MustParseAddrPort("198.18.0.10:50000"),
		Destination: netip.MustParseAddrPort("198.18.1.10:502"), Conduit: "scada-to-plc", Unit: 1, Function: 6, Address: 50, Quantity: 1,
		Reason: modbus.ReasonAddressDenied, Request: req}
	out := &lastEvent{}
	s := neutralSink{out: out}
	allocs := testing.AllocsPerRun(1000, func() { s.ModbusEvent(ev) })
	assert.Zero(t, allocs)
	assert.Equal(t, "unit 1 fc 6 addr 50", out.ev.Summary.String())
}
