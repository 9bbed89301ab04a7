package changes_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zonegate/zonegate/gateway/zone"
)

// TestIslandCutsBeforeTheRulesetChanges: island mode on makes the
// installers that hold connections (changes.Cutter: the proxies) cut
// them while the previous ruleset and its tracked connections are still
// in place: before the island ruleset is applied and before the
// conntrack flush, so that their resets leave with the addresses the
// clients know.
func TestIslandCutsBeforeTheRulesetChanges(t *testing.T) {
	h := newHarness(t)
	h.push(hModelModbus, 0)
	type seen struct {
		island, oldHeld bool
		flushes         int
	}
	var cuts []seen
	h.installed.onCut = func(_ *zone.Model, island bool) {
		cuts = append(cuts, seen{island: island, oldHeld: h.holds(hModelModbus, false), flushes: h.k.Flushes()})
	}
	before := h.k.Flushes()
	require.NoError(t, h.tx.SetIsland(h.ctx, erin, true))
	require.Len(t, cuts, 1)
	assert.Equal(t, seen{island: true, oldHeld: true, flushes: before}, cuts[0], "cut in island mode, before the ruleset and the flush")
	assert.True(t, h.holds(hModelModbus, true), "then the island ruleset")
	assert.Greater(t, h.k.Flushes(), before, "then the flush")
}
