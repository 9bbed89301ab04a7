package firewall_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zonegate/zonegate/firewall"
	"github.com/zonegate/zonegate/test/lab"
)

// TestApplyChangesOnlyWhatDiffers: applying a model with one conduit
// changed and one removed over the table of the original
// changes the table in place (same table handle, the counters of the other
// conduits keep their values) and leaves exactly the new ruleset.
func TestApplyChangesOnlyWhatDiffers(t *testing.T) {
	requireRoot(t)
	ns := scratchNS(t, "zgdelta")
	target := openNS(t, ns)
	text := string(lab.GenerateModel(20, 400))
	before := firewall.Compile(load(t, text), firewall.Options{})
	res, err := firewall.Apply(target, before)
	require.NoError(t, err)
	require.True(t, res.Changed)
	handle := nftIn(t, ns, "-a", "list", "tables")
	// Give the counter of an untouched conduit a value that must survive:
	// a rule added by hand counts loopback pings in it (the apply removes
	// that rule again).
	nftIn(t, ns, "insert", "rule", "inet", "zonegate", "input", "counter", "name", "conduit_c5")
	out, err := exec.Command("ip", "netns", "exec", ns, "sh", "-c", "ip link set lo up && ping -c 2 -i 0.2 -W 1 127.0.0.1").CombinedOutput()
	require.NoError(t, err, "ping on the namespace's loopback: %s", out)
	counted := nftIn(t, ns, "list", "counter", "inet", "zonegate", "conduit_c5")
	require.NotContains(t, counted, "packets 0 ", "the hand-made rule counted nothing")

	edited := strings.Replace(text, "services: [tcp/10000]}", "services: [tcp/9999, udp/53]}", 1)
	edited = strings.Replace(edited, "  - {name: c1, from: z1, to: z2, services: [tcp/10001]}\n", "", 1)
	require.NotEqual(t, text, edited)
	after := firewall.Compile(load(t, edited), firewall.Options{})
	res, err = firewall.Apply(target, after)
	require.NoError(t, err)
	assert.True(t, res.Changed)
	assert.Equal(t, handle, nftIn(t, ns, "-a", "list", "tables"), "the table was recreated instead of changed in place")
	got, err := firewall.Current(target)
	require.NoError(t, err)
	want := firewall.Expected(after)
	assert.True(t, got.Equal(want), "after the incremental apply: %s", want.Summary(got))
	table := nftIn(t, ns, "list", "table", "inet", "zonegate")
	assert.NotContains(t, table, "counter conduit_c1 {", "the removed conduit's counter is still there")
	assert.Contains(t, table, "tcp dport 9999", "the changed conduit's port is not there")
	assert.Equal(t, counted, nftIn(t, ns, "list", "counter", "inet", "zonegate", "conduit_c5"), "counter conduit_c5 lost its value")
}
