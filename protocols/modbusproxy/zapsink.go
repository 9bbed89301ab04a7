package modbusproxy

import (
	"encoding/hex"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/zonegate/zonegate/protocols/modbus"
)

// ZapSink writes events as structured zap log entries: denials at warn
// level (info in monitor mode), writes at info, malfunctions at warn.
type ZapSink struct {
	Log *zap.Logger
}

// ModbusEvent implements EventSink.
func (s ZapSink) ModbusEvent(ev *modbus.Event) {
	if s.Log == nil {
		return
	}
	fields := make([]zap.Field, 0, 16)
	fields = append(fields,
		zap.String("kind", ev.Kind.String()),
		zap.String("conduit", ev.Conduit),
		zap.Stringer("source", ev.Source),
		zap.Stringer("destination", ev.Destination),
	)
	if ev.Function != 0 {
		fields = append(fields,
			zap.Uint8("unit", ev.Unit),
			zap.Uint8("function", uint8(ev.Function)),
			zap.Uint16("transaction_id", ev.TransactionID),
		)
	}
	if ev.Request != nil && ev.Request.Table() != 0 {
		fields = append(fields, zap.Uint16("address", ev.Address), zap.Uint16("quantity", ev.Quantity))
	}
	if ev.Reason != "" {
		fields = append(fields, zap.String("reason", string(ev.Reason)))
	}
	if ev.Exception != 0 {
		fields = append(fields, zap.Stringer("exception", ev.Exception))
	}
	if ev.Kind == modbus.EventDenied || ev.Kind == modbus.EventWrite {
		fields = append(fields, zap.Stringer("mode", ev.Mode))
	}
	if ev.Kind == modbus.EventWrite && ev.Request != nil {
		fields = append(fields, writeFields(ev.Request)...)
	}
	if ev.Frame != nil && ev.Kind != modbus.EventWrite {
		fields = append(fields, zap.String("frame", hex.EncodeToString(ev.Frame)))
	}
	if ev.Err != nil {
		fields = append(fields, zap.Error(ev.Err))
	}
	lvl := zapcore.WarnLevel
	switch {
	case ev.Kind == modbus.EventWrite, ev.Kind == modbus.EventDenied && ev.Mode == modbus.ModeMonitor:
		lvl = zapcore.InfoLevel
	}
	if ce := s.Log.Check(lvl, "modbus "+ev.Kind.String()); ce != nil {
		ce.Write(fields...)
	}
}

// writeFields describes what a write request writes.
func writeFields(r *modbus.Request) []zap.Field {
	f := []zap.Field{zap.Uint16("write_address", r.WriteAddress), zap.Uint16("write_quantity", r.WriteQuantity)}
	switch {
	case r.WritesRegisters() || r.WritesCoils():
		vals := make([]uint16, 0, r.WriteQuantity)
		for _, v := range r.Values() {
			vals = append(vals, v)
		}
		f = append(f, zap.Uint16s("values", vals))
	case r.Function == modbus.FuncMaskWriteRegister:
		f = append(f, zap.Uint16("and_mask", r.AndMask), zap.Uint16("or_mask", r.OrMask))
	default:
		f = append(f, zap.String("pdu", hex.EncodeToString(r.Frame().PDU())))
	}
	return f
}
