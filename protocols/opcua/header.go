package opcua

import "encoding/binary"

// MessageType is the type of a UA TCP message (the first three bytes of
// every chunk).
type MessageType uint8

// Message types.
const (
	MsgInvalid MessageType = iota
	MsgHEL                 // Hello: client, first
	MsgACK                 // Acknowledge: server, answers HEL
	MsgERR                 // Error: either side, then close
	MsgRHE                 // ReverseHello: a server that connects to its client
	MsgOPN                 // OpenSecureChannel: request and response
	MsgMSG                 // a service request or response
	MsgCLO                 // CloseSecureChannel: client
)

var messageNames = [...]string{MsgInvalid: "invalid", MsgHEL: "HEL", MsgACK: "ACK", MsgERR: "ERR", MsgRHE: "RHE", MsgOPN: "OPN", MsgMSG: "MSG", MsgCLO: "CLO"}

func (t MessageType) String() string {
	if int(t) < len(messageNames) {
		return messageNames[t]
	}
	return "invalid"
}

func messageType(b []byte) MessageType {
	switch string(b[:3]) {
	case "HEL":
		return MsgHEL
	case "ACK":
		return MsgACK
	case "ERR":
		return MsgERR
	case "RHE":
		return MsgRHE
	case "OPN":
		return MsgOPN
	case "MSG":
		return MsgMSG
	case "CLO":
		return MsgCLO
	}
	return MsgInvalid
}

// Chunk types.
const (
	ChunkFinal        = 'F'
	ChunkIntermediate = 'C'
	ChunkAbort        = 'A'
)

// Sizes and limits of OPC 10000-6.
const (
	HeaderLen          = 8    // message type, chunk type, message size
	MinBufferSize      = 8192 // the smallest receive or send buffer HEL and ACK may announce
	MaxURLLen          = 4096 // endpoint URL of HEL, reason of ERR
	maxHelloLen        = HeaderLen + 20 + 4 + MaxURLLen
	maxErrorLen        = HeaderLen + 4 + 4 + MaxURLLen
	secureHeaderLen    = HeaderLen + 4 // and the secure channel id
	symHeaderEnd       = secureHeaderLen + 4
	seqHeaderLen       = 8 // sequence number, request id
	chunkOverhead      = 128
	MaxCertificateLen  = 16 << 10 // the largest SenderCertificate (with its chain) the gateway reads
	MaxMessageSizeCap  = 16 << 20 // the largest max_message_size a conduit may set
	MaxChunkCountCap   = 4096     // the largest max_chunk_count a conduit may set
	DefaultMaxMessage  = 1 << 20
	DefaultMaxChunks   = 256
	helloBodyLen       = 20
	attributeValue     = 13
	maxReassembledBody = MaxMessageSizeCap
)

// MaxFrameLen is the largest frame a conversation produces from either
// side: a request of MaxMessageSizeCap bytes in MaxChunkCountCap chunks.
const MaxFrameLen = MaxMessageSizeCap + MaxChunkCountCap*chunkOverhead

type header struct {
	typ   MessageType
	chunk byte
	size  uint32
}

func parseHeader(b []byte) header {
	return header{typ: messageType(b), chunk: b[3], size: binary.LittleEndian.Uint32(b[4:8])}
}

// AppendError appends an ERR message with the status code and reason
// text (cut at MaxURLLen bytes).
func AppendError(dst []byte, code StatusCode, reason string) []byte {
	if len(reason) > MaxURLLen {
		reason = reason[:MaxURLLen]
	}
	size := HeaderLen + 8 + len(reason)
	dst = append(dst, 'E', 'R', 'R', ChunkFinal)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(size))
	dst = binary.LittleEndian.AppendUint32(dst, uint32(code))
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(reason)))
	return append(dst, reason...)
}

// hello is what HEL and ACK announce (OPC 10000-6, 7.1.2.3 and 7.1.2.4).
type hello struct {
	version, recvBuf, sendBuf, maxMsg, maxChunks uint32
}

func readHello(d *decoder) hello {
	return hello{version: d.u32(), recvBuf: d.u32(), sendBuf: d.u32(), maxMsg: d.u32(), maxChunks: d.u32()}
}

// lower writes limit into the field at off of a HEL or ACK frame when the
// peer announced more (0 is "no limit").
func lower(frame []byte, off int, limit uint32) {
	if v := binary.LittleEndian.Uint32(frame[off:]); v == 0 || v > limit {
		binary.LittleEndian.PutUint32(frame[off:], limit)
	}
}

// Offsets of MaxMessageSize and MaxChunkCount in HEL and ACK.
const (
	offMaxMessage = HeaderLen + 12
	offMaxChunks  = HeaderLen + 16
)

// ErrorInfo returns the status code and reason of an ERR message.
func ErrorInfo(frame []byte) (StatusCode, string, bool) {
	if len(frame) < HeaderLen+8 || messageType(frame) != MsgERR {
		return 0, "", false
	}
	d := decoder{b: frame[HeaderLen:]}
	code := StatusCode(d.u32())
	reason := d.bytes()
	return code, string(reason), d.ok()
}

// ParseType returns the message type of a chunk (at least HeaderLen bytes).
func ParseType(chunk []byte) MessageType { return messageType(chunk) }

// RequestTypeOf reads the request type that starts the body of a MSG
// chunk in clear (policy None, or Sign mode): the numeric NodeId of its
// binary encoding.
func RequestTypeOf(chunk []byte) (uint32, bool) {
	if len(chunk) < symHeaderEnd+seqHeaderLen || messageType(chunk) != MsgMSG {
		return 0, false
	}
	d := decoder{b: chunk[symHeaderEnd+seqHeaderLen:]}
	return d.typeID()
}
