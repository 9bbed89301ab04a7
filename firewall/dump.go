package firewall

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"

	"golang.org/x/sys/unix"
)

// Rules are compared in their netlink form instead of decoded into
// google/nftables expressions: the NFTA_RULE_EXPRESSIONS attribute Apply
// sends and the one the kernel dumps back hold the same attributes, except
// for a few the kernel fills in on its own and the names of anonymous sets.
// ruleText turns either into the same line: attributes sorted by type,
// values in hex, nested attributes recursively, kernel-filled defaults and
// set IDs left out, anonymous sets replaced by their contents. Any other
// difference (a changed port, an added or removed expression, another
// verdict) gives another line.

const nlaTypeMask = ^uint16(unix.NLA_F_NESTED | unix.NLA_F_NET_BYTEORDER)

// nftaBitwiseOp is NFTA_BITWISE_OP (linux/netfilter/nf_tables.h), which
// x/sys/unix does not name.
const nftaBitwiseOp = 6

// attr is one netlink attribute: its type without the NLA_F_* flags.
type attr struct {
	typ uint16
	val []byte
}

// attrs splits b into attributes; ok is false when b is not a well-formed
// attribute list (then it is a plain value).
func attrs(b []byte, out []attr) ([]attr, bool) {
	for len(b) > 0 {
		if len(b) < 4 {
			return out, false
		}
		n := int(binary.NativeEndian.Uint16(b[0:2]))
		if n < 4 || n > len(b) {
			return out, false
		}
		out = append(out, attr{typ: binary.NativeEndian.Uint16(b[2:4]) & nlaTypeMask, val: b[4:n]})
		b = b[min(len(b), nlAlign(n)):]
	}
	return out, true
}

// ruleNormaliser writes normalised rule lines; it reuses its buffers.
type ruleNormaliser struct {
	out     []byte
	scratch [][]attr // attribute lists by nesting depth
	// anon returns the description of an anonymous set by the name or
	// the batch ID (NFTA_LOOKUP_SET_ID, nil after the apply) the lookup
	// uses: before the apply every anonymous set is called "__set%d" and
	// known by its ID, after it by the name the kernel gave it.
	anon func(name string, id []byte) (string, bool)
}

// line returns the normalised text of one rule's expressions and user data.
func (n *ruleNormaliser) line(exprs, userData []byte) (string, error) {
	n.out = n.out[:0]
	list, ok := n.attrs(0, exprs)
	if !ok {
		return "", fmt.Errorf("malformed rule expressions")
	}
	for i, e := range list {
		if i > 0 {
			n.out = append(n.out, ' ')
		}
		if err := n.expr(e.val); err != nil {
			return "", err
		}
	}
	if len(userData) > 0 {
		n.out = append(n.out, " userdata="...)
		n.out = hex.AppendEncode(n.out, userData)
	}
	return string(n.out), nil
}

// attrs splits b into the scratch list of the given depth.
func (n *ruleNormaliser) attrs(depth int, b []byte) ([]attr, bool) {
	for len(n.scratch) <= depth {
		n.scratch = append(n.scratch, make([]attr, 0, 16))
	}
	list, ok := attrs(b, n.scratch[depth][:0])
	n.scratch[depth] = list[:0]
	return list, ok
}

func (n *ruleNormaliser) expr(b []byte) error {
	fields, ok := n.attrs(1, b)
	if !ok {
		return fmt.Errorf("malformed expression")
	}
	var name, data []byte
	for _, f := range fields {
		switch f.typ {
		case unix.NFTA_EXPR_NAME:
			name = bytes.TrimRight(f.val, "\x00")
		case unix.NFTA_EXPR_DATA:
			data = f.val
		}
	}
	n.out = append(n.out, name...)
	da, ok := n.attrs(2, data)
	if !ok {
		return fmt.Errorf("malformed data of expression %s", name)
	}
	var setID []byte
	if string(name) == "lookup" {
		for _, a := range da {
			if a.typ == unix.NFTA_LOOKUP_SET_ID {
				setID = a.val
			}
		}
	}
	da = normaliseExpr(string(name), da)
	sortAttrs(da)
	n.out = append(n.out, '(')
	for i, a := range da {
		if i > 0 {
			n.out = append(n.out, ' ')
		}
		if string(name) == "lookup" && a.typ == unix.NFTA_LOOKUP_SET {
			set := string(bytes.TrimRight(a.val, "\x00"))
			if desc, ok := n.anon(set, setID); ok {
				set = desc
			}
			n.out = append(n.out, "set="...)
			n.out = append(n.out, set...)
			continue
		}
		n.value(a, 3)
	}
	n.out = append(n.out, ')')
	return nil
}

