// Package modbustcp is Modbus/TCP on the proxy engine (protocols/proxy):
// the codec that frames MBAP streams, evaluates each request with the
// pure engine of package modbus under the conduit's policy, pairs answers
// by transaction id (checked against unit and function), renumbers
// transaction ids on the device connection and answers in the device's
// place with exceptions (01/02/03/06 for denials, 0x0B when the device
// gives no usable answer, 0x0A when it cannot be reached); and the
// Inspector that package protocols/registry lists for `inspect: modbus`
// (with modbusrules.Protocol, whose name, title and port it returns).
//
// Everything protocol-neutral (accepting, admission limits, event loops,
// device connections, deadlines, events) is the engine's; this package
// links no socket code of its own.
package modbustcp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/zonegate/zonegate/protocols/inspect"
	"github.com/zonegate/zonegate/protocols/modbus"
	"github.com/zonegate/zonegate/protocols/modbus/modbusrules"
	"github.com/zonegate/zonegate/protocols/proxy"
)

// Codec is the Modbus/TCP codec of the proxy engine.
type Codec struct{}

var _ proxy.Codec = Codec{}

// Protocol implements proxy.Codec.
func (Codec) Protocol() inspect.Protocol { return modbusrules.Protocol.Protocol }

// Framing implements proxy.Codec: frames of at most 260 bytes both ways,
// 65536 transaction ids per device connection.
func (Codec) Framing() proxy.Framing {
	return proxy.Framing{MaxRequest: modbus.MaxFrameLen, MaxAnswer: modbus.MaxFrameLen, KeySpace: 1 << 16}
}

// NewSession implements proxy.Codec.
func (Codec) NewSession(r proxy.Route) proxy.Session {
	return &session{role: r.Identity.Role, secure: r.Identity.Fingerprint != ""}
}

// CheckPolicy implements proxy.Codec: a policy is a *modbus.Policy.
func (Codec) CheckPolicy(p proxy.Policy) error {
	switch mp := p.(type) {
	case *modbus.Policy:
		if mp != nil {
			return nil
		}
	case *SecurePolicy:
		if mp != nil && mp.Plain != nil {
			return nil
		}
	}
	return fmt.Errorf("%T is not a *modbus.Policy or *modbustcp.SecurePolicy from modbustcp.Inspector.Compile", p)
}

// The record of a request (proxy.Record): what the answers, the pairing
// check and the event summary need.
const (
	recTID      = 0 // 2 bytes: the client's transaction id
	recUnit     = 2
	recFunction = 3
	recAddress  = 4 // 2 bytes
	recQuantity = 6 // 2 bytes
	recCode     = 8 // exception of a denial
	recFlags    = 9
	recEcho     = 10 // 6 bytes: the request's PDU after the function code (what a write's answer echoes)
	flagTable   = 1  // the request parsed and addresses a table: address and quantity are set
	flagValid   = 2  // the request parsed: the answer checks apply
)

// AppendAnswer implements proxy.Codec: an exception response with the
// client's transaction id, unit and function.
func (Codec) AppendAnswer(dst []byte, rec *proxy.Record, why proxy.Answer) ([]byte, bool) {
	code := modbus.ExceptionCode(rec[recCode])
	switch why {
	case proxy.AnswerNoResponse:
		code = modbus.ExGatewayTargetNoResponse
	case proxy.AnswerBusy:
		code = modbus.ExServerDeviceBusy
	case proxy.AnswerUnreachable:
		code = modbus.ExGatewayPathUnavailable
	}
	return modbus.AppendException(dst, binary.BigEndian.Uint16(rec[recTID:]), rec[recUnit], modbus.FunctionCode(rec[recFunction]), code), true
}

// SetKey implements proxy.Codec: the transaction id.
func (Codec) SetKey(frame []byte, key uint32) { modbus.Frame(frame).SetTransactionID(uint16(key)) }

// Describe implements proxy.Codec: "unit 1 fc 16 addr 10-11"; a write's
// Data is its unit and PDU.
func (Codec) Describe(ev *inspect.Event, rec *proxy.Record, frame []byte) {
	if fc := rec[recFunction]; fc != 0 {
		ev.Summary.Add("unit ").Uint(uint64(rec[recUnit])).Add(" fc ").Uint(uint64(fc))
		if rec[recFlags]&flagTable != 0 {
			addr, qty := binary.BigEndian.Uint16(rec[recAddress:]), binary.BigEndian.Uint16(rec[recQuantity:])
			ev.Summary.Add(" addr ").Uint(uint64(addr))
			if qty > 1 {
				ev.Summary.Add("-").Uint(uint64(addr) + uint64(qty) - 1)
			}
		}
	}
	if ev.Kind == inspect.Write && len(frame) >= modbus.MinFrameLen {
		f := modbus.Frame(frame)
		ev.Data[0] = f.Unit()
		ev.DataLen = 1 + uint16(copy(ev.Data[1:], f.PDU()))
	}
}

