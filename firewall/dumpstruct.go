package firewall

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"syscall"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// Flags and attributes x/sys/unix does not name (linux/netfilter/nf_tables.h).
const (
	nftSetConcat      = 0x80 // NFT_SET_CONCAT
	nftaSetElemKeyEnd = 10   // NFTA_SET_ELEM_KEY_END
)

// unexpectedObject starts the counter line of an object zonegate does not
// create (only counters are expected).
const unexpectedObject = "unexpected object "

// setDesc is what the fingerprint says about a set besides its elements.
type setDesc struct {
	name                    string
	magic, keyLen           uint32
	interval, concat, isMap bool
	anonymous               bool
}

func descOf(s *nftables.Set) setDesc {
	return setDesc{name: s.Name, magic: s.KeyType.GetNFTMagic(), keyLen: s.KeyType.Bytes,
		interval: s.Interval, concat: s.Concatenation, isMap: s.IsMap, anonymous: s.Anonymous}
}

func str0(b []byte) string { return string(bytes.TrimRight(b, "\x00")) }

func be32(b []byte) uint32 {
	if len(b) < 4 {
		return 0
	}
	return binary.BigEndian.Uint32(b)
}

// readStructure reads everything of table inet zonegate but the rules over
// raw dumps: counters, sets with their elements, and chains. Anonymous
// sets are returned by name, described as in the fingerprint, for the
// rules that look them up.
func readStructure(c *rawConn) (*kernelRuleset, map[string]string, error) {
	found := false
	err := c.dump(unix.NFT_MSG_GETTABLE, unix.NFPROTO_INET, nil, func(b []byte) error {
		list, _ := attrs(b, nil)
		for _, a := range list {
			if a.typ == unix.NFTA_TABLE_NAME && str0(a.val) == TableName {
				found = true
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("list tables: %w", err)
	}
	if !found {
		return nil, nil, errNoTable
	}
	k := &kernelRuleset{table: newTable()}
	table := append([]byte(TableName), 0)
	notExist := func(err error) error {
		if errors.Is(err, syscall.ENOENT) {
			return errNoTable // deleted while it was read
		}
		return err
	}
	err = c.dump(unix.NFT_MSG_GETOBJ, unix.NFPROTO_INET, appendAttr(nil, unix.NFTA_OBJ_TABLE, table), func(b []byte) error {
		list, _ := attrs(b, nil)
		var name string
		var typ uint32
		for _, a := range list {
			switch a.typ {
			case unix.NFTA_OBJ_NAME:
				name = str0(a.val)
			case unix.NFTA_OBJ_TYPE:
				typ = be32(a.val)
			}
		}
		if typ == unix.NFT_OBJECT_COUNTER {
			k.counters = append(k.counters, name)
		} else {
			k.counters = append(k.counters, fmt.Sprintf("%s%s of type %d", unexpectedObject, name, typ))
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("list counters: %w", notExist(err))
	}
	var sets []setDesc
	err = c.dump(unix.NFT_MSG_GETSET, unix.NFPROTO_INET, appendAttr(nil, unix.NFTA_SET_TABLE, table), func(b []byte) error {
		list, _ := attrs(b, nil)
		var d setDesc
		for _, a := range list {
			switch a.typ {
			case unix.NFTA_SET_NAME:
				d.name = str0(a.val)
			case unix.NFTA_SET_FLAGS:
				f := be32(a.val)
				d.anonymous, d.interval, d.isMap, d.concat = f&unix.NFT_SET_ANONYMOUS != 0, f&unix.NFT_SET_INTERVAL != 0, f&unix.NFT_SET_MAP != 0, f&nftSetConcat != 0
			case unix.NFTA_SET_KEY_TYPE:
				d.magic = be32(a.val)
			case unix.NFTA_SET_KEY_LEN:
				d.keyLen = be32(a.val)
			}
		}
		sets = append(sets, d)
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("list sets: %w", notExist(err))
	}
	anon := map[string]string{}
	for _, d := range sets {
		elems, err := readElements(c, d.name)
		if err != nil {
			return nil, nil, fmt.Errorf("list elements of set %s: %w", d.name, notExist(err))
		}
		if d.anonymous {
			anon[d.name] = "anon:" + setLine(setDesc{magic: d.magic, keyLen: d.keyLen, interval: d.interval}, elems)
			continue
		}
		k.sets = append(k.sets, kernelSet{desc: d, elems: elems})
	}
	err = c.dump(unix.NFT_MSG_GETCHAIN, unix.NFPROTO_INET, appendAttr(nil, unix.NFTA_CHAIN_TABLE, table), func(b []byte) error {
		list, _ := attrs(b, nil)
		ch := &nftables.Chain{Table: k.table}
		var tableName string
		for _, a := range list {
			switch a.typ {
			case unix.NFTA_CHAIN_TABLE:
				tableName = str0(a.val)
			case unix.NFTA_CHAIN_NAME:
				ch.Name = str0(a.val)
			case unix.NFTA_CHAIN_TYPE:
				ch.Type = nftables.ChainType(str0(a.val))
			case unix.NFTA_CHAIN_POLICY:
				p := nftables.ChainPolicy(be32(a.val))
				ch.Policy = &p
			case unix.NFTA_CHAIN_HOOK:
				hook, _ := attrs(a.val, nil)
				for _, h := range hook {
					switch h.typ {
					case unix.NFTA_HOOK_HOOKNUM:
						n := nftables.ChainHook(be32(h.val))
						ch.Hooknum = &n
					case unix.NFTA_HOOK_PRIORITY:
						p := nftables.ChainPriority(int32(be32(h.val)))
						ch.Priority = &p
					}
				}
			}
		}
		if tableName == TableName {
			k.chains = append(k.chains, ch)
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("list chains: %w", notExist(err))
	}
	return k, anon, nil
}

// readElements dumps the elements of one set, verdicts of maps decoded.
func readElements(c *rawConn, set string) ([]nftables.SetElement, error) {
	req := appendAttr(nil, unix.NFTA_SET_ELEM_LIST_TABLE, append([]byte(TableName), 0))
	req = appendAttr(req, unix.NFTA_SET_ELEM_LIST_SET, append([]byte(set), 0))
	var elems []nftables.SetElement
	err := c.dump(unix.NFT_MSG_GETSETELEM, unix.NFPROTO_INET, req, func(b []byte) error {
		list, _ := attrs(b, nil)
		for _, a := range list {
			if a.typ != unix.NFTA_SET_ELEM_LIST_ELEMENTS {
				continue
			}
			items, ok := attrs(a.val, nil)
			if !ok {
				return fmt.Errorf("malformed element list")
			}
			for _, item := range items {
				fields, ok := attrs(item.val, nil)
				if !ok {
					return fmt.Errorf("malformed element")
				}
				var e nftables.SetElement
				for _, f := range fields {
					switch f.typ {
					case unix.NFTA_SET_ELEM_KEY:
						e.Key = bytes.Clone(dataValue(f.val)) // the dump buffer is reused
					case nftaSetElemKeyEnd:
						e.KeyEnd = bytes.Clone(dataValue(f.val))
					case unix.NFTA_SET_ELEM_FLAGS:
						e.IntervalEnd = be32(f.val)&unix.NFT_SET_ELEM_INTERVAL_END != 0
					case unix.NFTA_SET_ELEM_DATA:
						e.VerdictData = verdictData(f.val)
					}
				}
				elems = append(elems, e)
			}
		}
		return nil
	})
	return elems, err
}

// dataValue returns the value of a nested NFTA_DATA_VALUE.
func dataValue(b []byte) []byte {
	list, _ := attrs(b, nil)
	for _, a := range list {
		if a.typ == unix.NFTA_DATA_VALUE {
			return a.val
		}
	}
	return nil
}

// verdictData decodes a nested NFTA_DATA_VERDICT; nil when there is none.
func verdictData(b []byte) *expr.Verdict {
	list, _ := attrs(b, nil)
	for _, a := range list {
		if a.typ != unix.NFTA_DATA_VERDICT {
			continue
		}
		v := &expr.Verdict{}
		fields, _ := attrs(a.val, nil)
		for _, f := range fields {
			switch f.typ {
			case unix.NFTA_VERDICT_CODE:
				v.Kind = expr.VerdictKind(int32(be32(f.val)))
			case unix.NFTA_VERDICT_CHAIN:
				v.Chain = str0(f.val)
			}
		}
		return v
	}
	return nil
}
