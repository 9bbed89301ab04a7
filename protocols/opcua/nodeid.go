package opcua

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
)

// NodeID is a NodeId as a conduit names it (`write_nodes:`,
// `call_methods:`), in the OPC UA text form: "i=2258", "ns=2;s=Line3.Order",
// "ns=3;g=09087e75-8e5e-499b-954f-f2a9603db28a", "ns=1;b=M/RbKBsRVkePCePcx24oRA==".
type NodeID struct {
	NS   uint16
	Kind uint8  // NodeNumeric, NodeString, NodeGUID or NodeByteString
	Num  uint32 // NodeNumeric
	ID   string // the identifier of the other kinds, as encoded (a GUID's 16 bytes)
}

// ParseNodeID parses the text form of a NodeId. Namespace URIs (nsu=)
// are refused: the gateway cannot resolve them without asking the server.
func ParseNodeID(s string) (NodeID, error) {
	var n NodeID
	rest := s
	if strings.HasPrefix(rest, "nsu=") {
		return n, fmt.Errorf("NodeId %q names its namespace by URI (nsu=): write its index, such as ns=2;s=...", s)
	}
	if strings.HasPrefix(rest, "ns=") {
		nsText, after, ok := strings.Cut(rest[3:], ";")
		ns, err := strconv.ParseUint(nsText, 10, 16)
		if !ok || err != nil {
			return n, fmt.Errorf("NodeId %q: the namespace index after ns= must be a number 0-65535 followed by ';'", s)
		}
		n.NS, rest = uint16(ns), after
	}
	if len(rest) < 2 || rest[1] != '=' {
		return n, fmt.Errorf("NodeId %q: write i=NUMBER, s=STRING, g=GUID or b=BASE64 (optionally after ns=INDEX;)", s)
	}
	id := rest[2:]
	switch rest[0] {
	case 'i':
		v, err := strconv.ParseUint(id, 10, 32)
		if err != nil {
			return n, fmt.Errorf("NodeId %q: i= takes a number 0-4294967295", s)
		}
		n.Kind, n.Num = NodeNumeric, uint32(v)
	case 's':
		if id == "" {
			return n, fmt.Errorf("NodeId %q: s= takes a non-empty string", s)
		}
		n.Kind, n.ID = NodeString, id
	case 'g':
		g, err := parseGUID(id)
		if err != nil {
			return n, fmt.Errorf("NodeId %q: %v", s, err)
		}
		n.Kind, n.ID = NodeGUID, string(g[:])
	case 'b':
		b, err := base64.StdEncoding.DecodeString(id)
		if err != nil || len(b) == 0 {
			return n, fmt.Errorf("NodeId %q: b= takes a non-empty base64 byte string", s)
		}
		n.Kind, n.ID = NodeByteString, string(b)
	default:
		return n, fmt.Errorf("NodeId %q: identifier type %q is not i, s, g or b", s, rest[:1])
	}
	return n, nil
}

// parseGUID parses 8-4-4-4-12 hex digits into the binary encoding
// (Data1-3 little endian, Data4 as is).
func parseGUID(s string) ([16]byte, error) {
	var g [16]byte
	p := strings.Split(s, "-")
	if len(p) != 5 || len(p[0]) != 8 || len(p[1]) != 4 || len(p[2]) != 4 || len(p[3]) != 4 || len(p[4]) != 12 {
		return g, fmt.Errorf("g= takes a GUID such as 09087e75-8e5e-499b-954f-f2a9603db28a")
	}
	raw, err := hex.DecodeString(strings.Join(p, ""))
	if err != nil {
		return g, fmt.Errorf("g= takes a GUID of hex digits")
	}
	binary.LittleEndian.PutUint32(g[0:], binary.BigEndian.Uint32(raw[0:]))
	binary.LittleEndian.PutUint16(g[4:], binary.BigEndian.Uint16(raw[4:]))
	binary.LittleEndian.PutUint16(g[6:], binary.BigEndian.Uint16(raw[6:]))
	copy(g[8:], raw[8:])
	return g, nil
}

// String writes the NodeId in its text form.
func (n NodeID) String() string {
	return string(appendNode(nil, nodeView{ns: n.NS, kind: n.Kind, num: n.Num, id: []byte(n.ID)}))
}

// appendNode appends the text form of a decoded NodeId.
func appendNode(dst []byte, n nodeView) []byte {
	if n.ns != 0 {
		dst = append(dst, "ns="...)
		dst = strconv.AppendUint(dst, uint64(n.ns), 10)
		dst = append(dst, ';')
	}
	switch n.kind {
	case NodeNumeric:
		dst = append(dst, "i="...)
		dst = strconv.AppendUint(dst, uint64(n.num), 10)
	case NodeString:
		dst = append(dst, "s="...)
		dst = append(dst, n.id...)
	case NodeGUID:
		dst = append(dst, "g="...)
		if len(n.id) == 16 {
			var raw [16]byte
			binary.BigEndian.PutUint32(raw[0:], binary.LittleEndian.Uint32(n.id[0:]))
			binary.BigEndian.PutUint16(raw[4:], binary.LittleEndian.Uint16(n.id[4:]))
			binary.BigEndian.PutUint16(raw[6:], binary.LittleEndian.Uint16(n.id[6:]))
			copy(raw[8:], n.id[8:])
			dst = hex.AppendEncode(dst, raw[0:4])
			dst = append(dst, '-')
			dst = hex.AppendEncode(dst, raw[4:6])
			dst = append(dst, '-')
			dst = hex.AppendEncode(dst, raw[6:8])
			dst = append(dst, '-')
			dst = hex.AppendEncode(dst, raw[8:10])
			dst = append(dst, '-')
			dst = hex.AppendEncode(dst, raw[10:16])
		}
	case NodeByteString:
		dst = append(dst, "b="...)
		dst = base64.StdEncoding.AppendEncode(dst, n.id)
	}
	return dst
}

// matches reports whether a decoded NodeId is n, without allocating.
func (n *NodeID) matches(v nodeView) bool {
	if n.NS != v.ns || n.Kind != v.kind {
		return false
	}
	if n.Kind == NodeNumeric {
		return n.Num == v.num
	}
	return n.ID == string(v.id)
}

// nodeSet is a conduit's list of NodeIds; nil allows any.
type nodeSet []NodeID

func (s nodeSet) has(v nodeView) bool {
	for i := range s {
		if s[i].matches(v) {
			return true
		}
	}
	return false
}
