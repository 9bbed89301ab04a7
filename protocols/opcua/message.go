package opcua

import "encoding/binary"

func (c *Conversation) message(f []byte, p *Policy, d *Decision) {
	if !c.onChannel(f, d) {
		return
	}
	sig := c.policy.SignatureLen()
	if c.bodies == bodyUnknown {
		// The first MSG of a secured channel tells its mode: the body of
		// a Sign-mode chunk starts in clear with the request type and
		// its RequestHeader; a SignAndEncrypt one is ciphertext.
		if looksClear(f, sig) {
			c.bodies = bodyClear
		} else {
			c.bodies = bodyEncrypted
		}
	}
	if c.bodies == bodyEncrypted {
		c.skipSequence(f)
		d.Encrypted = true
		if p.services.Restricts() {
			c.refuse(d, ReasonEncryptedRefused, func() {})
			return
		}
		d.Forward = true
		return
	}
	id, r := c.sequence(f)
	if r != ReasonNone {
		c.refuse(d, r, nil)
		return
	}
	d.RequestID = id
	b, ok := c.body(f, sig)
	if !ok {
		c.refuse(d, ReasonUnreadable, nil)
		return
	}
	if b == nil {
		// Ends with an abort chunk: the server discards the message.
		d.Forward = true
		return
	}
	dec := decoder{b: b}
	tid, ok := dec.typeID()
	dec.requestHeader()
	if !ok || !dec.ok() {
		c.refuse(d, ReasonUnreadable, nil)
		return
	}
	svc := serviceOfID(tid)
	d.Service = svc
	allow := func() { d.Write = svc == SvcWrite || svc == SvcCall }
	policyReason := ReasonNone
	switch {
	case svc == ServiceUnknown:
		policyReason = ReasonServiceUnknown
	case c.policy == PolicyNone && !p.none.Has(svc):
		policyReason = ReasonNoneNotAllowed
	case c.policy != PolicyNone && !p.services.Has(svc):
		policyReason = ReasonServiceNotAllowed
	}
	var nodes Reason
	switch svc {
	case SvcWrite:
		nodes = checkWrite(&dec, p)
	case SvcCall:
		nodes = checkCall(&dec, p)
	}
	switch {
	case nodes.Violation():
		c.refuse(d, nodes, nil)
	case policyReason != ReasonNone:
		c.refuse(d, policyReason, allow)
	case nodes != ReasonNone:
		c.refuse(d, nodes, allow)
	default:
		d.Forward = true
		allow()
	}
}

// looksClear reports whether the first chunk of f reads as a Sign-mode
// (clear) request.
func looksClear(f []byte, sig int) bool {
	h := parseHeader(f)
	start, end := symHeaderEnd+seqHeaderLen, int(h.size)-sig
	if end-start < 4 {
		return false
	}
	dec := decoder{b: f[start:end]}
	tid, ok := dec.typeID()
	if !ok || serviceOfID(tid) == ServiceUnknown {
		return false
	}
	dec.requestHeader()
	return dec.ok()
}

// body returns the body of a readable MSG frame: a view of a single
// chunk, or the bodies of several chunks joined in the conversation's
// buffer; nil when the message ends with an abort chunk. ok is false when
// a chunk is too short for its signature.
func (c *Conversation) body(f []byte, sig int) ([]byte, bool) {
	h := parseHeader(f)
	start := symHeaderEnd + seqHeaderLen
	if int(h.size) == len(f) {
		if int(h.size)-sig < start {
			return nil, false
		}
		if h.chunk == ChunkAbort {
			return nil, true
		}
		return f[start : int(h.size)-sig], true
	}
	c.scratch = c.scratch[:0]
	for off := 0; off < len(f); {
		h := parseHeader(f[off:])
		end := off + int(h.size)
		if end-sig < off+start {
			return nil, false
		}
		if h.chunk == ChunkAbort {
			return nil, true
		}
		c.scratch = append(c.scratch, f[off+start:end-sig]...)
		off = end
	}
	return c.scratch, true
}

// checkWrite decodes the NodesToWrite of a WriteRequest and checks them
// against write_nodes: ReasonUnreadable when they do not decode, the
// first node's reason when one is not allowed.
func checkWrite(dec *decoder, p *Policy) Reason {
	first := ReasonNone
	dec.writeValues(func(_ int, node nodeView, attr uint32, _ variantView) {
		switch {
		case first != ReasonNone || p.writeNodes == nil:
		case !p.writeNodes.has(node):
			first = ReasonWriteNode
		case attr != attributeValue:
			first = ReasonWriteAttribute
		}
	})
	return complete(dec, first)
}

