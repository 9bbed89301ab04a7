package opcua

import (
	"encoding/binary"
	"strconv"
)

// bounded appends text into a buffer without ever growing it past its
// capacity (the event's fixed Data): what does not fit is cut.
type bounded struct{ b []byte }

func (w *bounded) add(s []byte) {
	n := copy(w.b[len(w.b):cap(w.b)], s)
	w.b = w.b[:len(w.b)+n]
}

func (w *bounded) str(s string) {
	n := copy(w.b[len(w.b):cap(w.b)], s)
	w.b = w.b[:len(w.b)+n]
}

func (w *bounded) uint(v uint64) {
	var tmp [20]byte
	w.add(strconv.AppendUint(tmp[:0], v, 10))
}

func (w *bounded) int(v int64) {
	var tmp [21]byte
	w.add(strconv.AppendInt(tmp[:0], v, 10))
}

func (w *bounded) node(n nodeView) {
	var tmp [96]byte
	if len(n.id) > 48 {
		n.id = n.id[:48]
	}
	w.add(appendNode(tmp[:0], n))
}

// maxSummaryBody bounds the body AppendSummary joins from the chunks of
// a message.
const maxSummaryBody = 4096

// AppendSummary appends to dst, within cap(dst), what a readable Write or
// Call in frame does, for the audit log: "ns=2;s=Line3.Order := 42
// (Int32); ..." for a Write, "ns=2;s=Start on ns=2;s=Line3 (1
// argument)" for a Call. sigLen is the channel's signature length
// (SecurityPolicy.SignatureLen). It does not allocate.
func AppendSummary(dst, frame []byte, pol SecurityPolicy) []byte {
	w := bounded{b: dst}
	sig := pol.SignatureLen()
	start := symHeaderEnd + seqHeaderLen
	var joined [maxSummaryBody]byte
	var body []byte
	for off := 0; off+HeaderLen <= len(frame); {
		h := parseHeader(frame[off:])
		end := off + int(h.size)
		if end > len(frame) || end-sig < off+start {
			break
		}
		if off == 0 && end == len(frame) {
			body = frame[start : end-sig]
			break
		}
		n := copy(joined[len(body):], frame[off+start:end-sig])
		body = joined[:len(body)+n]
		off = end
	}
	dec := decoder{b: body}
	tid, _ := dec.typeID()
	dec.requestHeader()
	switch serviceOfID(tid) {
	case SvcWrite:
		dec.writeValues(func(i int, node nodeView, attr uint32, v variantView) {
			if i > 0 {
				w.str("; ")
			}
			w.node(node)
			if attr != attributeValue {
				w.str(" attribute ")
				w.uint(uint64(attr))
			}
			w.str(" := ")
			w.value(v)
		})
	case SvcCall:
		dec.methodCalls(func(i int, object, method nodeView, args int) {
			if i > 0 {
				w.str("; ")
			}
			w.node(method)
			w.str(" on ")
			w.node(object)
			w.str(" (")
			w.uint(uint64(args))
			if args == 1 {
				w.str(" argument)")
			} else {
				w.str(" arguments)")
			}
		})
	}
	if !dec.ok() {
		w.str(" (cut)")
	}
	return w.b
}

var typeNames = [...]string{
	typeBoolean: "Boolean", typeSByte: "SByte", typeByte: "Byte", typeInt16: "Int16", typeUInt16: "UInt16",
	typeInt32: "Int32", typeUInt32: "UInt32", typeInt64: "Int64", typeUInt64: "UInt64", typeFloat: "Float",
	typeDouble: "Double", typeString: "String", typeDateTime: "DateTime", typeGUID: "Guid", typeByteString: "ByteString",
	typeXMLElement: "XmlElement", typeNodeID: "NodeId", typeExpandedNodeID: "ExpandedNodeId", typeStatusCode: "StatusCode",
	typeQualifiedName: "QualifiedName", typeLocalizedText: "LocalizedText", typeExtensionObject: "ExtensionObject",
	typeDataValue: "DataValue", typeVariant: "Variant", typeDiagnosticInfo: "DiagnosticInfo",
}

// value writes a Variant: "42 (Int32)", "Double[10]", "null".
func (w *bounded) value(v variantView) {
	if v.typ == 0 || int(v.typ) >= len(typeNames) {
		w.str("null")
		return
	}
	name := typeNames[v.typ]
	if v.array {
		w.str(name)
		w.str("[")
		w.uint(uint64(v.n))
		w.str("]")
		return
	}
	s := v.scalar
	var tmp [32]byte
	switch v.typ {
	case typeBoolean:
		w.str(strconv.FormatBool(s[0] != 0))
	case typeSByte:
		w.int(int64(int8(s[0])))
	case typeByte:
		w.uint(uint64(s[0]))
	case typeInt16:
		w.int(int64(int16(binary.LittleEndian.Uint16(s))))
	case typeUInt16:
		w.uint(uint64(binary.LittleEndian.Uint16(s)))
	case typeInt32:
		w.int(int64(int32(binary.LittleEndian.Uint32(s))))
	case typeUInt32, typeStatusCode:
		w.uint(uint64(binary.LittleEndian.Uint32(s)))
	case typeInt64, typeDateTime:
		w.int(int64(binary.LittleEndian.Uint64(s)))
	case typeUInt64:
		w.uint(binary.LittleEndian.Uint64(s))
	case typeFloat:
		w.add(strconv.AppendFloat(tmp[:0], f32(binary.LittleEndian.Uint32(s)), 'g', -1, 32))
	case typeDouble:
		w.add(strconv.AppendFloat(tmp[:0], f64(binary.LittleEndian.Uint64(s)), 'g', -1, 64))
	case typeString:
		text := s[4:]
		if int32(binary.LittleEndian.Uint32(s)) < 0 {
			w.str("null")
			break
		}
		w.str(`"`)
		if len(text) > 40 {
			w.add(text[:40])
			w.str(`..."`)
		} else {
			w.add(text)
			w.str(`"`)
		}
	default:
		w.str("…")
	}
	w.str(" (")
	w.str(name)
	w.str(")")
}
