package firewall

import (
	"encoding/binary"
	"fmt"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// kernelRuleset is a Ruleset translated into google/nftables objects, the
// same shape Apply sends and readTable reads back.
type kernelRuleset struct {
	table    *nftables.Table
	counters []string
	sets     []kernelSet
	chains   []*nftables.Chain
	rules    []kernelRule
}

type kernelSet struct {
	set   *nftables.Set // nil when read back
	desc  setDesc
	elems []nftables.SetElement
}

type kernelRule struct {
	chain    string
	exprs    []expr.Any
	userData []byte
	anon     []anonSet
	line     string // normalised netlink form of the rule (see ruleNormaliser)
}

func newTable() *nftables.Table {
	return &nftables.Table{Name: TableName, Family: nftables.TableFamilyINet}
}

// toKernel translates the ruleset into netlink objects.
func toKernel(rs *Ruleset) *kernelRuleset {
	k := &kernelRuleset{table: newTable(), counters: rs.Counters}
	for _, s := range rs.Sets {
		ks := kernelSetOf(k.table, s)
		k.sets = append(k.sets, kernelSet{set: ks, desc: descOf(ks), elems: kernelElems(s)})
	}
	for _, ch := range rs.Chains {
		kc := &nftables.Chain{Name: ch.Name, Table: k.table}
		if ch.Hook != HookNone {
			kc.Hooknum = hookNum(ch.Hook)
			kc.Priority = nftables.ChainPriorityRef(nftables.ChainPriority(ch.Priority))
			kc.Type = nftables.ChainType(ch.Type)
			pol := nftables.ChainPolicyAccept
			if ch.Policy == "drop" {
				pol = nftables.ChainPolicyDrop
			}
			kc.Policy = &pol
		}
		k.chains = append(k.chains, kc)
		for _, r := range ch.Rules {
			ctx := &ruleCtx{}
			var exprs []expr.Any
			for _, s := range r.Stmts {
				exprs = append(exprs, s.exprs(ctx)...)
			}
			kr := kernelRule{chain: ch.Name, exprs: exprs, anon: ctx.anon}
			if r.Comment != "" {
				kr.userData = userdata.AppendString(nil, userdata.TypeComment, r.Comment)
			}
			k.rules = append(k.rules, kr)
		}
	}
	// Anonymous sets get their batch IDs here, above the IDs
	// google/nftables gives named sets (a counter from 1), so that rules
	// can be marshalled before and without the rest of the batch.
	id := uint32(anonSetIDBase)
	for _, r := range k.rules {
		for _, a := range r.anon {
			a.set.Table, a.set.ID, a.set.Name = k.table, id, "__set%d"
			a.lookup.SetName, a.lookup.SetID = a.set.Name, a.set.ID
			id++
		}
	}
	return k
}

// anonSetIDBase is the first batch ID of an anonymous set.
const anonSetIDBase = 1 << 30

func hookNum(h Hook) *nftables.ChainHook {
	switch h {
	case HookPrerouting:
		return nftables.ChainHookPrerouting
	case HookInput:
		return nftables.ChainHookInput
	case HookForward:
		return nftables.ChainHookForward
	}
	panic("firewall: unknown hook " + string(h))
}

func kernelSetOf(t *nftables.Table, s *Set) *nftables.Set {
	ks := &nftables.Set{Table: t, Name: s.Name}
	switch s.Key {
	case KeyIfname:
		// nft keeps strings in host byte order; with another byte order
		// in the set's metadata `nft list` prints the names as "".
		ks.KeyType, ks.KeyByteOrder = nftables.TypeIFName, binaryutil.NativeEndian
	case KeyIfnamePair:
		// A concatenated key, but no concat flag: nft sets that flag (and
		// the per-field lengths) only for interval sets.
		ks.KeyType = nftables.MustConcatSetType(nftables.TypeIFName, nftables.TypeIFName)
	case KeyIPv4:
		ks.KeyType, ks.Interval = nftables.TypeIPAddr, true
	case KeyIPv6:
		ks.KeyType, ks.Interval = nftables.TypeIP6Addr, true
	}
	if s.VerdictMap {
		ks.IsMap, ks.DataType = true, nftables.TypeVerdict
	}
	return ks
}

func kernelElems(s *Set) []nftables.SetElement {
	if s.Interval() {
		spans := make([]span, len(s.Elems))
		for i, e := range s.Elems {
			spans[i] = span{e.Range.From.AsSlice(), e.Range.To.AsSlice()}
		}
		return intervalElems(spans)
	}
	out := make([]nftables.SetElement, len(s.Elems))
	for i, e := range s.Elems {
		var key []byte
		for _, name := range e.Ifnames {
			key = append(key, ifnameBytes(name)...)
		}
		out[i] = nftables.SetElement{Key: key}
		if s.VerdictMap {
			out[i].VerdictData = e.Verdict.expr()
		}
	}
	return out
}

// elementBatch bounds the elements sent in one netlink attribute (whose
// length is 16 bits in google/nftables v0.3.0).
const elementBatch = 512

// queueHead adds the start of the whole-table batch to conn: create the
// table (so the delete cannot fail), delete it, create it again with its
// counters. The chains follow (chainMsgs), then queueSets, then the rules.
// Nothing is sent until Flush.
func (k *kernelRuleset) queueHead(conn *nftables.Conn) error {
	conn.AddTable(k.table)
	conn.DelTable(k.table)
	conn.AddTable(k.table)
	for _, name := range k.counters {
		conn.AddObj(&nftables.CounterObj{Table: k.table, Name: name})
	}
	return nil
}

// queueSets adds the named sets with their elements and the anonymous sets
// of the rules. Chains come before sets: verdict map elements jump to
// them. After an error the Conn must be thrown away: the failed message
// was not queued and the batch is incomplete.
func (k *kernelRuleset) queueSets(conn *nftables.Conn) error {
	for _, s := range k.sets {
		if err := conn.AddSet(s.set, nil); err != nil {
			return err
		}
		for i := 0; i < len(s.elems); i += elementBatch {
			if err := conn.SetAddElements(s.set, s.elems[i:min(i+elementBatch, len(s.elems))]); err != nil {
				return err
			}
		}
	}
	for _, r := range k.rules {
		for _, a := range r.anon {
			// The ID and name were given by toKernel; AddSet keeps them.
			if err := conn.AddSet(a.set, a.elems); err != nil {
				return err
			}
		}
	}
	return nil
}

// chainMsgs marshals the NEWCHAIN messages of all chains (appendChainMsg).
func (k *kernelRuleset) chainMsgs() []netlink.Message {
	buf := make([]byte, 0, 64*len(k.chains))
	ends := make([]int, len(k.chains))
	for i, c := range k.chains {
		buf = appendChainMsg(buf, c)
		ends[i] = len(buf)
	}
	msgs := make([]netlink.Message, len(k.chains))
	start := 0
	for i := range k.chains {
		msgs[i] = netlink.Message{
			Header: netlink.Header{Type: newChainType, Flags: netlink.Request | netlink.Create},
			Data:   buf[start:ends[i]:ends[i]],
		}
		start = ends[i]
	}
	return msgs
}

// ruleMsgs marshals the NEWRULE messages of all rules (appendRuleMsg),
// in order, into one buffer.
func (k *kernelRuleset) ruleMsgs() ([]netlink.Message, error) {
	buf := make([]byte, 0, 512*len(k.rules))
	ends := make([]int, len(k.rules))
	var err error
	for i := range k.rules {
		if buf, err = appendRuleMsg(buf, &k.rules[i]); err != nil {
			return nil, fmt.Errorf("rule %d of chain %s: %w", i, k.rules[i].chain, err)
		}
		ends[i] = len(buf)
	}
	msgs := make([]netlink.Message, len(k.rules))
	start := 0
	for i := range k.rules {
		msgs[i] = netlink.Message{
			Header: netlink.Header{Type: newRuleType, Flags: netlink.Request | netlink.Create | unix.NLM_F_APPEND},
			Data:   buf[start:ends[i]:ends[i]],
		}
		start = ends[i]
	}
	return msgs, nil
}

// batch returns the batch that replaces the whole table: queueHead, the
// chains, queueSets (marshalled by google/nftables), then the rules.
func (k *kernelRuleset) batch(rules []netlink.Message) ([]netlink.Message, error) {
	head, err := capture(k.queueHead)
	if err != nil {
		return nil, err
	}
	sets, err := capture(k.queueSets)
	if err != nil {
		return nil, err
	}
	if len(head) < 2 {
		return nil, fmt.Errorf("the marshalled batch has no begin and end")
	}
	if len(sets) >= 2 {
		sets = sets[1 : len(sets)-1] // without their own begin and end
	}
	msgs := make([]netlink.Message, 0, len(head)+len(k.chains)+len(sets)+len(rules))
	msgs = append(msgs, head[:len(head)-1]...)
	msgs = append(msgs, k.chainMsgs()...)
	msgs = append(msgs, sets...)
	msgs = append(msgs, rules...)
	return append(msgs, head[len(head)-1]), nil
}

// ruleLines fills in the normalised line of every rule from the rule
// messages of its batch, so that the fingerprint describes exactly the
// bytes that are sent.
func (k *kernelRuleset) ruleLines(msgs []netlink.Message) error {
	anon := map[uint32]string{}
	for _, r := range k.rules {
		for _, a := range r.anon {
			anon[a.set.ID] = anonLine(a)
		}
	}
	n := &ruleNormaliser{anon: func(_ string, id []byte) (string, bool) {
		if len(id) != 4 {
			return "", false
		}
		d, ok := anon[binary.BigEndian.Uint32(id)]
		return d, ok
	}}
	i := 0
	for _, m := range msgs {
		if m.Header.Type != newRuleType {
			continue
		}
		if i >= len(k.rules) || len(m.Data) < 4 {
			return fmt.Errorf("the batch does not match the ruleset")
		}
		rm, err := parseRuleMsg(m.Data[4:])
		if err != nil {
			return err
		}
		if k.rules[i].line, err = n.line(rm.exprs, rm.userData); err != nil {
			return fmt.Errorf("rule %d of chain %s: %w", i, rm.chain, err)
		}
		i++
	}
	if i != len(k.rules) {
		return fmt.Errorf("the batch has %d rules, the ruleset %d", i, len(k.rules))
	}
	return nil
}

var (
	newRuleType  = netlink.HeaderType(unix.NFNL_SUBSYS_NFTABLES<<8 | unix.NFT_MSG_NEWRULE)
	newChainType = netlink.HeaderType(unix.NFNL_SUBSYS_NFTABLES<<8 | unix.NFT_MSG_NEWCHAIN)
)
