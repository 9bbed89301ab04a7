package events

import (
	"net/netip"
	"strconv"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/zonegate/zonegate/gateway/audit"
)

// AuditSink writes the security aggregates to the audit log, one record
// per key and interval, and allowed writes one record each. Records go
// through audit.Log.Enqueue: they never block and count against the log's
// data-plane share.
type AuditSink struct{ Log *audit.Log }

// Flush implements Sink.
func (s AuditSink) Flush(b *Batch) {
	for i := range b.Aggregates {
		a := &b.Aggregates[i]
		if !a.Sample.Kind.Security() {
			continue
		}
		s.Log.Enqueue(AuditRecord(a, b.End.Sub(b.Start)))
	}
}

// Individual implements Sink: an allowed write, or an opened channel, is
// one record.
func (s AuditSink) Individual(ev *Event, details map[string]string) {
	build := audit.InspectedWrite
	switch ev.Kind {
	case Write:
	case Opened:
		build = audit.InspectedChannelOpened
	default:
		return
	}
	rec := build(audit.InspectedEvent{Protocol: ev.Protocol, Source: ev.Source.String(), Destination: ev.Destination.String(),
		Conduit: ev.Conduit, Monitor: ev.Monitor, Details: details})
	rec.Time = ev.Time
	s.Log.Enqueue(rec)
}

// AuditRecord is the audit record of an aggregate: actor the source,
// object the (sample's) destination, details the count, the first and
// last time, the interval, the ports and a sample.
func AuditRecord(a *Aggregate, interval time.Duration) audit.Record {
	ev := &a.Sample
	cat, act := audit.CategoryInspection, audit.ActionRequestDenied
	switch ev.Kind {
	case Malformed:
		act = audit.ActionMalformedFrame
	case Refused:
		act = audit.ActionConnectionRefused
	case DroppedFlow:
		cat, act = audit.CategoryNetwork, audit.ActionFlowDropped
	case Spoofed:
		cat, act = audit.CategoryNetwork, audit.ActionSpoofedSource
	case Other:
		cat, act = audit.CategoryNetwork, audit.ActionEventsOverflow
	}
	// The key is the source address: the port changes with every
	// connection.
	src, dst := addrText(netip.AddrPortFrom(ev.Source.Addr(), 0)), addrText(ev.Destination)
	d := map[string]string{
		audit.DetailCount:  strconv.FormatUint(a.Count, 10),
		"first":            a.First.UTC().Format(time.RFC3339Nano),
		"last":             a.Last.UTC().Format(time.RFC3339Nano),
		"interval":         interval.Round(time.Millisecond).String(),
		audit.DetailSource: src,
	}
	set := func(k, v string) {
		if v != "" {
			d[k] = v
		}
	}
	set(audit.DetailDestination, dst)
	set(audit.DetailProtocol, ev.Protocol)
	set(audit.DetailConduit, ev.Conduit)
	set("zone", ev.Zone)
	set("interface", ev.Interface)
	set("chain", ev.Chain)
	set(audit.DetailReason, ev.Reason)
	set("sample", ev.Sample.String())
	if ev.Monitor {
		d[audit.DetailMode] = "monitor"
	}
	if a.PortHi != 0 {
		d["ports"] = portSpan(a.PortLo, a.PortHi)
	}
	if a.OtherDestinations > 0 {
		d["other_destinations"] = strconv.FormatUint(a.OtherDestinations, 10)
	}
	result := audit.ResultDenied
	if ev.Monitor {
		result = audit.ResultSuccess
	}
	if ev.Kind == Other {
		// Many keys: the sample's source and destination are one of them.
		d["sample_source"], d["sample_destination"] = src, dst
		delete(d, audit.DetailSource)
		delete(d, audit.DetailDestination)
		src, dst = "zonegate", "events"
	}
	return audit.Record{Time: a.Last, Actor: src, Category: cat, Action: act, Object: dst, Result: result, Details: d}
}

// addrText is "addr:port", or "addr" without a port, "" when invalid.
func addrText(ap netip.AddrPort) string {
	switch {
	case !ap.IsValid():
		return ""
	case ap.Port() == 0:
		return ap.Addr().String()
	}
	return ap.String()
}

// portSpan is "23" or "1-1024".
func portSpan(lo, hi uint16) string {
	if lo == hi {
		return strconv.Itoa(int(lo))
	}
	return strconv.Itoa(int(lo)) + "-" + strconv.Itoa(int(hi))
}

