// Package opcuatcp is OPC UA (UA TCP and UA Secure Conversation) on the
// proxy engine (protocols/proxy): the codec that frames both streams with
// the pure engine of package opcua (a request's chunks are one frame, the
// server's pass chunk by chunk), decides each client message under the
// conduit's policy, pairs the server's ACK and OPN answers with the
// handshake requests they answer (in order, within a handshake timeout)
// and passes every other server chunk as it comes, and answers in the
// server's place with an ERR message that carries the OPC UA status code
// and closes the connection; and the Inspector the daemon registers for
// `inspect: opcua`.
//
// OPC UA frames are signed: the engine forwards them unchanged (KeySpace
// 0), and since a secure channel and its sessions live on one TCP
// connection, the client connection is bound to its device connection
// (Framing.BoundDevice): when one closes, the other does.
package opcuatcp

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"time"

	"golang.org/x/crypto/cryptobyte"
	casn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/zonegate/zonegate/protocols/inspect"
	"github.com/zonegate/zonegate/protocols/opcua"
	"github.com/zonegate/zonegate/protocols/proxy"
)

// Codec is the OPC UA codec of the proxy engine.
type Codec struct{}

var _ proxy.Codec = Codec{}

// Protocol implements proxy.Codec.
func (Codec) Protocol() inspect.Protocol { return opcua.Info }

// Framing implements proxy.Codec: a request frame is a whole message (up
// to the largest max_message_size a conduit may set), server chunks pass
// one by one; frames are signed, so keys are the client's and frames
// reach the server unchanged; the conversation is bound to its server
// connection.
func (Codec) Framing() proxy.Framing {
	return proxy.Framing{MaxRequest: opcua.MaxFrameLen, MaxAnswer: opcua.MaxMessageSizeCap, KeySpace: 0, BoundDevice: true}
}

// NewSession implements proxy.Codec.
func (Codec) NewSession(proxy.Route) proxy.Session { return &session{} }

// CheckPolicy implements proxy.Codec: a policy is an *opcua.Policy.
func (Codec) CheckPolicy(p proxy.Policy) error {
	if op, ok := p.(*opcua.Policy); !ok || op == nil {
		return fmt.Errorf("%T is not an *opcua.Policy from opcuatcp.Inspector.Compile", p)
	}
	return nil
}

// The record of a message (proxy.Record).
const (
	recReason  = 0
	recType    = 1
	recService = 2
	recPolicy  = 3
	recReqID   = 4 // 4 bytes
	recFlags   = 8
	flagCrypt  = 1 // the body is encrypted
)

// AppendAnswer implements proxy.Codec: an ERR message, after which the
// connection closes (OPC UA has no answer a gateway could send in a
// signed channel's place).
func (Codec) AppendAnswer(dst []byte, rec *proxy.Record, why proxy.Answer) ([]byte, bool) {
	switch why {
	case proxy.AnswerNoResponse:
		return opcua.AppendError(dst, opcua.BadTimeout, "zonegate: the server did not answer in time"), false
	case proxy.AnswerBusy:
		return opcua.AppendError(dst, opcua.BadTcpServerTooBusy, "zonegate: too many requests outstanding"), false
	case proxy.AnswerUnreachable:
		return opcua.AppendError(dst, opcua.BadNotConnected, "zonegate: the server cannot be reached"), false
	}
	r := opcua.Reason(rec[recReason])
	return opcua.AppendError(dst, r.Status(), r.Text()), false
}

// SetKey implements proxy.Codec; never called (KeySpace 0).
func (Codec) SetKey([]byte, uint32) {}

// Describe implements proxy.Codec: "MSG Write", "OPN Basic256Sha256
// cert 3fa2c1d4e5f60718", "HEL"; a Write or Call event's Data is what it
// writes or calls, an Opened event's the channel's policy, certificate
// fingerprint and subject.
func (Codec) Describe(ev *inspect.Event, rec *proxy.Record, frame []byte) {
	typ := opcua.MessageType(rec[recType])
	pol := opcua.SecurityPolicy(rec[recPolicy])
	ev.Summary.Add(typ.String())
	switch {
	case typ == opcua.MsgMSG && rec[recFlags]&flagCrypt != 0:
		ev.Summary.Add(" encrypted")
	case typ == opcua.MsgMSG && rec[recService] != 0:
		ev.Summary.Add(" ").Add(opcua.Service(rec[recService]).String())
	case typ == opcua.MsgOPN && pol != opcua.PolicyUnknown:
		ev.Summary.Add(" ").Add(pol.String())
	}
	switch ev.Kind {
	case inspect.Write:
		ev.Data[0] = dataWrite
		ev.DataLen = 1 + uint16(len(opcua.AppendSummary(ev.Data[1:1:len(ev.Data)], frame, pol)))
		return
	case inspect.Opened:
		_, cert, _ := opcua.OpenInfo(frame)
		leaf := leafDER(cert)
		fp := sha256.Sum256(leaf)
		ev.Data[0], ev.Data[1] = dataOpened, byte(pol)
		copy(ev.Data[2:34], fp[:])
		ev.DataLen = 34 + uint16(copy(ev.Data[34:], subjectDER(leaf)))
		return
	}
	if typ == opcua.MsgOPN && frame != nil {
		if _, cert, ok := opcua.OpenInfo(frame); ok && len(cert) > 0 {
			fp := sha256.Sum256(leafDER(cert))
			var hexfp [16]byte
			const digits = "0123456789abcdef"
			for i, b := range fp[:8] {
				hexfp[2*i], hexfp[2*i+1] = digits[b>>4], digits[b&15]
			}
			ev.Summary.Add(" cert ").AddBytes(hexfp[:])
		}
	}
}

