package modbusproxy

import (
	"errors"
	"net/netip"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/zonegate/zonegate/protocols/modbus"
)

func TestZapSink(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	sink := ZapSink{Log: zap.New(core)}
	var req modbus.Request
	noErr(t, modbus.ParseRequest(modbus.Frame(adu(9, 1, wrRegs(10, 5, 6))), &req))
	base := modbus.Event{Source: netip.MustParseAddrPort("198.18.0.5:40000"), Destination: netip.MustParseAddrPort("198.18.1.10:502"),
		Conduit: "scada-to-plc", TransactionID: 9, Unit: 1, Function: modbus.FuncWriteMultipleRegisters, Address: 10, Quantity: 2, Request: &req, Frame: req.Frame()}

	write := base
	write.Kind = modbus.EventWrite
	sink.ModbusEvent(&write)
	denied := base
	denied.Kind, denied.Reason, denied.Exception = modbus.EventDenied, modbus.ReasonValueDenied, modbus.ExIllegalDataValue
	sink.ModbusEvent(&denied)
	denied.Mode = modbus.ModeMonitor
	sink.ModbusEvent(&denied)
	sink.ModbusEvent(&modbus.Event{Kind: modbus.EventUpstreamUnreachable, Conduit: "c", Err: errors.New("connection refused")})

	entries := logs.AllUntimed()
	must(t, 4, len(entries))
	w := entries[0].ContextMap()
	equal(t, "modbus write", entries[0].Message)
	equal(t, zapcore.InfoLevel, entries[0].Level)
	equal[any](t, "scada-to-plc", w["conduit"])
	equal[any](t, "198.18.0.5:40000", w["source"])
	equal[any](t, "198.18.1.10:502", w["destination"])
	equal[any](t, uint16(10), w["write_address"])
	equal(t, []interface{}{uint16(5), uint16(6)}, toIfaces(w["values"]))
	d := entries[1].ContextMap()
	equal(t, zapcore.WarnLevel, entries[1].Level)
	equal[any](t, "value_not_allowed", d["reason"])
	equal[any](t, "illegal_data_value", d["exception"])
	equal[any](t, "enforce", d["mode"])
	equal(t, zapcore.InfoLevel, entries[2].Level)
	equal[any](t, "monitor", entries[2].ContextMap()["mode"])
	equal[any](t, "connection refused", entries[3].ContextMap()["error"])

	// A nil logger is a no-op.
	ZapSink{}.ModbusEvent(&write)
}

func toIfaces(v any) []interface{} {
	var out []interface{}
	switch s := v.(type) {
	case []uint16:
		for _, x := range s {
			out = append(out, x)
		}
	case []interface{}:
		return s
	}
	return out
}
