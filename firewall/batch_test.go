package firewall

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/mdlayher/netlink"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/zonegate/zonegate/gateway/zone"
)

// The netlink batch of an apply is built on a connection that records
// what it would send (nftables.WithTestDial), so the batch is checked
// without a kernel and without root.

// recordBatch builds the whole-table batch of rs (google/nftables marshals
// the head and the sets on a recording connection; rules and chains are
// marshalled by zonegate) and returns the messages that would be sent.
func recordBatch(t *testing.T, rs *Ruleset) []netlink.Message {
	t.Helper()
	k := toKernel(rs)
	rules, err := k.ruleMsgs()
	require.NoError(t, err)
	msgs, err := k.batch(rules)
	require.NoError(t, err)
	return msgs
}

// msgNames names the messages: "begin", "newtable", ..., "end".
func msgNames(msgs []netlink.Message) []string {
	names := map[uint16]string{
		unix.NFT_MSG_NEWTABLE: "newtable", unix.NFT_MSG_DELTABLE: "deltable", unix.NFT_MSG_NEWCHAIN: "newchain",
		unix.NFT_MSG_NEWRULE: "newrule", unix.NFT_MSG_NEWSET: "newset", unix.NFT_MSG_NEWSETELEM: "newsetelem",
		unix.NFT_MSG_NEWOBJ: "newobj",
	}
	var out []string
	for _, m := range msgs {
		switch typ := uint16(m.Header.Type); {
		case typ == unix.NFNL_MSG_BATCH_BEGIN:
			out = append(out, "begin")
		case typ == unix.NFNL_MSG_BATCH_END:
			out = append(out, "end")
		case typ>>8 == unix.NFNL_SUBSYS_NFTABLES && names[typ&0xff] != "":
			out = append(out, names[typ&0xff])
		default:
			out = append(out, fmt.Sprintf("type-%#x", typ))
		}
	}
	return out
}

func count(names []string, name string) int {
	n := 0
	for _, s := range names {
		if s == name {
			n++
		}
	}
	return n
}

// tableOf decodes the family and the table name of an nftables message.
func tableOf(t *testing.T, m netlink.Message) (family byte, table string) {
	t.Helper()
	require.GreaterOrEqual(t, len(m.Data), 4, "nfgenmsg header")
	ad, err := netlink.NewAttributeDecoder(m.Data[4:])
	require.NoError(t, err)
	for ad.Next() {
		// NFTA_TABLE_NAME, NFTA_CHAIN_TABLE, NFTA_RULE_TABLE, NFTA_SET_TABLE,
		// NFTA_SET_ELEM_LIST_TABLE and NFTA_OBJ_TABLE are all attribute 1.
		if ad.Type() == 1 {
			table = ad.String()
		}
	}
	require.NoError(t, ad.Err())
	return m.Data[0], table
}

func TestApplyBatchOfLockdown(t *testing.T) {
	rs := Lockdown(Options{})
	msgs := recordBatch(t, rs)
	names := msgNames(msgs)
	want := []string{"begin", "newtable", "deltable", "newtable"}
	for range rs.Counters {
		want = append(want, "newobj")
	}
	want = append(want, "newchain")
	for _, ch := range rs.Chains {
		for range ch.Rules {
			want = append(want, "newrule")
		}
	}
	want = append(want, "end")
	assert.Equal(t, want, names, "one transaction: the table is created, deleted and created again with every object")

	for _, m := range msgs[1 : len(msgs)-1] {
		family, table := tableOf(t, m)
		assert.Equal(t, byte(unix.NFPROTO_INET), family, "every message is about family inet")
		assert.Equal(t, TableName, table, "no other table is touched")
	}
}

func TestApplyBatchOfModel(t *testing.T) {
	m, err := zone.LoadFile("../configs/example-factory.yaml")
	require.NoError(t, err)
	rs := Compile(m, Options{})
	k := toKernel(rs)
	names := msgNames(recordBatch(t, rs))
	assert.Equal(t, "begin", names[0])
	assert.Equal(t, "end", names[len(names)-1])
	anon := 0
	for _, r := range k.rules {
		anon += len(r.anon)
	}
	assert.Equal(t, len(k.sets)+anon, count(names, "newset"), "named and anonymous sets")
	assert.Equal(t, len(k.chains), count(names, "newchain"))
	assert.Equal(t, len(k.rules), count(names, "newrule"))
	assert.Equal(t, len(k.counters), count(names, "newobj"))
	for _, n := range names {
		assert.False(t, strings.HasPrefix(n, "type-"), "unexpected message %s", n)
	}
}

// TestApplyBatchSplitsLargeSets: thousands of elements go in several
// element messages (one netlink attribute has a 16-bit length).
func TestApplyBatchSplitsLargeSets(t *testing.T) {
	s := &Set{Name: "big", Key: KeyIPv4}
	for i := 0; i < 1300; i++ {
		a := netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)})
		s.Elems = append(s.Elems, Elem{Range: AddrRange{From: a, To: a}})
	}
	rs := &Ruleset{Sets: []*Set{s}}
	k := toKernel(rs)
	require.Len(t, k.sets, 1)
	n := len(k.sets[0].elems)
	require.Greater(t, n, elementBatch)
	msgs := recordBatch(t, rs)
	assert.Equal(t, (n+elementBatch-1)/elementBatch, count(msgNames(msgs), "newsetelem"))
	for _, m := range msgs {
		assert.Less(t, len(m.Data), 1<<16, "each message fits a 16-bit attribute length")
	}
}
