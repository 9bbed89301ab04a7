package firewall

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zonegate/zonegate/gateway/zone"
	"github.com/zonegate/zonegate/test/prereq"
)

// TestDeltaRefusedAfterAnotherCommit: an incremental batch carries the
// generation its table was read at; when anything committed since, the
// kernel refuses it (ERESTART) and nothing changes, so Apply falls back to
// replacing the whole table.
func TestDeltaRefusedAfterAnotherCommit(t *testing.T) {
	prereq.Netns(t)
	name := fmt.Sprintf("zggenid%d", os.Getpid())
	_ = exec.Command("ip", "netns", "delete", name).Run()
	out, err := exec.Command("ip", "netns", "add", name).CombinedOutput()
	require.NoError(t, err, "ip netns add: %s", out)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "delete", name).Run() })
	target, err := OpenNetNS(name)
	require.NoError(t, err)
	defer target.Close()

	m, err := zone.LoadFile("../configs/example-factory.yaml")
	require.NoError(t, err)
	_, err = Apply(target, Compile(m, Options{}))
	require.NoError(t, err)
	text, err := os.ReadFile("../configs/example-factory.yaml")
	require.NoError(t, err)
	changed, err := zone.Load("changed.yaml", []byte(strings.Replace(string(text), "services: [tcp/4840]", "services: [tcp/4841]", 1)))
	require.NoError(t, err)

	conns, err := target.readConns()
	require.NoError(t, err)
	defer conns.Close()
	gen, err := conns.structure.generation()
	require.NoError(t, err)
	cur, err := readTable(conns.structure, conns.rules)
	require.NoError(t, err)
	want := toKernel(Compile(changed, Options{}))
	rules, err := want.ruleMsgs()
	require.NoError(t, err)
	require.NoError(t, want.ruleLines(rules))
	msgs, _, ok, err := delta(cur, want, rules)
	require.NoError(t, err)
	require.True(t, ok, "one port changed should be a delta")

	out, err = exec.Command("ip", "netns", "exec", name, "nft", "add", "table", "ip", "other").CombinedOutput()
	require.NoError(t, err, "nft add table: %s", out)
	before, err := conns.current()
	require.NoError(t, err)
	err = conns.rules.sendBatch(msgs, gen)
	assert.ErrorIs(t, err, syscall.ERESTART)
	after, err := conns.current()
	require.NoError(t, err)
	assert.True(t, after.Equal(before), "a refused delta changed the table: %s", before.Summary(after))

	// With the current generation the same delta goes through.
	gen, err = conns.structure.generation()
	require.NoError(t, err)
	require.NoError(t, conns.rules.sendBatch(msgs, gen))
	after, err = conns.current()
	require.NoError(t, err)
	assert.True(t, after.Equal(want.fingerprint()), "delta with the current generation: %s", want.fingerprint().Summary(after))
}
