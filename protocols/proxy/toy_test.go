package proxy

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zonegate/zonegate/protocols/inspect"
)

// The engine's tests run a toy protocol, so that they need no Modbus: a
// frame is a 2-byte big-endian length and that many bytes of body, whose
// first byte is a command. A client must say hello ('H') first (a
// handshake phase, answered in order); then:
//
//	'R' read: forwarded, answered in order ('a')
//	'W' write: as 'R', reported as a write
//	'K' key: forwarded, paired by the key in body[1] ('k' key)
//	'S' slow: as 'R' with a response timeout of body[1] milliseconds
//	'Q' quit-on-timeout: as 'R', but the engine's timeout answer ends the conversation
//	'M' monitored: refused by the policy, forwarded because it only monitors
//	'N' no answer: forwarded, the device does not answer
//	'U' unpaired: forwarded, the device's answers pass as they come ('p')
//	'D' denied: refused, answered 'E' 'D'
//	'C' closed: answered 'E' 'C', then the connection is closed
//	'Z' reset
//	'I' identity: refused with the connection's role as the reason
//	'O' opened: forwarded as 'R', reported as an opened channel
//	'X' violation: closed like 'C', reported as a malformed frame
//
// The device's frames: 'h' and 'a' (answers in order), 'k' key (by key),
// 'p' (passes to the client), 'x' (refused: closes the device connection).
// The engine's own answers: 'E' then 'D'/'C' (denied), 'T' (no
// response), 'B' (busy), 'U' (unreachable).
type toyCodec struct {
	keys     uint32 // Framing.KeySpace
	maxFrame int    // Framing.MaxRequest and MaxAnswer; default 64
	bound    bool   // Framing.BoundDevice
}

var errToyEmpty = errors.New("empty toy frame")

func (c toyCodec) Protocol() inspect.Protocol {
	return inspect.Protocol{Name: "toy", Title: "Toy", DefaultPort: 7777}
}

func (c toyCodec) Framing() Framing {
	m := c.maxFrame
	if m == 0 {
		m = 64
	}
	return Framing{MaxRequest: m, MaxAnswer: m, KeySpace: c.keys, BoundDevice: c.bound}
}

func (c toyCodec) NewSession(r Route) Session { return &toySession{role: r.Identity.Role} }

func (c toyCodec) CheckPolicy(p Policy) error {
	if _, ok := p.(toyPolicy); !ok {
		return errors.New("not a toy policy")
	}
	return nil
}

// toyPolicy is the toy's compiled policy: whether it only monitors.
type toyPolicy struct{ monitor bool }

// The toy's record: the command, the letter its answer starts with and
// the key.
const (
	recCmd    = 0
	recAnswer = 1
	recKey    = 2
	recQuit   = 3
)

func (c toyCodec) AppendAnswer(dst []byte, rec *Record, why Answer) ([]byte, bool) {
	switch why {
	case AnswerDeny:
		return toyFrame(dst, 'E', rec[recCmd]), true
	case AnswerNoResponse:
		return toyFrame(dst, 'T', rec[recKey]), rec[recQuit] == 0
	case AnswerBusy:
		return toyFrame(dst, 'B', rec[recKey]), true
	}
	return toyFrame(dst, 'U', rec[recKey]), true
}

func (c toyCodec) SetKey(frame []byte, key uint32) { frame[3] = byte(key) }

func (c toyCodec) Describe(ev *inspect.Event, rec *Record, frame []byte) {
	ev.Summary.Add("cmd ").AddBytes(rec[recCmd : recCmd+1])
	if ev.Kind == inspect.Write || ev.Kind == inspect.Opened {
		ev.SetData(frame[2:])
	}
}

func (c toyCodec) Details(ev *inspect.Event) map[string]string {
	return map[string]string{"body": string(ev.Bytes())}
}

// toyFrame appends a frame of body to dst.
func toyFrame(dst []byte, body ...byte) []byte {
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(body)))
	return append(dst, body...)
}

type toySession struct {
	hello bool
	role  string
}

func toySplit(b []byte) (int, error) {
	if len(b) < 2 {
		return 0, nil
	}
	n := int(binary.BigEndian.Uint16(b))
	if n == 0 {
		return 0, errToyEmpty
	}
	return 2 + n, nil
}

func (s *toySession) SplitRequest(b []byte) (int, error) { return toySplit(b) }
func (s *toySession) SplitAnswer(b []byte) (int, error)  { return toySplit(b) }

