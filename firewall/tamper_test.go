package firewall_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zonegate/zonegate/firewall"
	"github.com/zonegate/zonegate/test/lab"
)

// TestTamperedRuleInLargeTableDetected: in a table of 200 zones and 10,000
// conduits, one rule's expression changed by hand (tcp dport 10000 ->
// 10001, everything else equal) is seen by Current and repaired by Apply;
// the same rule replaced by an identical one is not reported.
func TestTamperedRuleInLargeTableDetected(t *testing.T) {
	requireRoot(t)
	ns := scratchNS(t, "zgtamper")
	target := openNS(t, ns)
	rs := firewall.Compile(load(t, string(lab.GenerateModel(200, 10000))), firewall.Options{})
	want := firewall.Expected(rs)
	res, err := firewall.Apply(target, rs)
	require.NoError(t, err)
	require.True(t, res.Changed)

	listing := nftIn(t, ns, "-a", "list", "chain", "inet", "zonegate", "fwd_z0_to_z1")
	m := regexp.MustCompile(`\n\s*(ip daddr @net4_z1 tcp dport 10000 .*) # handle (\d+)\n`).FindStringSubmatch(listing)
	require.NotNil(t, m, "rule of conduit c0 not found in:\n%s", listing)
	rule, handle := m[1], m[2]

	// The same rule again: nothing to report.
	nftIn(t, ns, append([]string{"replace", "rule", "inet", "zonegate", "fwd_z0_to_z1", "handle", handle}, strings.Fields(rule)...)...)
	got, err := firewall.Current(target)
	require.NoError(t, err)
	assert.True(t, got.Equal(want), "an identical rule put back by nft is reported as drift: %s", want.Summary(got))

	// One port changed.
	listing = nftIn(t, ns, "-a", "list", "chain", "inet", "zonegate", "fwd_z0_to_z1")
	m = regexp.MustCompile(`\n\s*(ip daddr @net4_z1 tcp dport 10000 .*) # handle (\d+)\n`).FindStringSubmatch(listing)
	require.NotNil(t, m)
	tampered := strings.Replace(m[1], "dport 10000", "dport 10001", 1)
	nftIn(t, ns, append([]string{"replace", "rule", "inet", "zonegate", "fwd_z0_to_z1", "handle", m[2]}, strings.Fields(tampered)...)...)
	got, err = firewall.Current(target)
	require.NoError(t, err)
	require.False(t, got.Equal(want), "a rule whose port was changed by hand was not noticed")
	assert.Equal(t, "rules of chain fwd_z0_to_z1: 1 rule(s) not installed by zonegate, 1 missing or changed", want.Summary(got))

	res, err = firewall.Apply(target, rs)
	require.NoError(t, err)
	assert.True(t, res.Changed, "apply over the tampered table must rewrite it")
	got, err = firewall.Current(target)
	require.NoError(t, err)
	assert.True(t, got.Equal(want), "apply did not repair the tampered rule: %s", want.Summary(got))
}
