package gateway

import (
	"fmt"
	"strconv"

	"github.com/zonegate/zonegate/gateway/audit"
	"github.com/zonegate/zonegate/protocols/modbus"
)

// auditModbusSink records the proxy's allowed writes (device setting
// changes) and denied requests in the audit log without blocking the hot
// path, and passes every event on to another sink (the daemon log).
type auditModbusSink struct {
	log  *audit.Log
	also modbus.EventSink
}

// maxValues bounds the written values copied into one record.
const maxValues = 64

func (s auditModbusSink) ModbusEvent(ev *modbus.Event) {
	if s.also != nil {
		s.also.ModbusEvent(ev)
	}
	var rec audit.Record
	switch ev.Kind {
	case modbus.EventWrite:
		e := s.event(ev)
		if ev.Request != nil {
			e.Addresses = span(ev.Request.WriteAddress, ev.Request.WriteQuantity)
			for _, v := range ev.Request.Values() {
				if len(e.Values) == maxValues {
					break
				}
				e.Values = append(e.Values, v)
			}
		}
		rec = audit.ModbusWrite(e)
	case modbus.EventDenied:
		e := s.event(ev)
		e.Reason = string(ev.Reason)
		rec = audit.ModbusDenied(e)
	default:
		return
	}
	rec.Time = ev.Time
	s.log.Enqueue(rec) // never blocks; a full queue is counted as lost
}

func (s auditModbusSink) event(ev *modbus.Event) audit.ModbusEvent {
	return audit.ModbusEvent{
		Source:      ev.Source.String(),
		Destination: ev.Destination.String(),
		Conduit:     ev.Conduit,
		Unit:        ev.Unit,
		Function:    uint8(ev.Function),
		Addresses:   span(ev.Address, ev.Quantity),
		Monitor:     ev.Mode == modbus.ModeMonitor,
	}
}

func span(first, n uint16) string {
	if n <= 1 {
		return strconv.Itoa(int(first))
	}
	return fmt.Sprintf("%d-%d", first, int(first)+int(n)-1)
}
