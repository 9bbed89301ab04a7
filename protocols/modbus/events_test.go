package modbus

import (
	"errors"
	"net/netip"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

func TestZapSink(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	sink := ZapSink{Log: zap.New(core)}
	var req Request
	noErr(t, ParseRequest(Frame(adu(9, 1, wrRegs(10, 5, 6))), &req))
	base := Event{Source: netip.MustParseAddrPort("198.18.0.5:40000"), Destination: netip.MustParseAddrPort("198.18.1.10:502"),
		Conduit: "scada-to-plc", TransactionID: 9, Unit: 1, Function: FuncWriteMultipleRegisters, Address: 10, Quantity: 2, Request: &req, Frame: req.Frame()}

	write := base
	write.Kind = EventWrite
	sink.ModbusEvent(&write)
	denied := base
	denied.Kind, denied.Reason, denied.Exception = EventDenied, ReasonValueDenied, ExIllegalDataValue
	sink.ModbusEvent(&denied)
	denied.Mode = ModeMonitor
	sink.ModbusEvent(&denied)
	sink.ModbusEvent(&Event{Kind: EventUpstreamUnreachable, Conduit: "c", Err: errors.New("connection refused")})

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

func TestCounters(t *testing.T) {
	var c Counters
	a := c.Conduit("a")
	if c.Conduit("a") != a {
		t.Fatal("Conduit does not return the same counters")
	}
	a.Request(3, VerdictAllowed)
	a.Request(3, VerdictAllowed)
	a.Request(6, VerdictDenied)
	c.Conduit("b").Request(3, VerdictMonitored)
	a.Event(EventDenied)
	a.Event(numEventKinds) // out of range: ignored
	s := c.Snapshot()
	equal(t, []RequestCount{{"a", 3, VerdictAllowed, 2}, {"a", 6, VerdictDenied, 1}, {"b", 3, VerdictMonitored, 1}}, s.Requests)
	equal(t, []EventCount{{"a", EventDenied, 1}}, s.Events)
	equal(t, uint64(2), s.RequestTotal("", VerdictAllowed))
	equal(t, uint64(1), s.RequestTotal("b", VerdictMonitored))
	equal(t, uint64(1), s.EventTotal("a", EventDenied))
}

func TestNames(t *testing.T) {
	equal(t, "gateway_target_failed_to_respond", ExGatewayTargetNoResponse.String())
	equal(t, "exception(99)", ExceptionCode(99).String())
	equal(t, "upstream_timeout", EventUpstreamTimeout.String())
	equal(t, "event(99)", EventKind(99).String())
	equal(t, "monitored", VerdictMonitored.String())
	equal(t, "bad_protocol_id", FrameBadProtocolID.String())
}
