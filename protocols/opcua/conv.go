package opcua

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"time"
)

// Conversation is the state of one client connection's UA TCP
// conversation as the gateway follows it: where the handshake is, what
// HEL and ACK negotiated, the secure channel (its id, policy, whether its
// bodies can be read, its token and sequence numbers) and a buffer for
// requests of several chunks. The zero value is a connection before its
// HEL. It is used from one goroutine.
type Conversation struct {
	state     convState
	hel, ack  hello
	helloSeen bool
	limits    *Policy // the policy the HEL was taken under: its sizes hold for the connection

	chanID      uint32
	policy      SecurityPolicy
	fingerprint [32]byte
	opening     int  // OPN requests waiting for their response
	bodies      body // whether MSG bodies can be read
	token       uint32
	tokenKnown  bool
	renewed     bool // an OPN response came since the token was learnt
	seqNext     uint32
	seqKnown    bool

	// server side: the message being received in chunks
	srvChunks int
	srvBytes  int

	scratch []byte // bodies of a request of several chunks
}

type convState uint8

const (
	stHello     convState = iota // nothing yet: HEL (or RHE) expected
	stHelloSent                  // HEL forwarded, ACK expected
	stAck                        // ACK received: OPN expected
	stOpening                    // first OPN forwarded, its response expected
	stOpen                       // the secure channel is open
	stClosed                     // CLO sent
)

type body uint8

const (
	bodyUnknown   body = iota // no MSG yet on a secured channel
	bodyClear                 // policy None, or Sign mode: bodies readable
	bodyEncrypted             // SignAndEncrypt (or an unknown policy under monitor)
)

// Decision is what the gateway does with one client message.
type Decision struct {
	Type    MessageType
	Service Service // the request type of a readable MSG
	// Reason says why the message is refused, or would be in monitor
	// mode; ReasonNone when it is allowed.
	Reason Reason
	// Monitor: the policy only monitors; Reason is reported and the
	// message forwarded.
	Monitor bool
	// Forward: the message goes to the server. Otherwise the connection
	// is closed with an ERR carrying Reason.Status().
	Forward bool
	// Handshake: HEL or OPN, whose answer comes in order (ACK, OPN or
	// ERR) within Timeout.
	Handshake bool
	Timeout   time.Duration
	// NoAnswer: CLO.
	NoAnswer bool
	// Write: an allowed Write or Call, a device setting change to audit.
	Write bool
	// Opened: the OPN that opens a secured channel, allowed: its client
	// certificate and policy are audited.
	Opened    bool
	RequestID uint32
	Policy    SecurityPolicy
	// Encrypted: a MSG whose body the gateway cannot read.
	Encrypted bool
}

// Op is the request type the counters count a decision under: the
// service of a readable MSG (1-37), or one of the Op constants.
func (d *Decision) Op() uint8 {
	switch d.Type {
	case MsgMSG:
		if d.Encrypted {
			return OpEncrypted
		}
		return uint8(d.Service)
	case MsgHEL:
		return OpHello
	case MsgOPN:
		return OpOpen
	case MsgCLO:
		return OpClose
	}
	return OpOther
}

// Request types of the counters besides the services.
const (
	OpEncrypted = 100 + iota // a MSG whose body is encrypted
	OpHello
	OpOpen
	OpClose
	OpOther // RHE, a message out of place
)

// OpName names a counter's request type: a service name, "encrypted",
// "HEL", "OPN", "CLO" or "other".
func OpName(op uint8) string {
	switch op {
	case OpEncrypted:
		return "encrypted"
	case OpHello:
		return "HEL"
	case OpOpen:
		return "OPN"
	case OpClose:
		return "CLO"
	case OpOther:
		return "other"
	}
	if s := Service(op).String(); s != "" {
		return s
	}
	return "unknown"
}

// Framing errors of the server's stream (static: no allocation).
var (
	errServerType  = errors.New("OPC UA: the server sent a message type a server never sends (HEL, RHE, CLO) or an unknown one")
	errServerChunk = errors.New("OPC UA: server chunk type is not F, C or A, or C/A on a message other than MSG")
	errServerSize  = errors.New("OPC UA: server chunk larger than negotiated (ACK SendBufferSize) or smaller than its header")
)

// clientChunkLimit is the largest chunk the client may send now.
func (c *Conversation) clientChunkLimit() uint32 {
	if c.state <= stHelloSent {
		return maxHelloLen
	}
	return min(c.ack.recvBuf, c.maxMessage()+chunkOverhead)
}

// lim is the policy whose limits hold: the one the HEL was taken under.
func (c *Conversation) lim() *Policy {
	if c.limits != nil {
		return c.limits
	}
	return denyAll
}

func (c *Conversation) maxMessage() uint32 {
	m := c.lim().maxMsg
	if c.ack.maxMsg != 0 {
		m = min(m, c.ack.maxMsg)
	}
	return m
}

