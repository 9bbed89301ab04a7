package proxy

import (
	"time"

	"github.com/zonegate/zonegate/protocols/inspect"
)

// Codec is one protocol as the engine carries it: how its byte streams
// split into frames, what a request's verdict is under a conduit's
// policy, how an answer pairs with its request, and what the engine
// answers in the device's place. One Codec value serves every connection
// of a proxy; the state of one client connection is its Session.
//
// The engine calls the Codec and its Sessions from its event loops: no
// method may block, take a lock other goroutines hold for long, log, or
// allocate per frame (NewSession and Details may allocate; they run off
// the per-request path).
type Codec interface {
	// Protocol names the protocol in events and counters.
	Protocol() inspect.Protocol
	// Framing gives the frame size limits and whether the engine may
	// renumber pairing keys.
	Framing() Framing
	// NewSession returns the state of a client connection admitted on
	// route r (r.Identity says who a front end proved the client to be).
	// It is called once per connection, off the event loops.
	NewSession(r Route) Session
	// CheckPolicy reports whether p is a policy of this codec (from its
	// Inspector's Compile); Install refuses any other.
	CheckPolicy(p Policy) error
	// AppendAnswer appends to dst the frame the engine sends the client
	// in the device's place for the request rec describes, and returns
	// it. keep is false when the protocol has no such answer (or it ends
	// the conversation): the engine then closes the client connection
	// after sending what was appended.
	AppendAnswer(dst []byte, rec *Record, why Answer) (out []byte, keep bool)
	// SetKey writes key into the pairing field of a request or answer
	// frame (in the engine's copy). It is called only when
	// Framing.KeySpace > 0.
	SetKey(frame []byte, key uint32)
	// Describe fills the event's Summary (a few words about the request)
	// from rec, and for a Write or Opened event its Data from the
	// request frame.
	Describe(ev *inspect.Event, rec *Record, frame []byte)
	// Details turns a Write or Opened event's Data into audit details.
	// It runs on the event pipeline's goroutine (inspect.Feed.Drain) and
	// may allocate.
	Details(ev *inspect.Event) map[string]string
}

// Framing is a protocol's framing limits.
type Framing struct {
	// MaxRequest and MaxAnswer are the largest frames, in bytes, from
	// the client and from the device; a connection's buffers grow up to
	// them as frames need. Sessions may refuse smaller frames (a limit
	// negotiated in a handshake).
	MaxRequest, MaxAnswer int
	// KeySpace is the number of pairing keys the engine may give
	// requests on a device connection (Modbus/TCP: 65536 transaction
	// ids). The engine then renumbers every keyed request (SetKey), so
	// that a late answer is never taken for another request's and
	// clients can come to share a device connection; the sessions'
	// SplitAnswer, Answer and Match must then not depend on which
	// client's session they are (the device's frames are read before
	// they are known to be an answer for a client). 0: frames must reach
	// the device unchanged (their keys are signed); keys are the
	// client's, and a device connection serves one client.
	KeySpace uint32
	// BoundDevice: the conversation lives on its device connection (an
	// OPC UA secure channel and its sessions belong to one TCP
	// connection). When the device connection closes, for any reason,
	// the client connection closes too, after the answers already due,
	// instead of a later request dialling the device again; a failed
	// dial closes it after the codec's AnswerUnreachable.
	BoundDevice bool
}

// Session is the protocol state of one client connection: its handshake
// phase, its parsed request, its rate limit. The engine uses it from the
// connection's event loop only.
type Session interface {
	// SplitRequest looks at the start of the client's byte stream and
	// returns the length of the frame that starts there: 0 when it needs
	// more bytes to tell, a length above len(b) when the frame is not
	// complete yet. An error means the stream is not this protocol (or
	// breaks a limit): the engine closes the connection with a reset and
	// reports a malformed frame, with the error's text as the sample.
	SplitRequest(b []byte) (int, error)
	// SplitAnswer is SplitRequest for the device's byte stream; an error
	// closes the device connection.
	SplitAnswer(b []byte) (int, error)
	// Request decides what happens to one complete client frame under
	// the conduit's live policy pol (nil: the conduit has none any more;
	// deny everything) at time now, and fills v (zeroed by the engine).
	Request(frame []byte, pol Policy, now time.Time, v *Verdict)
	// Answer classifies one complete device frame: an answer paired by
	// key or by order, a frame that passes to the client as it is, or
	// one that must not reach the client.
	Answer(frame []byte) Reply
	// Match reports whether an answer belongs to the request rec
	// describes, once the engine has paired them (Modbus: same unit and
	// function). A mismatch is a desynchronised device stream: the
	// engine closes the device connection.
	Match(frame []byte, rec *Record) bool
}