// Kinds of event Data.
const (
	dataWrite  = 'W'
	dataOpened = 'O'
)

// leafDER is the first DER element of a certificate chain (all of it when
// it does not parse).
func leafDER(chain []byte) []byte {
	s := cryptobyte.String(chain)
	var leaf cryptobyte.String
	if s.ReadASN1Element(&leaf, casn1.SEQUENCE) {
		return leaf
	}
	return chain
}

// subjectDER finds the subject Name of a DER certificate without parsing
// the rest: TBSCertificate's version, serial number, signature algorithm,
// issuer and validity come before it.
func subjectDER(cert []byte) []byte {
	s := cryptobyte.String(cert)
	var c, tbs, subject cryptobyte.String
	if !s.ReadASN1(&c, casn1.SEQUENCE) || !c.ReadASN1(&tbs, casn1.SEQUENCE) {
		return nil
	}
	if !tbs.SkipOptionalASN1(casn1.Tag(0).Constructed().ContextSpecific()) ||
		!tbs.SkipASN1(casn1.INTEGER) || !tbs.SkipASN1(casn1.SEQUENCE) || !tbs.SkipASN1(casn1.SEQUENCE) ||
		!tbs.SkipASN1(casn1.SEQUENCE) || !tbs.ReadASN1Element(&subject, casn1.SEQUENCE) {
		return nil
	}
	return subject
}

// session is the state of one client connection.
type session struct {
	conv opcua.Conversation
	d    opcua.Decision
}

// SplitRequest implements proxy.Session.
func (s *session) SplitRequest(b []byte) (int, error) { return s.conv.SplitClient(b) }

// SplitAnswer implements proxy.Session.
func (s *session) SplitAnswer(b []byte) (int, error) { return s.conv.SplitServer(b) }

// Request implements proxy.Session.
func (s *session) Request(frame []byte, pol proxy.Policy, now time.Time, v *proxy.Verdict) {
	p, _ := pol.(*opcua.Policy)
	d := &s.d
	s.conv.Client(frame, p, now, d)
	rec := &v.Record
	rec[recReason], rec[recType], rec[recService], rec[recPolicy] = byte(d.Reason), byte(d.Type), byte(d.Service), byte(d.Policy)
	binary.LittleEndian.PutUint32(rec[recReqID:], d.RequestID)
	if d.Encrypted {
		rec[recFlags] |= flagCrypt
	}
	v.Op, v.Reason = d.Op(), d.Reason.String()
	if !d.Forward {
		v.Action, v.Malformed = proxy.Close, d.Reason.Violation()
		return
	}
	v.Action, v.Monitor, v.Write, v.Opened = proxy.Forward, d.Monitor, d.Write, d.Opened
	switch {
	case d.Handshake:
		v.Pairing, v.Timeout = proxy.InOrder, d.Timeout
	case d.NoAnswer:
		v.Pairing = proxy.NoAnswer
	default:
		v.Pairing = proxy.Unpaired
	}
}

// Answer implements proxy.Session.
func (s *session) Answer(frame []byte) proxy.Reply {
	kind, r := s.conv.Server(frame)
	switch kind {
	case opcua.ServerHandshake:
		return proxy.Reply{Kind: proxy.AnswerInOrder}
	case opcua.ServerDrop:
		return proxy.Reply{Kind: proxy.Drop, Reason: r.String()}
	}
	return proxy.Reply{Kind: proxy.Pass}
}

// Match implements proxy.Session: HEL is answered by ACK or ERR, OPN by
// OPN or ERR.
func (s *session) Match(frame []byte, rec *proxy.Record) bool {
	t := opcua.MessageType(0)
	if len(frame) >= opcua.HeaderLen {
		t = opcua.ParseType(frame)
	}
	switch opcua.MessageType(rec[recType]) {
	case opcua.MsgHEL:
		return t == opcua.MsgACK || t == opcua.MsgERR
	case opcua.MsgOPN:
		return t == opcua.MsgOPN || t == opcua.MsgERR
	}
	return false
}

// OpName implements proxy.OpNamer: the service of a counter, or HEL, OPN,
// CLO, encrypted.
func (Codec) OpName(op uint8) string { return opcua.OpName(op) }