func (c *Conversation) maxChunks() uint32 {
	m := c.lim().maxChunks
	if c.ack.maxChunks != 0 {
		m = min(m, c.ack.maxChunks)
	}
	return m
}

// checkChunk checks one client chunk header: the chunk's place in its
// message (index), the bytes of the message before it.
func (c *Conversation) checkChunk(h header, index int, before uint32) Reason {
	switch {
	case h.typ == MsgInvalid || h.typ == MsgACK:
		return ReasonMessageTypeInvalid
	case h.chunk != ChunkFinal && (h.typ != MsgMSG || (h.chunk != ChunkIntermediate && h.chunk != ChunkAbort)):
		return ReasonChunkTypeInvalid
	case h.size < minChunk(h.typ):
		return ReasonMalformed
	case h.size > c.clientChunkLimit():
		if h.typ == MsgHEL {
			return ReasonHelloInvalid
		}
		return ReasonChunkTooLarge
	case uint32(index+1) > c.maxChunks():
		return ReasonTooManyChunks
	case uint64(before)+uint64(h.size) > uint64(c.maxMessage())+uint64(index+1)*chunkOverhead:
		return ReasonMessageTooLarge
	}
	return ReasonNone
}

func minChunk(t MessageType) uint32 {
	switch t {
	case MsgHEL:
		return HeaderLen + helloBodyLen + 4
	case MsgOPN:
		return secureHeaderLen + 12 + seqHeaderLen
	case MsgMSG, MsgCLO:
		return symHeaderEnd + seqHeaderLen
	case MsgERR:
		return HeaderLen + 8
	case MsgRHE:
		return HeaderLen + 8
	}
	return HeaderLen
}

// SplitClient returns the length of the client's next frame at the start
// of b: a whole message (all chunks of a MSG up to its final or abort
// chunk), a length above len(b) while it is incomplete. A chunk that
// breaks a limit ends the frame after its header: Client then refuses it
// with the reason, so that the client gets an ERR.
func (c *Conversation) SplitClient(b []byte) (int, error) {
	off, before := 0, uint32(0)
	for i := 0; ; i++ {
		if len(b)-off < HeaderLen {
			return off + HeaderLen, nil
		}
		h := parseHeader(b[off:])
		if c.checkChunk(h, i, before) != ReasonNone {
			return off + HeaderLen, nil
		}
		end := off + int(h.size)
		if len(b) < end || h.typ != MsgMSG || h.chunk != ChunkIntermediate {
			return end, nil
		}
		off, before = end, before+h.size
	}
}

// SplitServer returns the length of the server's next chunk at the start
// of b (server messages pass chunk by chunk).
func (c *Conversation) SplitServer(b []byte) (int, error) {
	if len(b) < HeaderLen {
		return HeaderLen, nil
	}
	h := parseHeader(b)
	switch h.typ {
	case MsgACK, MsgERR, MsgOPN, MsgMSG:
	default:
		return 0, errServerType
	}
	if h.chunk != ChunkFinal && (h.typ != MsgMSG || (h.chunk != ChunkIntermediate && h.chunk != ChunkAbort)) {
		return 0, errServerChunk
	}
	limit := uint32(maxErrorLen)
	if c.state > stHelloSent && h.typ != MsgERR {
		limit = c.ack.sendBuf
	}
	if h.size < minChunk(h.typ) || h.size > limit {
		return 0, errServerSize
	}
	return int(h.size), nil
}

// Client decides one client frame (from SplitClient) under policy p (nil:
// the conduit has none any more) at time now. It may lower the limits a
// HEL announces in the frame, in place.
func (c *Conversation) Client(f []byte, p *Policy, now time.Time, d *Decision) {
	*d = Decision{Type: messageType(f), Policy: c.policy}
	if p == nil || p == denyAll {
		c.refuse(d, ReasonNoPolicy, nil)
		return
	}
	d.Monitor = p.mode == ModeMonitor
	d.Timeout = p.timeout
	// The chunks, as SplitClient cut them.
	off, before := 0, uint32(0)
	for i := 0; off < len(f); i++ {
		h := parseHeader(f[off:])
		if r := c.checkChunk(h, i, before); r != ReasonNone {
			c.refuse(d, r, nil)
			return
		}
		off, before = off+int(h.size), before+h.size
	}
	if off != len(f) {
		c.refuse(d, ReasonMalformed, nil)
		return
	}
	switch d.Type {
	case MsgHEL:
		c.clientHello(f, p, d)
	case MsgRHE:
		c.refuse(d, ReasonReverseConnect, nil)
	case MsgOPN:
		c.open(f, p, now, d)
	case MsgMSG:
		c.message(f, p, d)
	case MsgCLO:
		c.close(f, d)
	default: // ERR from a client, ACK
		c.refuse(d, ReasonMessageTypeInvalid, nil)
	}
}