// LogSink writes aggregates to the daemon log: at most Lines lines per
// interval (default 20), then one line "N more suppressed". Individual
// events (allowed writes) share the same allowance.
type LogSink struct {
	Log   *zap.Logger
	Lines int

	used          atomic.Int64 // lines written in this interval by First and Individual
	suppressed    atomic.Uint64
	suppressedAll atomic.Uint64
}

// Suppressed is how many lines were suppressed since the sink was made.
func (s *LogSink) Suppressed() uint64 { return s.suppressedAll.Load() }

func (s *LogSink) lines() int64 {
	if s.Lines <= 0 {
		return 20
	}
	return int64(s.Lines)
}

// Flush implements Sink.
func (s *LogSink) Flush(b *Batch) {
	budget := s.lines() - s.used.Swap(0)
	suppressed := s.suppressed.Swap(0)
	var events uint64
	for i := range b.Aggregates {
		a := &b.Aggregates[i]
		if budget <= 0 {
			suppressed++
			events += a.Count
			continue
		}
		budget--
		ev := &a.Sample
		ce := s.Log.Check(level(ev), message(ev))
		if ce == nil {
			continue
		}
		f := []zap.Field{zap.Uint64("count", a.Count), zap.Time("first", a.First), zap.Time("last", a.Last)}
		f = eventFields(ev, f)
		// The key is the source address; the sample's port is one of many.
		f[3] = zap.String("source", addrText(netip.AddrPortFrom(ev.Source.Addr(), 0)))
		if a.PortHi != 0 {
			f = append(f, zap.String("ports", portSpan(a.PortLo, a.PortHi)))
		}
		ce.Write(f...)
	}
	if suppressed > 0 {
		s.suppressedAll.Add(suppressed)
		s.Log.Warn(strconv.FormatUint(suppressed, 10)+" more suppressed", zap.Uint64("suppressed", suppressed),
			zap.Uint64("events", events), zap.Duration("interval", b.End.Sub(b.Start)))
	}
}

// First implements FirstSink: the first event of a key in an interval is
// logged at once, as one event (source with port, no count); the
// aggregate line with the count follows at the end of the interval.
func (s *LogSink) First(ev *Event) {
	if s.used.Add(1) > s.lines() {
		s.suppressed.Add(1)
		return
	}
	ce := s.Log.Check(level(ev), message(ev))
	if ce == nil {
		return
	}
	ce.Write(eventFields(ev, nil)...)
}

// level is warn for security events, info for monitor-mode denials.
func level(ev *Event) zapcore.Level {
	if ev.Monitor {
		return zapcore.InfoLevel
	}
	return zapcore.WarnLevel
}

// message is "modbus denied", "modbus malformed_frame", "modbus
// upstream_timeout" (the reason names operational events), "tcp
// dropped-flow".
func message(ev *Event) string {
	switch ev.Kind {
	case Malformed, Failure:
		if ev.Reason != "" {
			return ev.Protocol + " " + ev.Reason
		}
	case Refused:
		return ev.Protocol + " connection_refused"
	}
	return ev.Protocol + " " + ev.Kind.String()
}

// eventFields describes one event.
func eventFields(ev *Event, f []zap.Field) []zap.Field {
	f = append(f, zap.String("source", addrText(ev.Source)), zap.String("destination", addrText(ev.Destination)))
	add := func(k, v string) {
		if v != "" {
			f = append(f, zap.String(k, v))
		}
	}
	add("conduit", ev.Conduit)
	add("role", ev.Role)
	add("zone", ev.Zone)
	add("interface", ev.Interface)
	add("chain", ev.Chain)
	add("reason", ev.Reason)
	add("sample", ev.Sample.String())
	if ev.Kind == Denied {
		mode := "enforce"
		if ev.Monitor {
			mode = "monitor"
		}
		add("mode", mode)
	}
	return f
}

// Individual implements Sink.
func (s *LogSink) Individual(ev *Event, details map[string]string) {
	if s.used.Add(1) > s.lines() {
		s.suppressed.Add(1)
		return
	}
	f := []zap.Field{zap.String("source", addrText(ev.Source)), zap.String("destination", addrText(ev.Destination)), zap.String("conduit", ev.Conduit)}
	for k, v := range details {
		f = append(f, zap.String(k, v))
	}
	s.Log.Info(ev.Protocol+" "+ev.Kind.String(), f...)
}
