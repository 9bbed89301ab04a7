package firewall

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// Stmt is one statement of a rule. Each statement renders itself as nft
// text and as the netlink expressions nft generates for that text,
// including the protocol dependencies nft adds implicitly.
type Stmt interface {
	text() string
	exprs(c *ruleCtx) []expr.Any
}

// ruleCtx tracks, within one rule, which implicit dependencies have been
// emitted and which anonymous sets the rule needs.
type ruleCtx struct {
	nfproto byte
	l4proto byte
	l4known bool
	anon    []anonSet
}

type anonSet struct {
	set    *nftables.Set
	elems  []nftables.SetElement
	lookup *expr.Lookup // filled with the set's name and ID once it is added
}

func (c *ruleCtx) needNfproto(p byte) []expr.Any {
	if c.nfproto == p {
		return nil
	}
	c.nfproto = p
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{p}},
	}
}

func (c *ruleCtx) needL4proto(p byte) []expr.Any {
	if c.l4known && c.l4proto == p {
		return nil
	}
	c.l4known, c.l4proto = true, p
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{p}},
	}
}

// lookupAnon adds a constant anonymous set to the rule and returns the lookup.
func (c *ruleCtx) lookupAnon(key nftables.SetDatatype, interval bool, elems []nftables.SetElement) *expr.Lookup {
	s := &nftables.Set{Anonymous: true, Constant: true, Interval: interval, KeyType: key}
	l := &expr.Lookup{SourceRegister: 1}
	c.anon = append(c.anon, anonSet{set: s, elems: elems, lookup: l})
	return l
}

// Verdict ends a rule.
type Verdict struct {
	Kind  string // accept, drop, return, jump
	Chain string // for jump
}

// Verdicts used by the compiler.
var (
	Accept = Verdict{Kind: "accept"}
	Drop   = Verdict{Kind: "drop"}
	Return = Verdict{Kind: "return"}
)

// Jump returns a jump to a regular chain.
func Jump(chain string) Verdict { return Verdict{Kind: "jump", Chain: chain} }

func (v Verdict) text() string {
	if v.Kind == "jump" {
		return "jump " + v.Chain
	}
	return v.Kind
}

func (v Verdict) expr() *expr.Verdict {
	switch v.Kind {
	case "accept":
		return &expr.Verdict{Kind: expr.VerdictAccept}
	case "drop":
		return &expr.Verdict{Kind: expr.VerdictDrop}
	case "return":
		return &expr.Verdict{Kind: expr.VerdictReturn}
	case "jump":
		return &expr.Verdict{Kind: expr.VerdictJump, Chain: v.Chain}
	}
	panic("firewall: unknown verdict " + v.Kind)
}

func (v Verdict) exprs(*ruleCtx) []expr.Any { return []expr.Any{v.expr()} }

func ifnameBytes(name string) []byte {
	b := make([]byte, 16)
	copy(b, name)
	return b
}

func ifnameKey(out bool) expr.MetaKey {
	if out {
		return expr.MetaKeyOIFNAME
	}
	return expr.MetaKeyIIFNAME
}

func ifnameWord(out bool) string {
	if out {
		return "oifname"
	}
	return "iifname"
}

// MatchIfname matches the input (or output) interface name.
type MatchIfname struct {
	Out  bool
	Name string
}

func (m MatchIfname) text() string { return fmt.Sprintf("%s %q", ifnameWord(m.Out), m.Name) }
func (m MatchIfname) exprs(*ruleCtx) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: ifnameKey(m.Out), Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: ifnameBytes(m.Name)},
	}
}

// MatchIfnameSet matches the interface name against a named set.
type MatchIfnameSet struct {
	Out bool
	Set string
}

func (m MatchIfnameSet) text() string { return fmt.Sprintf("%s @%s", ifnameWord(m.Out), m.Set) }
func (m MatchIfnameSet) exprs(*ruleCtx) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: ifnameKey(m.Out), Register: 1},
		&expr.Lookup{SourceRegister: 1, SetName: m.Set},
	}
}

// VmapIfname looks the input interface name up in a verdict map.
type VmapIfname struct{ Map string }

func (m VmapIfname) text() string { return "iifname vmap @" + m.Map }
func (m VmapIfname) exprs(*ruleCtx) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyIIFNAME, Register: 1},
		&expr.Lookup{SourceRegister: 1, SetName: m.Map, DestRegister: 0, IsDestRegSet: true},
	}
}

// VmapIfnamePair looks iifname . oifname up in a verdict map.
type VmapIfnamePair struct{ Map string }

func (m VmapIfnamePair) text() string { return "iifname . oifname vmap @" + m.Map }
func (m VmapIfnamePair) exprs(*ruleCtx) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyIIFNAME, Register: 1},
		&expr.Meta{Key: expr.MetaKeyOIFNAME, Register: 2},
		&expr.Lookup{SourceRegister: 1, SetName: m.Map, DestRegister: 0, IsDestRegSet: true},
	}
}

// Conntrack states (bits of ct state).
const (
	CtInvalid     uint32 = 1
	CtEstablished uint32 = 2
	CtRelated     uint32 = 4
	CtNew         uint32 = 8
)