// AnswerChecker is implemented by a Session whose protocol can tell a
// well-formed answer from a bad one once it is paired (Modbus: a byte
// count that fits the request's quantity, a write's echo). CheckAnswer
// returns "" for a good answer, or the reason (a static string) of a bad
// one: the engine answers that request with AnswerNoResponse, reports one
// Failure event under the reason, and closes the device connection as
// desynchronised (its other waiting requests are answered at once).
type AnswerChecker interface {
	CheckAnswer(frame []byte, rec *Record) string
}

// OpNamer is implemented by a codec whose request types have names (OPC
// UA: the services): the counters carry them (inspect.RequestCount.Name).
type OpNamer interface {
	OpName(op uint8) string
}

// Verdict is what a Session decides for one request.
type Verdict struct {
	// Action is what the engine does with the request.
	Action Action
	// Reason says why the request is refused, or would be in monitor
	// mode ("" when it is allowed). It is one short static string: the
	// metric label, the event key and the audit detail.
	Reason string
	// Monitor: the policy only monitors; Reason is reported and the
	// request is forwarded (Action Forward).
	Monitor bool
	// Write marks a forwarded request that changes the device: reported
	// as a Write event (a device setting change for the audit log).
	Write bool
	// Opened marks a forwarded request that opens an authenticated
	// channel (an OPC UA OPN with a client certificate): reported as an
	// Opened event, recorded one by one with the credentials Describe
	// puts in its Data.
	Opened bool
	// Malformed: Reason is a violation of the protocol (a malformed or
	// out-of-place frame), reported as a malformed frame rather than a
	// denied request. With Close the codec's AnswerDeny (an error
	// message such as OPC UA's ERR) still goes first.
	Malformed bool
	// Op is the request type the counters count it under (Modbus: the
	// function code).
	Op uint8
	// Pairing says how the answer to a forwarded request is found.
	Pairing Pairing
	// Key is the client's pairing key of a request paired ByKey
	// (Modbus: the transaction id).
	Key uint32
	// Timeout is the device's time to answer a paired request; 0: the
	// proxy's default (Config.ResponseTimeout).
	Timeout time.Duration
	// Record is what the engine keeps for the codec: while a request is
	// outstanding, and for the answer of a refused one.
	Record Record
}

// Action is what the engine does with a request.
type Action uint8

// Actions.
const (
	// Forward sends the request to the device.
	Forward Action = iota
	// Refuse answers the request in the device's place
	// (AppendAnswer with AnswerDeny); the connection stays open.
	Refuse
	// Close sends the AnswerDeny frame (a protocol error message, such
	// as an OPC UA ERR), then closes the connection.
	Close
	// Reset resets the connection (TCP RST) without an answer.
	Reset
)

// Pairing says how the engine finds the answer to a forwarded request.
type Pairing uint8

// Pairings.
const (
	// ByKey: the answer carries the request's Key (ReplyKind AnswerByKey).
	ByKey Pairing = iota
	// InOrder: answers come in the order of the requests (ReplyKind
	// AnswerInOrder), for protocols without ids and for handshakes.
	InOrder
	// NoAnswer: the device sends no answer.
	NoAnswer
	// Unpaired: the answer cannot be told (its ids are encrypted); the
	// device's frames pass to the client as ReplyKind Pass, with no
	// per-request deadline.
	Unpaired
)

// Reply is how a Session classifies a device frame.
type Reply struct {
	Kind ReplyKind
	// Key is the pairing key of a ByKey answer, as it came from the
	// device.
	Key uint32
	// Reason says why a Drop frame is refused (a static string).
	Reason string
}

// ReplyKind classifies a device frame.
type ReplyKind uint8

// Kinds of device frames.
const (
	// AnswerByKey pairs with the outstanding request of Reply.Key.
	AnswerByKey ReplyKind = iota
	// AnswerInOrder pairs with the oldest outstanding InOrder request.
	AnswerInOrder
	// Pass goes to the client as it is: not an answer (an OPC UA ERR from
	// the server, answers of Unpaired requests).
	Pass
	// Drop must not reach the client: the engine closes the device
	// connection as a protocol error (Reply.Reason).
	Drop
)

// Answer is why the engine answers a request in the device's place.
type Answer uint8

// Answers.
const (
	// AnswerDeny: the policy refused the request (Modbus: the exception
	// code in the record).
	AnswerDeny Answer = iota
	// AnswerNoResponse: the device did not answer in time, closed its
	// connection or lost its framing (Modbus: exception 0x0B).
	AnswerNoResponse
	// AnswerBusy: the engine cannot take the request now (Modbus: 0x06).
	AnswerBusy
	// AnswerUnreachable: the device cannot be connected (Modbus: 0x0A).
	AnswerUnreachable
)

// RecordLen is the size of a Record.
const RecordLen = 16

// Record is the codec's own description of a request, kept by the engine
// while the request is outstanding: fixed size, no pointers, so keeping
// it costs no allocation (Modbus: transaction id, unit, function,
// address, quantity, exception code).
type Record [RecordLen]byte