func (s *toySession) Request(frame []byte, pol Policy, now time.Time, v *Verdict) {
	body := frame[2:]
	cmd := body[0]
	v.Op, v.Pairing = cmd, InOrder
	v.Record[recCmd], v.Record[recAnswer] = cmd, 'a'
	if p, ok := pol.(toyPolicy); ok {
		v.Monitor = p.monitor
	}
	if !s.hello && cmd != 'H' {
		v.Action, v.Reason = Close, "handshake_first"
		return
	}
	switch cmd {
	case 'H':
		s.hello = true
		v.Record[recAnswer] = 'h'
	case 'R':
	case 'W':
		v.Write = true
	case 'O':
		v.Opened = true
	case 'X':
		v.Action, v.Reason, v.Malformed = Close, "toy_violation", true
	case 'K':
		v.Pairing, v.Key = ByKey, uint32(body[1])
		v.Record[recAnswer], v.Record[recKey] = 'k', body[1]
	case 'S':
		v.Timeout = time.Duration(body[1]) * time.Millisecond
	case 'Q':
		v.Record[recQuit] = 1
		v.Timeout = time.Duration(body[1]) * time.Millisecond
	case 'M':
		v.Reason, v.Monitor = "toy_monitored", true
	case 'N':
		v.Pairing = NoAnswer
	case 'U':
		v.Pairing = Unpaired
	case 'D':
		v.Action, v.Reason = Refuse, "toy_denied"
	case 'C':
		v.Action, v.Reason = Close, "toy_closed"
	case 'Z':
		v.Action, v.Reason = Reset, "toy_reset"
	case 'I':
		v.Action, v.Reason = Refuse, "no_role"
		if s.role != "" {
			v.Reason = s.role
		}
	default:
		v.Action, v.Reason = Refuse, "toy_unknown"
	}
	if _, ok := pol.(toyPolicy); !ok && v.Reason == "" {
		v.Action, v.Reason = Refuse, "no_policy"
	}
}

func (s *toySession) Answer(frame []byte) Reply {
	switch frame[2] {
	case 'k':
		return Reply{Kind: AnswerByKey, Key: uint32(frame[3])}
	case 'p':
		return Reply{Kind: Pass}
	case 'x':
		return Reply{Kind: Drop, Reason: "toy_refused"}
	}
	return Reply{Kind: AnswerInOrder}
}

func (s *toySession) Match(frame []byte, rec *Record) bool { return frame[2] == rec[recAnswer] }

// toyDevice is a device speaking the toy protocol: serve answers each
// request body of connection n (from 1) through reply, which writes one
// frame per body it is given.
type toyDevice struct {
	addr  string
	conns atomic.Int64
	seen  chan []byte // every request body, in order
}

func startToyDevice(t testing.TB, serve func(n int, body []byte, reply func(bodies ...[]byte))) *toyDevice {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d := &toyDevice{addr: ln.Addr().String(), seen: make(chan []byte, 1<<16)}
	var mu sync.Mutex
	var open []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			open = append(open, c)
			mu.Unlock()
			n := int(d.conns.Add(1))
			go func() {
				defer c.Close()
				var wmu sync.Mutex
				reply := func(bodies ...[]byte) {
					var out []byte
					for _, b := range bodies {
						out = toyFrame(out, b...)
					}
					wmu.Lock()
					defer wmu.Unlock()
					c.Write(out)
				}
				for {
					body, err := readToy(c)
					if err != nil {
						return
					}
					d.seen <- body
					serve(n, body, reply)
				}
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range open {
			c.Close()
		}
	})
	return d
}

// echoDevice answers hello with 'h', keys with 'k' key, and everything
// else but 'N' and 'U' with 'a' and the request's body.
func echoDevice(_ int, body []byte, reply func(...[]byte)) {
	switch body[0] {
	case 'H':
		reply([]byte{'h'})
	case 'K':
		reply(append([]byte{'k'}, body[1:]...))
	case 'N':
	case 'U':
		reply([]byte{'p', 1}, []byte{'p', 2})
	default:
		reply(append([]byte{'a'}, body...))
	}
}

// readToy reads one toy frame's body.
func readToy(r io.Reader) ([]byte, error) {
	var h [2]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return nil, err
	}
	b := make([]byte, binary.BigEndian.Uint16(h[:]))
	_, err := io.ReadFull(r, b)
	return b, err
}