// value writes TYPE=HEX, or TYPE{...} for a nested attribute list; depth
// selects the scratch list for the nested attributes.
func (n *ruleNormaliser) value(a attr, depth int) {
	n.out = appendUint(n.out, uint64(a.typ))
	if nested, ok := n.attrs(depth, a.val); ok && len(nested) > 0 {
		sortAttrs(nested)
		n.out = append(n.out, '{')
		for i, c := range nested {
			if i > 0 {
				n.out = append(n.out, ' ')
			}
			n.value(c, depth+1)
		}
		n.out = append(n.out, '}')
		return
	}
	n.out = append(n.out, '=')
	n.out = hex.AppendEncode(n.out, a.val)
}

// sortAttrs sorts a short attribute list by type, stably (insertion sort:
// lists have a handful of attributes and are mostly sorted already).
func sortAttrs(l []attr) {
	for i := 1; i < len(l); i++ {
		for j := i; j > 0 && l[j].typ < l[j-1].typ; j-- {
			l[j], l[j-1] = l[j-1], l[j]
		}
	}
}

func appendUint(b []byte, v uint64) []byte {
	var tmp [20]byte
	i := len(tmp)
	for {
		i--
		tmp[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			break
		}
	}
	return append(b, tmp[i:]...)
}

// normaliseExpr drops the attributes whose presence depends on who wrote
// the expression rather than on what it does: the kernel dumps some
// defaults it was not sent, and set IDs only exist inside a batch.
func normaliseExpr(name string, da []attr) []attr {
	out := da[:0]
	var protoMin []byte
	if name == "redir" {
		for _, a := range da {
			if a.typ == unix.NFTA_REDIR_REG_PROTO_MIN {
				protoMin = a.val
			}
		}
	}
	for _, a := range da {
		switch {
		case name == "lookup" && a.typ == unix.NFTA_LOOKUP_SET_ID:
			continue
		case name == "lookup" && a.typ == unix.NFTA_LOOKUP_FLAGS && allZero(a.val):
			continue
		case name == "redir" && a.typ == unix.NFTA_REDIR_REG_PROTO_MAX && bytes.Equal(a.val, protoMin):
			// The kernel reports max = min when only min was sent (as nft does).
			continue
		case name == "bitwise" && a.typ == nftaBitwiseOp && allZero(a.val):
			continue // NFT_BITWISE_BOOL, the only operation before kernel 5.x
		case name == "objref" && a.typ == unix.NFTA_OBJREF_IMM_NAME, name == "log" && a.typ == unix.NFTA_LOG_PREFIX:
			// Strings: the kernel terminates them, the library does not.
			a.val = bytes.TrimRight(a.val, "\x00")
		}
		out = append(out, a)
	}
	return out
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// ruleMsg is what a NEWRULE message (sent or dumped) says about one rule.
type ruleMsg struct {
	chain    string
	exprs    []byte
	userData []byte
}

func parseRuleMsg(b []byte) (ruleMsg, error) {
	var r ruleMsg
	list, ok := attrs(b, nil)
	if !ok {
		return r, fmt.Errorf("malformed rule message")
	}
	for _, a := range list {
		switch a.typ {
		case unix.NFTA_RULE_CHAIN:
			r.chain = string(bytes.TrimRight(a.val, "\x00"))
		case unix.NFTA_RULE_EXPRESSIONS:
			r.exprs = a.val
		case unix.NFTA_RULE_USERDATA:
			r.userData = a.val
		}
	}
	return r, nil
}

// dumpRules reads every rule of table inet zonegate in one netlink dump
// (NFT_MSG_GETRULE with only the table set) and returns them with their
// normalised lines, in the kernel's order (chain by chain).
func dumpRules(c *rawConn, anon func(name string, id []byte) (string, bool)) ([]kernelRule, error) {
	return dumpChainRules(c, "", anon)
}

// dumpChainRules dumps the rules of one chain, or of all chains when chain
// is empty.
func dumpChainRules(c *rawConn, chain string, anon func(name string, id []byte) (string, bool)) ([]kernelRule, error) {
	table := appendAttr(nil, unix.NFTA_RULE_TABLE, append([]byte(TableName), 0))
	if chain != "" {
		table = appendAttr(table, unix.NFTA_RULE_CHAIN, append([]byte(chain), 0))
	}
	n := &ruleNormaliser{anon: anon}
	var rules []kernelRule
	err := c.dump(unix.NFT_MSG_GETRULE, unix.NFPROTO_INET, table, func(b []byte) error {
		r, err := parseRuleMsg(b)
		if err != nil {
			return err
		}
		line, err := n.line(r.exprs, r.userData)
		if err != nil {
			return fmt.Errorf("rule in chain %s: %w", r.chain, err)
		}
		rules = append(rules, kernelRule{chain: r.chain, line: line})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("dump the rules of table inet %s: %w", TableName, err)
	}
	return rules, nil
}

func appendAttr(b []byte, typ uint16, val []byte) []byte {
	b = binary.NativeEndian.AppendUint16(b, uint16(4+len(val)))
	b = binary.NativeEndian.AppendUint16(b, typ)
	b = append(b, val...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}