// refuse refuses the message with r (a policy reason under monitor:
// reported, and the message forwarded; then allow is called).
func (c *Conversation) refuse(d *Decision, r Reason, allow func()) {
	d.Reason = r
	if d.Monitor && !r.Violation() && allow != nil {
		d.Forward = true
		allow()
		return
	}
	d.Forward = false
}

func (c *Conversation) clientHello(f []byte, p *Policy, d *Decision) {
	if c.state != stHello {
		c.refuse(d, ReasonMessageTypeInvalid, nil)
		return
	}
	dec := decoder{b: f[HeaderLen:]}
	hel := readHello(&dec)
	url := dec.bytes()
	switch {
	case !dec.ok() || dec.rest() != 0 || len(url) > MaxURLLen:
		c.refuse(d, ReasonHelloInvalid, nil)
		return
	case hel.recvBuf < MinBufferSize || hel.sendBuf < MinBufferSize:
		c.refuse(d, ReasonHelloInvalid, nil)
		return
	}
	allow := func() {
		c.hel, c.helloSeen, c.limits = hel, true, p
		c.state = stHelloSent
		d.Handshake = true
		// Tell the server the conduit's limits for its responses.
		lower(f, offMaxMessage, p.maxMsg)
		lower(f, offMaxChunks, p.maxChunks)
	}
	if !p.endpointAllowed(url) {
		c.refuse(d, ReasonEndpointURL, allow)
		return
	}
	d.Forward = true
	allow()
}

// OpenInfo reads the asymmetric security header of an OPN frame: the
// policy and the client certificate (nil when none), as views of frame.
func OpenInfo(frame []byte) (policy SecurityPolicy, cert []byte, ok bool) {
	if len(frame) < secureHeaderLen || messageType(frame) != MsgOPN {
		return PolicyUnknown, nil, false
	}
	dec := decoder{b: frame[secureHeaderLen:]}
	uri := dec.bytes()
	cert = dec.bytes()
	dec.bytes() // ReceiverCertificateThumbprint
	return policyOfURI(uri), cert, dec.ok()
}

func (c *Conversation) open(f []byte, p *Policy, now time.Time, d *Decision) {
	renew := c.state == stOpen
	if c.state != stAck && !renew {
		c.refuse(d, ReasonMessageTypeInvalid, nil)
		return
	}
	chanID := binary.LittleEndian.Uint32(f[HeaderLen:])
	dec := decoder{b: f[secureHeaderLen:]}
	uri := dec.bytes()
	cert := dec.bytes()
	dec.bytes() // ReceiverCertificateThumbprint
	if !dec.ok() {
		c.refuse(d, ReasonMalformed, nil)
		return
	}
	pol := policyOfURI(uri)
	d.Policy = pol
	if renew {
		switch {
		case chanID != c.chanID:
			c.refuse(d, ReasonChannelIDMismatch, nil)
			return
		case pol != c.policy:
			c.refuse(d, ReasonPolicyChanged, nil)
			return
		}
	}
	var reason Reason
	var fp [32]byte
	readable := pol == PolicyNone
	switch {
	case pol == PolicyUnknown:
		reason = ReasonSecurityPolicyUnknown
	case pol == PolicyNone:
		if !p.policies[PolicyNone] {
			reason = ReasonSecurityPolicy
		}
		if len(cert) > MaxCertificateLen {
			reason = ReasonCertificateTooLarge
		}
	case !p.policies[pol]:
		reason = ReasonSecurityPolicy
	case len(cert) == 0:
		reason = ReasonCertificateMissing
	case len(cert) > MaxCertificateLen:
		reason = ReasonCertificateTooLarge
	default:
		res := p.certs.Check(cert, now)
		reason, fp = res.Reason, res.Fingerprint
		if fp == ([32]byte{}) {
			fp = leafFingerprint(cert)
		}
		if renew && fp != c.fingerprint {
			c.refuse(d, ReasonCertificateChanged, nil)
			return
		}
	}
	if readable {
		// The sequence header and body are in clear.
		seq := dec.u32()
		d.RequestID = dec.u32()
		if id, ok := dec.typeID(); !ok || id != idOpenSecureChannelRequest {
			c.refuse(d, ReasonMalformed, nil)
			return
		}
		dec.requestHeader()
		dec.u32() // ClientProtocolVersion
		reqType := dec.u32()
		mode := SecurityMode(dec.u32())
		dec.bytes() // ClientNonce
		dec.u32()   // RequestedLifetime
		if !dec.ok() || dec.rest() != 0 || reqType > 1 || (reqType == 1) != renew {
			c.refuse(d, ReasonMalformed, nil)
			return
		}
		if renew && !c.seqOK(seq) {
			c.refuse(d, ReasonSequenceInvalid, nil)
			return
		}
		if mode != SecurityNone && reason == ReasonNone {
			reason = ReasonSecurityMode
		}
		c.seqNext, c.seqKnown = seq+1, true
	} else if c.seqKnown {
		c.seqNext++
	}
	allow := func() {
		d.Handshake = true
		if renew {
			c.opening++
			return
		}
		c.state, c.opening = stOpening, 1
		c.chanID, c.policy, c.fingerprint = chanID, pol, fp
		switch {
		case readable:
			c.bodies = bodyClear
		case pol == PolicyUnknown:
			c.bodies = bodyEncrypted
		}
		d.Opened = pol != PolicyNone && pol != PolicyUnknown
	}
	if reason != ReasonNone {
		c.refuse(d, reason, allow)
		return
	}
	d.Forward = true
	allow()
}