// session is the state of one client connection: the request being
// evaluated and the connection's rate limit.
type session struct {
	req    modbus.Request
	lim    modbus.RateLimiter
	role   string // from a TLS front end (Modbus/TCP Security)
	secure bool   // the client came through the TLS front end (a certificate, with or without role)
}

// Framing errors (static: reporting them does not allocate).
var frameErrors = [...]error{
	modbus.FrameBadProtocolID: errors.New("MBAP protocol identifier is not 0"),
	modbus.FrameTooShort:      errors.New("MBAP length field below 2 (no function code)"),
	modbus.FrameTooLong:       errors.New("MBAP length field above 254 (frame over 260 bytes)"),
}

func split(b []byte) (int, error) {
	n, kind := modbus.FrameLength(b)
	if kind != 0 {
		return 0, frameErrors[kind]
	}
	return n, nil
}

// SplitRequest implements proxy.Session.
func (s *session) SplitRequest(b []byte) (int, error) { return split(b) }

// SplitAnswer implements proxy.Session.
func (s *session) SplitAnswer(b []byte) (int, error) { return split(b) }

// Request implements proxy.Session: sanity checks, rate limit and policy
// (modbus.Policy.Evaluate); an allowed or monitored request is forwarded
// and paired by transaction id, a denied one answered with its exception
// or, with `on_deny: reset`, reset.
func (s *session) Request(frame []byte, pol proxy.Policy, now time.Time, v *proxy.Verdict) {
	var p *modbus.Policy
	switch pp := pol.(type) {
	case *modbus.Policy:
		p = pp
	case *SecurePolicy:
		p = pp.For(s.secure, s.role)
	}
	if p == nil {
		p = modbus.DenyAll()
	}
	f := modbus.Frame(frame)
	d := p.Evaluate(f, &s.req, &s.lim, now)
	rec := &v.Record
	binary.BigEndian.PutUint16(rec[recTID:], f.TransactionID())
	rec[recUnit], rec[recFunction], rec[recCode] = f.Unit(), byte(f.Function()), byte(d.Exception)
	if s.req.Valid() && s.req.Table() != 0 {
		binary.BigEndian.PutUint16(rec[recAddress:], s.req.Address)
		binary.BigEndian.PutUint16(rec[recQuantity:], s.req.Quantity)
		rec[recFlags] |= flagTable
	}
	if s.req.Valid() {
		rec[recFlags] |= flagValid
		copy(rec[recEcho:], f.PDU()[1:])
	}
	v.Op, v.Key, v.Pairing = byte(f.Function()), uint32(f.TransactionID()), proxy.ByKey
	v.Monitor = p.Mode() == modbus.ModeMonitor
	if !d.Allowed {
		v.Reason = string(d.Reason)
	}
	switch {
	case d.Forward():
		v.Action, v.Timeout = proxy.Forward, p.ResponseTimeout()
		v.Write = s.req.Valid() && s.req.IsWrite()
	case p.OnDeny() == modbus.DenyReset:
		v.Action = proxy.Reset
	default:
		v.Action = proxy.Refuse
	}
}

// Answer implements proxy.Session: every device frame is an answer paired
// by its transaction id.
func (s *session) Answer(frame []byte) proxy.Reply {
	return proxy.Reply{Kind: proxy.AnswerByKey, Key: uint32(modbus.Frame(frame).TransactionID())}
}

// Match implements proxy.Session: the answer is from the request's unit,
// for its function (or an exception to it).
func (s *session) Match(frame []byte, rec *proxy.Record) bool {
	f := modbus.Frame(frame)
	fc := byte(f.Function())
	return f.Unit() == rec[recUnit] && (fc == rec[recFunction] || fc == rec[recFunction]|0x80)
}

// DeviceSettings implements proxy.DeviceConfigurer: a conduit's
// max_device_connections, max_in_flight, device_idle_timeout and
// redial_after_timeouts and frame_timeout.
func (Codec) DeviceSettings(p proxy.Policy) proxy.DeviceSettings {
	mp, _ := p.(*modbus.Policy)
	if mp == nil {
		return proxy.DeviceSettings{}
	}
	conns, inFlight, idle, redial := mp.Device()
	return proxy.DeviceSettings{MaxConns: conns, MaxInFlight: inFlight, IdleTimeout: idle, RedialAfter: redial,
		FrameTimeout: mp.FrameTimeout()}
}