// MatchCtState matches packets whose conntrack state is one of States.
type MatchCtState struct{ States uint32 }

func (m MatchCtState) text() string {
	var names []string
	for _, s := range []struct {
		bit  uint32
		name string
	}{{CtInvalid, "invalid"}, {CtEstablished, "established"}, {CtRelated, "related"}, {CtNew, "new"}} {
		if m.States&s.bit != 0 {
			names = append(names, s.name)
		}
	}
	return "ct state " + strings.Join(names, ",")
}

func (m MatchCtState) exprs(*ruleCtx) []expr.Any {
	return ctBits(expr.CtKeySTATE, m.States)
}

func ctBits(key expr.CtKey, mask uint32) []expr.Any {
	return []expr.Any{
		&expr.Ct{Key: key, Register: 1},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: nativeU32(mask), Xor: nativeU32(0)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: nativeU32(0)},
	}
}

// MatchCtDNAT matches connections whose destination was rewritten (by our
// redirect to the proxy of an inspected protocol).
type MatchCtDNAT struct{}

func (MatchCtDNAT) text() string { return "ct status dnat" }
func (MatchCtDNAT) exprs(*ruleCtx) []expr.Any {
	return ctBits(expr.CtKeySTATUS, 0x20) // IPS_DST_NAT
}

func nativeU32(v uint32) []byte {
	b := make([]byte, 4)
	// nft registers hold host byte order for ct state/status; every
	// supported target (x86, arm, arm64) is little-endian.
	b[0], b[1], b[2], b[3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
	return b
}

// Family is an IP version.
type Family uint8

// Address families.
const (
	IPv4 Family = 4
	IPv6 Family = 6
)

func familyOf(a netip.Addr) Family {
	if a.Is4() {
		return IPv4
	}
	return IPv6
}

func (f Family) nfproto() byte {
	if f == IPv4 {
		return unix.NFPROTO_IPV4
	}
	return unix.NFPROTO_IPV6
}

func (f Family) word() string {
	if f == IPv4 {
		return "ip"
	}
	return "ip6"
}

func (f Family) addrOffset(dst bool) (off, n uint32) {
	switch {
	case f == IPv4 && dst:
		return 16, 4
	case f == IPv4:
		return 12, 4
	case dst:
		return 24, 16
	}
	return 8, 16
}

func (f Family) setType() nftables.SetDatatype {
	if f == IPv4 {
		return nftables.TypeIPAddr
	}
	return nftables.TypeIP6Addr
}

// MatchAddr matches the source (or destination) address against a list of
// single addresses, or against a named set when Set is given.
type MatchAddr struct {
	Family Family
	Dst    bool
	Addrs  []netip.Addr // sorted; one address compiles to a comparison
	Set    string
}

func (m MatchAddr) field() string {
	if m.Dst {
		return "daddr"
	}
	return "saddr"
}

func (m MatchAddr) text() string {
	prefix := m.Family.word() + " " + m.field() + " "
	if m.Set != "" {
		return prefix + "@" + m.Set
	}
	if len(m.Addrs) == 1 {
		return prefix + m.Addrs[0].String()
	}
	s := make([]string, len(m.Addrs))
	for i, a := range m.Addrs {
		s[i] = a.String()
	}
	return prefix + "{ " + strings.Join(s, ", ") + " }"
}

func (m MatchAddr) exprs(c *ruleCtx) []expr.Any {
	out := c.needNfproto(m.Family.nfproto())
	off, n := m.Family.addrOffset(m.Dst)
	out = append(out, &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: n})
	switch {
	case m.Set != "":
		out = append(out, &expr.Lookup{SourceRegister: 1, SetName: m.Set})
	case len(m.Addrs) == 1:
		out = append(out, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: m.Addrs[0].AsSlice()})
	default:
		elems := make([]nftables.SetElement, len(m.Addrs))
		for i, a := range m.Addrs {
			elems[i] = nftables.SetElement{Key: a.AsSlice()}
		}
		out = append(out, c.lookupAnon(m.Family.setType(), false, elems))
	}
	return out
}

// PortRange is an inclusive range of ports.
type PortRange struct{ Lo, Hi uint16 }

func (p PortRange) String() string {
	if p.Lo == p.Hi {
		return strconv.Itoa(int(p.Lo))
	}
	return fmt.Sprintf("%d-%d", p.Lo, p.Hi)
}

// MatchL4 matches a whole transport protocol.
type MatchL4 struct{ Proto byte }

var l4names = map[byte]string{unix.IPPROTO_TCP: "tcp", unix.IPPROTO_UDP: "udp", unix.IPPROTO_ICMP: "icmp", unix.IPPROTO_ICMPV6: "ipv6-icmp"}

func (m MatchL4) text() string { return "meta l4proto " + l4names[m.Proto] }
func (m MatchL4) exprs(c *ruleCtx) []expr.Any {
	c.l4known = false // explicit match is always emitted
	return c.needL4proto(m.Proto)
}