// leafFingerprint is the SHA-256 of the first certificate of a chain
// (the whole bytes when they do not parse as DER).
func leafFingerprint(chain []byte) [32]byte {
	n := derLen(chain)
	if n <= 0 || n > len(chain) {
		n = len(chain)
	}
	return sha256.Sum256(chain[:n])
}

// derLen is the length of the DER element at the start of b, or -1.
func derLen(b []byte) int {
	if len(b) < 2 {
		return -1
	}
	l := int(b[1])
	if l < 0x80 {
		return 2 + l
	}
	n := l & 0x7F
	if n == 0 || n > 4 || len(b) < 2+n {
		return -1
	}
	l = 0
	for _, x := range b[2 : 2+n] {
		l = l<<8 | int(x)
	}
	return 2 + n + l
}

// typeID reads the NodeId that starts a message body: a numeric one of
// namespace 0.
func (d *decoder) typeID() (uint32, bool) {
	n := d.nodeID(false)
	return n.num, d.ok() && n.ns == 0 && n.kind == NodeNumeric
}

// seqOK checks a readable sequence number against the one expected.
func (c *Conversation) seqOK(seq uint32) bool {
	if !c.seqKnown || seq == c.seqNext {
		return true
	}
	// After 4294966271 the numbers may wrap to below 1024.
	return c.seqNext-1 > 4294966271 && seq < 1024
}

// symmetric checks the secure channel id and token of each chunk of a
// MSG or CLO frame.
func (c *Conversation) symmetric(f []byte) Reason {
	for off := 0; off < len(f); {
		h := parseHeader(f[off:])
		if binary.LittleEndian.Uint32(f[off+HeaderLen:]) != c.chanID {
			return ReasonChannelIDMismatch
		}
		tok := binary.LittleEndian.Uint32(f[off+secureHeaderLen:])
		switch {
		case !c.tokenKnown:
			c.token, c.tokenKnown = tok, true
		case tok == c.token:
		case c.renewed:
			c.token, c.renewed = tok, false
		default:
			return ReasonTokenInvalid
		}
		off += int(h.size)
	}
	return ReasonNone
}

// sequence checks the sequence numbers of a readable frame's chunks and
// returns its request id.
func (c *Conversation) sequence(f []byte) (uint32, Reason) {
	var req uint32
	for off, i := 0, 0; off < len(f); i++ {
		h := parseHeader(f[off:])
		seq := binary.LittleEndian.Uint32(f[off+symHeaderEnd:])
		id := binary.LittleEndian.Uint32(f[off+symHeaderEnd+4:])
		if !c.seqOK(seq) {
			return 0, ReasonSequenceInvalid
		}
		if i == 0 {
			req = id
		} else if id != req {
			return 0, ReasonMalformed
		}
		c.seqNext, c.seqKnown = seq+1, true
		off += int(h.size)
	}
	return req, ReasonNone
}

// skipSequence counts the sequence numbers of an unreadable frame.
func (c *Conversation) skipSequence(f []byte) {
	if !c.seqKnown {
		return
	}
	for off := 0; off < len(f); {
		c.seqNext++
		off += int(parseHeader(f[off:]).size)
	}
}

// onChannel checks that a MSG or CLO frame comes on the open channel with
// its id and a token it was given; otherwise it refuses it.
func (c *Conversation) onChannel(f []byte, d *Decision) bool {
	r := ReasonMessageTypeInvalid
	if c.state == stOpen {
		r = c.symmetric(f)
	}
	if r != ReasonNone {
		c.refuse(d, r, nil)
		return false
	}
	return true
}

func (c *Conversation) close(f []byte, d *Decision) {
	if !c.onChannel(f, d) {
		return
	}
	if c.bodies == bodyClear {
		id, r := c.sequence(f)
		if r != ReasonNone {
			c.refuse(d, r, nil)
			return
		}
		d.RequestID = id
	} else {
		c.skipSequence(f)
	}
	c.state = stClosed
	d.Forward, d.NoAnswer = true, true
}
