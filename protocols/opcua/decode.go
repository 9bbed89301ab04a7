package opcua

import (
	"encoding/binary"
	"math"
)

// decoder reads the OPC UA binary encoding (OPC 10000-6, 5.2) from a
// byte slice. The first error sticks: later reads return zero values and
// ok() is false. It never allocates: strings and byte strings are views.
type decoder struct {
	b     []byte
	pos   int
	bad   bool
	depth int // nesting of Variants, DataValues, ExtensionObjects, DiagnosticInfos
}

// maxDepth bounds the nesting of structures inside a message.
const maxDepth = 16

// maxArray bounds an array's declared length before its elements are
// read: no array of a message can have more elements than bytes.
func (d *decoder) ok() bool { return !d.bad }

func (d *decoder) fail() { d.bad = true }

func (d *decoder) rest() int { return len(d.b) - d.pos }

func (d *decoder) take(n int) []byte {
	if d.bad || n < 0 || d.rest() < n {
		d.bad = true
		return nil
	}
	v := d.b[d.pos : d.pos+n : d.pos+n]
	d.pos += n
	return v
}

func (d *decoder) skip(n int) { d.take(n) }

func (d *decoder) u8() uint8 {
	if v := d.take(1); v != nil {
		return v[0]
	}
	return 0
}

func (d *decoder) u16() uint16 {
	if v := d.take(2); v != nil {
		return binary.LittleEndian.Uint16(v)
	}
	return 0
}

func (d *decoder) u32() uint32 {
	if v := d.take(4); v != nil {
		return binary.LittleEndian.Uint32(v)
	}
	return 0
}

func (d *decoder) i32() int32 { return int32(d.u32()) }

func (d *decoder) u64() uint64 {
	if v := d.take(8); v != nil {
		return binary.LittleEndian.Uint64(v)
	}
	return 0
}

// bytes reads a String or ByteString (Int32 length, -1 for null): nil
// for null, a view otherwise.
func (d *decoder) bytes() []byte {
	n := d.i32()
	if n < 0 {
		if n != -1 {
			// Lengths below -1 are invalid (OPC 10000-6 5.2.2.4).
			d.fail()
		}
		return nil
	}
	return d.take(int(n))
}

// arrayLen reads an array's length (-1: null) and checks that the
// elements, each at least min bytes, fit in what is left.
func (d *decoder) arrayLen(min int) int {
	n := d.i32()
	if n < 0 {
		if n != -1 {
			d.fail()
		}
		return 0
	}
	if d.bad || int64(n)*int64(max(min, 1)) > int64(d.rest()) {
		d.fail()
		return 0
	}
	return int(n)
}

// NodeID kinds (identifier types), as a NodeID holds them.
const (
	NodeNumeric    = 0
	NodeString     = 3
	NodeGUID       = 4
	NodeByteString = 5
)

// nodeView is a decoded NodeId; id views the message for the string,
// GUID and byte string kinds.
type nodeView struct {
	ns   uint16
	kind uint8
	num  uint32
	id   []byte
}

// nodeID reads a NodeId, or with expanded the flags and fields of an
// ExpandedNodeId.
func (d *decoder) nodeID(expanded bool) nodeView {
	enc := d.u8()
	var n nodeView
	flags := enc & 0xC0
	if !expanded && flags != 0 {
		d.fail()
		return n
	}
	switch enc & 0x3F {
	case 0: // two byte
		n.num = uint32(d.u8())
	case 1: // four byte
		n.ns = uint16(d.u8())
		n.num = uint32(d.u16())
	case 2:
		n.ns = d.u16()
		n.num = d.u32()
	case 3:
		n.ns, n.kind = d.u16(), NodeString
		n.id = d.bytes()
	case 4:
		n.ns, n.kind = d.u16(), NodeGUID
		n.id = d.take(16)
	case 5:
		n.ns, n.kind = d.u16(), NodeByteString
		n.id = d.bytes()
	default:
		d.fail()
	}
	if flags&0x80 != 0 {
		d.bytes() // NamespaceUri
	}
	if flags&0x40 != 0 {
		d.u32() // ServerIndex
	}
	return n
}

// Built-in type ids (OPC 10000-6, 5.1.2).
const (
	typeBoolean         = 1
	typeSByte           = 2
	typeByte            = 3
	typeInt16           = 4
	typeUInt16          = 5
	typeInt32           = 6
	typeUInt32          = 7
	typeInt64           = 8
	typeUInt64          = 9
	typeFloat           = 10
	typeDouble          = 11
	typeString          = 12
	typeDateTime        = 13
	typeGUID            = 14
	typeByteString      = 15
	typeXMLElement      = 16
	typeNodeID          = 17
	typeExpandedNodeID  = 18
	typeStatusCode      = 19
	typeQualifiedName   = 20
	typeLocalizedText   = 21
	typeExtensionObject = 22
	typeDataValue       = 23
	typeVariant         = 24
	typeDiagnosticInfo  = 25
)

var fixedSize = [26]int{
	typeBoolean: 1, typeSByte: 1, typeByte: 1, typeInt16: 2, typeUInt16: 2, typeInt32: 4, typeUInt32: 4,
	typeInt64: 8, typeUInt64: 8, typeFloat: 4, typeDouble: 8, typeDateTime: 8, typeGUID: 16, typeStatusCode: 4,
}

