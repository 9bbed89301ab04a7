package firewall

import (
	"encoding/binary"
	"fmt"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// Rule messages are marshalled here, into one growing buffer, instead of
// through google/nftables' AddRule, which builds every attribute of every
// expression as its own allocation: for 20,000 rules that cost about as
// much as the kernel's work on the batch. The bytes are the ones
// google/nftables v0.3.0 produces (TestMarshalRuleLikeLibrary compares them
// for every rule of the example and of a generated model); expressions
// without a fast path here are marshalled by the library.

// nlBuf appends netlink attributes.
type nlBuf struct{ b []byte }

func (w *nlBuf) pad() {
	for len(w.b)%4 != 0 {
		w.b = append(w.b, 0)
	}
}

func (w *nlBuf) attr(typ uint16, val []byte) {
	w.b = binary.NativeEndian.AppendUint16(w.b, uint16(4+len(val)))
	w.b = binary.NativeEndian.AppendUint16(w.b, typ)
	w.b = append(w.b, val...)
	w.pad()
}

func (w *nlBuf) str0(typ uint16, s string) {
	w.b = binary.NativeEndian.AppendUint16(w.b, uint16(4+len(s)+1))
	w.b = binary.NativeEndian.AppendUint16(w.b, typ)
	w.b = append(w.b, s...)
	w.b = append(w.b, 0)
	w.pad()
}

func (w *nlBuf) u32(typ uint16, v uint32) {
	w.b = binary.NativeEndian.AppendUint16(w.b, 8)
	w.b = binary.NativeEndian.AppendUint16(w.b, typ)
	w.b = binary.BigEndian.AppendUint32(w.b, v)
}

// nest starts a nested attribute; end closes it.
func (w *nlBuf) nest(typ uint16) int {
	off := len(w.b)
	w.b = binary.NativeEndian.AppendUint16(w.b, 0)
	w.b = binary.NativeEndian.AppendUint16(w.b, unix.NLA_F_NESTED|typ)
	return off
}

func (w *nlBuf) end(off int) {
	binary.NativeEndian.PutUint16(w.b[off:], uint16(len(w.b)-off))
}

// appendRuleMsg appends the data of a NEWRULE message (struct nfgenmsg
// included) adding r to the end of its chain.
func appendRuleMsg(b []byte, r *kernelRule) ([]byte, error) {
	w := nlBuf{b: append(b, unix.NFPROTO_INET, unix.NFNETLINK_V0, 0, 0)}
	w.str0(unix.NFTA_RULE_TABLE, TableName)
	w.str0(unix.NFTA_RULE_CHAIN, r.chain)
	exprs := w.nest(unix.NFTA_RULE_EXPRESSIONS)
	for _, e := range r.exprs {
		elem := w.nest(unix.NFTA_LIST_ELEM)
		if err := w.expr(e); err != nil {
			return nil, err
		}
		w.end(elem)
	}
	w.end(exprs)
	if r.userData != nil {
		w.attr(unix.NFTA_RULE_USERDATA, r.userData)
	}
	return w.b, nil
}

// expr appends the name and data of one expression.
func (w *nlBuf) expr(e expr.Any) error {
	var name string
	switch x := e.(type) {
	case *expr.Meta:
		name = "meta"
	case *expr.Cmp:
		name = "cmp"
	case *expr.Payload:
		if x.OperationType == expr.PayloadLoad && x.CsumType == 0 {
			name = "payload"
		}
	case *expr.Lookup:
		name = "lookup"
	case *expr.Objref:
		name = "objref"
	case *expr.Verdict, *expr.Immediate:
		name = "immediate"
	case *expr.Bitwise:
		name = "bitwise"
	case *expr.Ct:
		name = "ct"
	}
	if name == "" {
		b, err := expr.Marshal(unix.NFPROTO_INET, e)
		if err != nil {
			return fmt.Errorf("marshal expression %T: %w", e, err)
		}
		w.b = append(w.b, b...)
		return nil
	}
	w.str0(unix.NFTA_EXPR_NAME, name)
	data := w.nest(unix.NFTA_EXPR_DATA)
	switch x := e.(type) {
	case *expr.Meta:
		w.u32(unix.NFTA_META_KEY, uint32(x.Key))
		if x.SourceRegister {
			w.u32(unix.NFTA_META_SREG, x.Register)
		} else {
			w.u32(unix.NFTA_META_DREG, x.Register)
		}
	case *expr.Cmp:
		w.u32(unix.NFTA_CMP_SREG, x.Register)
		w.u32(unix.NFTA_CMP_OP, uint32(x.Op))
		v := w.nest(unix.NFTA_CMP_DATA)
		w.attr(unix.NFTA_DATA_VALUE, x.Data)
		w.end(v)
	case *expr.Payload:
		w.u32(unix.NFTA_PAYLOAD_DREG, x.DestRegister)
		w.u32(unix.NFTA_PAYLOAD_BASE, uint32(x.Base))
		w.u32(unix.NFTA_PAYLOAD_OFFSET, x.Offset)
		w.u32(unix.NFTA_PAYLOAD_LEN, x.Len)
	case *expr.Lookup:
		if x.SourceRegister != 0 {
			w.u32(unix.NFTA_LOOKUP_SREG, x.SourceRegister)
		}
		if x.IsDestRegSet {
			w.u32(unix.NFTA_LOOKUP_DREG, x.DestRegister)
		}
		if x.Invert {
			w.u32(unix.NFTA_LOOKUP_FLAGS, unix.NFT_LOOKUP_F_INV)
		}
		w.str0(unix.NFTA_LOOKUP_SET, x.SetName)
		w.u32(unix.NFTA_LOOKUP_SET_ID, x.SetID)
	case *expr.Objref:
		w.u32(unix.NFTA_OBJREF_IMM_TYPE, uint32(x.Type))
		w.attr(unix.NFTA_OBJREF_IMM_NAME, []byte(x.Name))
	case *expr.Verdict:
		w.u32(unix.NFTA_IMMEDIATE_DREG, unix.NFT_REG_VERDICT)
		d := w.nest(unix.NFTA_IMMEDIATE_DATA)
		v := w.nest(unix.NFTA_DATA_VERDICT)
		w.u32(unix.NFTA_VERDICT_CODE, uint32(x.Kind))
		if x.Chain != "" {
			w.str0(unix.NFTA_VERDICT_CHAIN, x.Chain)
		}
		w.end(v)
		w.end(d)
	case *expr.Immediate:
		w.u32(unix.NFTA_IMMEDIATE_DREG, x.Register)
		d := w.nest(unix.NFTA_IMMEDIATE_DATA)
		w.attr(unix.NFTA_DATA_VALUE, x.Data)
		w.end(d)
	case *expr.Bitwise:
		w.u32(unix.NFTA_BITWISE_SREG, x.SourceRegister)
		w.u32(unix.NFTA_BITWISE_DREG, x.DestRegister)
		w.u32(unix.NFTA_BITWISE_LEN, x.Len)
		m := w.nest(unix.NFTA_BITWISE_MASK)
		w.attr(unix.NFTA_DATA_VALUE, x.Mask)
		w.end(m)
		o := w.nest(unix.NFTA_BITWISE_XOR)
		w.attr(unix.NFTA_DATA_VALUE, x.Xor)
		w.end(o)
	case *expr.Ct:
		w.u32(unix.NFTA_CT_KEY, uint32(x.Key))
		if x.SourceRegister {
			w.u32(unix.NFTA_CT_SREG, x.Register)
		} else {
			w.u32(unix.NFTA_CT_DREG, x.Register)
		}
		switch x.Key {
		case expr.CtKeySRC, expr.CtKeyDST, expr.CtKeyPROTOSRC, expr.CtKeyPROTODST:
			w.u32(unix.NFTA_CT_DIRECTION, x.Direction)
		}
	}
	w.end(data)
	return nil
}

// appendChainMsg appends the data of a NEWCHAIN message (struct nfgenmsg
// included), as google/nftables' AddChain marshals it.
func appendChainMsg(b []byte, c *nftables.Chain) []byte {
	w := nlBuf{b: append(b, unix.NFPROTO_INET, unix.NFNETLINK_V0, 0, 0)}
	w.str0(unix.NFTA_CHAIN_TABLE, TableName)
	w.str0(unix.NFTA_CHAIN_NAME, c.Name)
	if c.Hooknum != nil && c.Priority != nil {
		h := w.nest(unix.NFTA_CHAIN_HOOK)
		w.u32(unix.NFTA_HOOK_HOOKNUM, uint32(*c.Hooknum))
		w.u32(unix.NFTA_HOOK_PRIORITY, uint32(*c.Priority))
		if c.Device != "" {
			w.str0(unix.NFTA_HOOK_DEV, c.Device)
		}
		w.end(h)
	}
	if c.Policy != nil {
		w.u32(unix.NFTA_CHAIN_POLICY, uint32(*c.Policy))
	}
	if c.Type != "" {
		w.str0(unix.NFTA_CHAIN_TYPE, string(c.Type))
	}
	return w.b
}
