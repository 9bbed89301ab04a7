package firewall

import (
	"cmp"
	"errors"
	"slices"
	"strings"

	"github.com/google/nftables"
	"github.com/mdlayher/netlink"
)

// An incremental apply changes only what differs between the table the
// kernel holds and the ruleset to apply, in one transaction: chains and
// counters deleted, elements of sets and maps deleted or added, and the
// rules of every chain whose rules differ replaced (the chain is flushed
// and refilled). The transaction carries the ruleset generation the table
// was read at (NFNL_BATCH_GENID): when anything else committed since, the
// kernel refuses it and Apply replaces the whole table instead. New
// counters or chains (a conduit added or renamed, a new zone pair), sets
// whose definition changed, changed interval sets (the networks of a zone)
// and changed base chains also make Apply replace the whole table, so that
// `nft list` shows the table as a fresh apply would (objects are listed in
// the order they were created).

// deltaShare is the largest delta, as a share of the messages of a full
// replacement, that is sent as such.
const deltaShare = 0.5

// delta returns the batch that turns cur into want, or ok false when a
// full replacement is needed or cheaper. want's rules must have their
// lines (ruleLines); rules holds its rule messages (ruleMsgs).
// changed names the chains whose rules the batch replaces.
func delta(cur, want *kernelRuleset, rules []netlink.Message) (msgs []netlink.Message, changed map[string]bool, ok bool, err error) {
	curSets := map[string]kernelSet{}
	for _, s := range cur.sets {
		curSets[s.desc.name] = s
	}
	if len(cur.sets) != len(want.sets) {
		return nil, nil, false, nil
	}
	type elemDelta struct {
		set      *nftables.Set
		del, add []nftables.SetElement
	}
	var elems []elemDelta
	size := 0
	for _, ws := range want.sets {
		cs, found := curSets[ws.desc.name]
		if !found || cs.desc != ws.desc {
			return nil, nil, false, nil
		}
		curLines := map[string]nftables.SetElement{}
		for _, e := range cs.elems {
			curLines[elemLine(e)] = e
		}
		wantLines := map[string]bool{}
		d := elemDelta{set: ws.set}
		for _, e := range ws.elems {
			l := elemLine(e)
			wantLines[l] = true
			if _, has := curLines[l]; !has {
				d.add = append(d.add, e)
			}
		}
		for l, e := range curLines {
			if !wantLines[l] {
				d.del = append(d.del, nftables.SetElement{Key: e.Key, KeyEnd: e.KeyEnd, IntervalEnd: e.IntervalEnd})
			}
		}
		if len(d.add)+len(d.del) == 0 {
			continue
		}
		if ws.desc.interval {
			return nil, nil, false, nil
		}
		// Deterministic order: the map iteration above is not.
		slices.SortFunc(d.del, func(a, b nftables.SetElement) int { return cmp.Compare(elemLine(a), elemLine(b)) })
		elems = append(elems, d)
		size += 1 + (len(d.add)+len(d.del))/elementBatch
	}

	curCounters, wantCounters := map[string]bool{}, map[string]bool{}
	for _, c := range cur.counters {
		if strings.HasPrefix(c, unexpectedObject) {
			return nil, nil, false, nil // not a counter: the whole table goes
		}
		curCounters[c] = true
	}
	for _, c := range want.counters {
		wantCounters[c] = true
		if !curCounters[c] {
			return nil, nil, false, nil // see below: new objects
		}
	}
	curChains := map[string]*nftables.Chain{}
	for _, c := range cur.chains {
		curChains[c.Name] = c
	}
	wantChains := map[string]bool{}
	for _, c := range want.chains {
		wantChains[c.Name] = true
		cc, found := curChains[c.Name]
		if !found || chainLine(cc) != chainLine(c) {
			// nft lists counters and chains in the order they were
			// created: added ones would come last, not where a fresh
			// table has them. The whole table keeps the listing the same.
			return nil, nil, false, nil
		}
	}
	curRules, wantRules := map[string][]string{}, map[string][]int{}
	for _, r := range cur.rules {
		curRules[r.chain] = append(curRules[r.chain], r.line)
	}
	for i, r := range want.rules {
		wantRules[r.chain] = append(wantRules[r.chain], i)
	}
	var refill []*nftables.Chain // chains whose rules are replaced
	for _, c := range want.chains {
		idx := wantRules[c.Name]
		lines := make([]string, len(idx))
		for j, i := range idx {
			lines[j] = want.rules[i].line
		}
		if !slices.Equal(lines, curRules[c.Name]) {
			refill = append(refill, c)
			size += 1 + len(idx)
		}
	}
	var gone []*nftables.Chain
	for _, c := range cur.chains {
		if !wantChains[c.Name] {
			gone = append(gone, c)
			size += 2
		}
	}
	// A full replacement sends every rule, chain and set.
	if float64(size) > deltaShare*float64(len(rules)+len(want.chains)+len(want.sets)) {
		return nil, nil, false, nil
	}

	var ruleIdx []int
	msgs, err = capture(func(conn *nftables.Conn) error {
		for _, d := range elems {
			for i := 0; i < len(d.del); i += elementBatch {
				if err := conn.SetDeleteElements(d.set, d.del[i:min(i+elementBatch, len(d.del))]); err != nil {
					return err
				}
			}
			for i := 0; i < len(d.add); i += elementBatch {
				if err := conn.SetAddElements(d.set, d.add[i:min(i+elementBatch, len(d.add))]); err != nil {
					return err
				}
			}
		}
		for _, c := range refill {
			conn.FlushChain(&nftables.Chain{Name: c.Name, Table: want.table})
			for _, i := range wantRules[c.Name] {
				for _, a := range want.rules[i].anon {
					if err := conn.AddSet(a.set, a.elems); err != nil {
						return err
					}
				}
				ruleIdx = append(ruleIdx, i)
			}
		}
		for _, c := range gone {
			ch := &nftables.Chain{Name: c.Name, Table: want.table}
			conn.FlushChain(ch)
			conn.DelChain(ch)
		}
		for _, c := range cur.counters {
			if !wantCounters[c] {
				conn.DeleteObject(&nftables.CounterObj{Table: want.table, Name: c})
			}
		}
		return nil
	})
	if err != nil || len(msgs) < 2 {
		return nil, nil, false, err
	}
	end := msgs[len(msgs)-1]
	msgs = msgs[:len(msgs)-1]
	for _, i := range ruleIdx {
		msgs = append(msgs, rules[i])
	}
	changed = map[string]bool{}
	for _, c := range refill {
		changed[c.Name] = true
	}
	return append(msgs, end), changed, true, nil
}

// readAfterDelta reads the table back after a delta that the kernel
// committed as the only transaction since cur was read (the generation
// moved by exactly one): the structure in full, the rules only of the
// chains the delta refilled; the other chains still hold the rules of cur,
// read at the generation the delta was conditional on.
func readAfterDelta(c readConns, cur *kernelRuleset, changed map[string]bool) (Fingerprint, error) {
	k, anon, err := readStructure(c.structure)
	if errors.Is(err, errNoTable) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	old := map[string][]kernelRule{}
	for _, r := range cur.rules {
		old[r.chain] = append(old[r.chain], r)
	}
	resolve := func(name string, _ []byte) (string, bool) { d, ok := anon[name]; return d, ok }
	for _, ch := range k.chains {
		if !changed[ch.Name] {
			k.rules = append(k.rules, old[ch.Name]...)
			continue
		}
		rules, err := dumpChainRules(c.rules, ch.Name, resolve)
		if err != nil {
			return nil, err
		}
		k.rules = append(k.rules, rules...)
	}
	return k.fingerprint(), nil
}
