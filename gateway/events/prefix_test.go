package events

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zonegate/zonegate/firewall"
	"github.com/zonegate/zonegate/gateway/zone"
)

// TestRulesetLogPrefixesClassified: every log statement the firewall
// compiles (the example factory, island mode, lockdown) has a prefix the
// NFLOG reader knows, so no dropped packet is reported as foreign.
func TestRulesetLogPrefixesClassified(t *testing.T) {
	m, err := zone.LoadFile("../../configs/example-factory.yaml")
	require.NoError(t, err)
	seen := 0
	for _, rs := range []*firewall.Ruleset{
		firewall.Compile(m, firewall.Options{}),
		firewall.Compile(m, firewall.Options{Island: true}),
		firewall.Lockdown(firewall.Options{}),
	} {
		for _, c := range rs.Chains {
			for _, r := range c.Rules {
				for _, s := range r.Stmts {
					l, ok := s.(firewall.Log)
					if !ok {
						continue
					}
					seen++
					var ev Event
					assert.True(t, classify(l.Prefix, &ev), "chain %s: log prefix %q is not one the NFLOG reader knows", c.Name, l.Prefix)
					assert.Equal(t, uint16(firewall.DefaultLogGroup), l.Group)
				}
			}
		}
	}
	assert.GreaterOrEqual(t, seen, 4, "spoofing, forward, input and lockdown drops are logged")
}