// MatchPorts matches the destination port of tcp or udp.
type MatchPorts struct {
	Proto  byte        // IPPROTO_TCP or IPPROTO_UDP
	Ranges []PortRange // sorted, not overlapping, not adjacent
}

func (m MatchPorts) text() string {
	prefix := l4names[m.Proto] + " dport "
	if len(m.Ranges) == 1 {
		return prefix + m.Ranges[0].String()
	}
	s := make([]string, len(m.Ranges))
	for i, r := range m.Ranges {
		s[i] = r.String()
	}
	return prefix + "{ " + strings.Join(s, ", ") + " }"
}

func be16(v uint16) []byte { return []byte{byte(v >> 8), byte(v)} }

func (m MatchPorts) exprs(c *ruleCtx) []expr.Any {
	out := c.needL4proto(m.Proto)
	out = append(out, &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2})
	if len(m.Ranges) == 1 {
		r := m.Ranges[0]
		if r.Lo == r.Hi {
			return append(out, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: be16(r.Lo)})
		}
		return append(out,
			&expr.Cmp{Op: expr.CmpOpGte, Register: 1, Data: be16(r.Lo)},
			&expr.Cmp{Op: expr.CmpOpLte, Register: 1, Data: be16(r.Hi)})
	}
	interval := slices.ContainsFunc(m.Ranges, func(r PortRange) bool { return r.Lo != r.Hi })
	var elems []nftables.SetElement
	if !interval {
		for _, r := range m.Ranges {
			elems = append(elems, nftables.SetElement{Key: be16(r.Lo)})
		}
	} else {
		spans := make([]span, len(m.Ranges))
		for i, r := range m.Ranges {
			spans[i] = span{be16(r.Lo), be16(r.Hi)}
		}
		elems = intervalElems(spans)
	}
	return append(out, c.lookupAnon(nftables.TypeInetService, interval, elems))
}

// MatchICMP matches ICMP or ICMPv6 message types.
type MatchICMP struct {
	V6    bool
	Types []uint8 // sorted
	Names []string
}

func (m MatchICMP) text() string {
	prefix := "icmp type "
	if m.V6 {
		prefix = "icmpv6 type "
	}
	if len(m.Names) == 1 {
		return prefix + m.Names[0]
	}
	return prefix + "{ " + strings.Join(m.Names, ", ") + " }"
}

func (m MatchICMP) exprs(c *ruleCtx) []expr.Any {
	fam, proto, key := IPv4, byte(unix.IPPROTO_ICMP), nftables.TypeICMPType
	if m.V6 {
		fam, proto, key = IPv6, byte(unix.IPPROTO_ICMPV6), nftables.TypeICMP6Type
	}
	out := c.needNfproto(fam.nfproto())
	out = append(out, c.needL4proto(proto)...)
	out = append(out, &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 0, Len: 1})
	if len(m.Types) == 1 {
		return append(out, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{m.Types[0]}})
	}
	elems := make([]nftables.SetElement, len(m.Types))
	for i, t := range m.Types {
		elems[i] = nftables.SetElement{Key: []byte{t}}
	}
	return append(out, c.lookupAnon(key, false, elems))
}

// Counter adds to a named counter.
type Counter struct{ Name string }

func (m Counter) text() string { return fmt.Sprintf("counter name %q", m.Name) }
func (m Counter) exprs(*ruleCtx) []expr.Any {
	return []expr.Any{&expr.Objref{Type: int(nftables.ObjTypeCounter), Name: m.Name}}
}

// Limit matches while the packet rate stays under Rate per second.
type Limit struct {
	Rate  uint64
	Burst uint32
}

func (m Limit) text() string {
	return fmt.Sprintf("limit rate %d/second burst %d packets", m.Rate, m.Burst)
}
func (m Limit) exprs(*ruleCtx) []expr.Any {
	return []expr.Any{&expr.Limit{Type: expr.LimitTypePkts, Rate: m.Rate, Unit: expr.LimitTimeSecond, Burst: m.Burst}}
}

// Log sends the packet to an NFLOG group with a prefix.
type Log struct {
	Prefix string
	Group  uint16
}

func (m Log) text() string { return fmt.Sprintf("log prefix %q group %d", m.Prefix, m.Group) }
func (m Log) exprs(*ruleCtx) []expr.Any {
	return []expr.Any{&expr.Log{
		Key:   1<<unix.NFTA_LOG_PREFIX | 1<<unix.NFTA_LOG_GROUP,
		Group: m.Group,
		Data:  []byte(m.Prefix),
	}}
}

// Redirect sends the connection to a local port (the proxy of an inspected
// protocol).
type Redirect struct{ Port uint16 }

func (m Redirect) text() string { return fmt.Sprintf("redirect to :%d", m.Port) }
func (m Redirect) exprs(*ruleCtx) []expr.Any {
	return []expr.Any{
		&expr.Immediate{Register: 1, Data: be16(m.Port)},
		&expr.Redir{RegisterProtoMin: 1, Flags: unix.NF_NAT_RANGE_PROTO_SPECIFIED},
	}
}