// builtin skips one value of a built-in type.
func (d *decoder) builtin(t uint8) {
	if t == 0 || t > typeDiagnosticInfo {
		d.fail()
		return
	}
	if n := fixedSize[t]; n > 0 {
		d.skip(n)
		return
	}
	switch t {
	case typeString, typeByteString, typeXMLElement:
		d.bytes()
	case typeNodeID:
		d.nodeID(false)
	case typeExpandedNodeID:
		d.nodeID(true)
	case typeQualifiedName:
		d.u16()
		d.bytes()
	case typeLocalizedText:
		d.localizedText()
	case typeExtensionObject:
		d.extensionObject()
	case typeDataValue:
		d.dataValue()
	case typeVariant:
		d.variant()
	case typeDiagnosticInfo:
		d.diagnosticInfo()
	}
}

func (d *decoder) localizedText() {
	m := d.u8()
	if m&^0x03 != 0 {
		d.fail()
	}
	if m&0x01 != 0 {
		d.bytes()
	}
	if m&0x02 != 0 {
		d.bytes()
	}
}

func (d *decoder) enter() bool {
	d.depth++
	if d.depth > maxDepth {
		d.fail()
	}
	return !d.bad
}

func (d *decoder) leave() { d.depth-- }

func (d *decoder) extensionObject() {
	d.nodeID(false)
	switch d.u8() {
	case 0:
	case 1, 2:
		d.bytes()
	default:
		d.fail()
	}
}

// variantView is what a Variant holds at its top: its type, whether it is
// an array (and how long), and a scalar's bytes.
type variantView struct {
	typ    uint8
	array  bool
	n      int
	scalar []byte // the encoded scalar value
}

// variant reads a Variant.
func (d *decoder) variant() variantView {
	var v variantView
	if !d.enter() {
		return v
	}
	defer d.leave()
	enc := d.u8()
	v.typ = enc & 0x3F
	if v.typ == 0 { // null
		if enc != 0 {
			d.fail()
		}
		return v
	}
	if enc&0x80 != 0 {
		v.array = true
		min := 1
		if n := fixedSize[min8(v.typ, typeDiagnosticInfo)]; n > 0 {
			min = n
		}
		v.n = d.arrayLen(min)
		for range v.n {
			d.builtin(v.typ)
			if d.bad {
				return v
			}
		}
		if enc&0x40 != 0 {
			dims := d.arrayLen(4)
			d.skip(4 * dims)
		}
		return v
	}
	if enc&0x40 != 0 {
		d.fail() // dimensions without an array
		return v
	}
	start := d.pos
	d.builtin(v.typ)
	if !d.bad {
		v.scalar = d.b[start:d.pos]
	}
	return v
}

func min8(a, b uint8) uint8 {
	if a < b {
		return a
	}
	return b
}

// dataValue reads a DataValue and returns its value.
func (d *decoder) dataValue() variantView {
	var v variantView
	if !d.enter() {
		return v
	}
	defer d.leave()
	m := d.u8()
	if m&^0x3F != 0 {
		d.fail()
	}
	if m&0x01 != 0 {
		v = d.variant()
	}
	if m&0x02 != 0 {
		d.u32()
	}
	if m&0x04 != 0 {
		d.u64()
	}
	if m&0x10 != 0 {
		d.u16()
	}
	if m&0x08 != 0 {
		d.u64()
	}
	if m&0x20 != 0 {
		d.u16()
	}
	return v
}

func (d *decoder) diagnosticInfo() {
	if !d.enter() {
		return
	}
	defer d.leave()
	m := d.u8()
	if m&0x80 != 0 {
		d.fail()
	}
	for bit := uint8(0x01); bit <= 0x08; bit <<= 1 {
		if m&bit != 0 {
			d.i32()
		}
	}
	if m&0x10 != 0 {
		d.bytes()
	}
	if m&0x20 != 0 {
		d.u32()
	}
	if m&0x40 != 0 {
		d.diagnosticInfo()
	}
}

// requestHeader reads a RequestHeader (OPC 10000-4, 7.33).
func (d *decoder) requestHeader() {
	d.nodeID(false) // AuthenticationToken
	d.u64()         // Timestamp
	d.u32()         // RequestHandle
	d.u32()         // ReturnDiagnostics
	d.bytes()       // AuditEntryId
	d.u32()         // TimeoutHint
	d.extensionObject()
}

// float64 of raw bits, for value summaries.
func f64(b uint64) float64 { return math.Float64frombits(b) }
func f32(b uint32) float64 { return float64(math.Float32frombits(b)) }

// writeValues decodes the NodesToWrite of a WriteRequest (after its
// RequestHeader) and calls fn for each, until one does not decode.
func (d *decoder) writeValues(fn func(i int, node nodeView, attr uint32, v variantView)) {
	n := d.arrayLen(HeaderLen)
	for i := range n {
		node := d.nodeID(false)
		attr := d.u32()
		d.bytes() // IndexRange
		v := d.dataValue()
		if !d.ok() {
			return
		}
		fn(i, node, attr, v)
	}
}

// methodCalls decodes the MethodsToCall of a CallRequest (after its
// RequestHeader) and calls fn for each, until one does not decode.
func (d *decoder) methodCalls(fn func(i int, object, method nodeView, args int)) {
	n := d.arrayLen(HeaderLen)
	for i := range n {
		object := d.nodeID(false)
		method := d.nodeID(false)
		args := d.arrayLen(1)
		for range args {
			d.variant()
		}
		if !d.ok() {
			return
		}
		fn(i, object, method, args)
	}
}