// checkCall decodes the MethodsToCall of a CallRequest and checks their
// methods against call_methods.
func checkCall(dec *decoder, p *Policy) Reason {
	first := ReasonNone
	dec.methodCalls(func(_ int, _, method nodeView, _ int) {
		if first == ReasonNone && p.callMethods != nil && !p.callMethods.has(method) {
			first = ReasonCallMethod
		}
	})
	return complete(dec, first)
}

// complete is ReasonUnreadable when the body did not decode to its end,
// else r.
func complete(dec *decoder, r Reason) Reason {
	if !dec.ok() || dec.rest() != 0 {
		return ReasonUnreadable
	}
	return r
}

// ServerReply classifies a server chunk.
type ServerReply uint8

// Server replies.
const (
	// ServerPass: a chunk that passes to the client as it is (MSG
	// responses, an ERR outside a handshake).
	ServerPass ServerReply = iota
	// ServerHandshake: the answer (ACK, OPN or ERR) to the oldest HEL or
	// OPN waiting.
	ServerHandshake
	// ServerDrop: a chunk the server may not send now; the connection
	// is closed (the reason says why).
	ServerDrop
)

// Server classifies one server chunk (from SplitServer). It may lower the
// limits an ACK announces in the frame, in place.
func (c *Conversation) Server(f []byte) (ServerReply, Reason) {
	h := parseHeader(f)
	switch h.typ {
	case MsgACK:
		if c.state != stHelloSent {
			return ServerDrop, ReasonMessageTypeInvalid
		}
		dec := decoder{b: f[HeaderLen:]}
		ack := readHello(&dec)
		if !dec.ok() || dec.rest() != 0 || h.chunk != ChunkFinal ||
			ack.recvBuf < MinBufferSize || ack.recvBuf > c.hel.sendBuf || ack.sendBuf < MinBufferSize || ack.sendBuf > c.hel.recvBuf {
			return ServerDrop, ReasonHelloInvalid
		}
		c.ack, c.state = ack, stAck
		// Tell the client the conduit's limits for its requests.
		lower(f, offMaxMessage, c.limits.maxMsg)
		lower(f, offMaxChunks, c.limits.maxChunks)
		return ServerHandshake, ReasonNone
	case MsgERR:
		if c.state == stHelloSent || c.opening > 0 {
			return ServerHandshake, ReasonNone
		}
		return ServerPass, ReasonNone
	case MsgOPN:
		if c.opening == 0 {
			return ServerDrop, ReasonMessageTypeInvalid
		}
		id := binary.LittleEndian.Uint32(f[HeaderLen:])
		if c.state == stOpening {
			c.chanID, c.state = id, stOpen
		} else if id != c.chanID {
			return ServerDrop, ReasonChannelIDMismatch
		}
		c.opening--
		c.renewed = c.tokenKnown
		return ServerHandshake, ReasonNone
	case MsgMSG:
		if c.state < stOpen {
			return ServerDrop, ReasonMessageTypeInvalid
		}
		if binary.LittleEndian.Uint32(f[HeaderLen:]) != c.chanID {
			return ServerDrop, ReasonChannelIDMismatch
		}
		c.srvChunks++
		c.srvBytes += int(h.size)
		maxMsg, maxChunks := c.limits.maxMsg, c.limits.maxChunks
		if c.hel.maxMsg != 0 {
			maxMsg = min(maxMsg, c.hel.maxMsg)
		}
		if c.hel.maxChunks != 0 {
			maxChunks = min(maxChunks, c.hel.maxChunks)
		}
		switch {
		case uint32(c.srvChunks) > maxChunks:
			return ServerDrop, ReasonTooManyChunks
		case uint64(c.srvBytes) > uint64(maxMsg)+uint64(c.srvChunks)*chunkOverhead:
			return ServerDrop, ReasonMessageTooLarge
		}
		if h.chunk != ChunkIntermediate {
			c.srvChunks, c.srvBytes = 0, 0
		}
		return ServerPass, ReasonNone
	}
	return ServerDrop, ReasonMessageTypeInvalid
}
