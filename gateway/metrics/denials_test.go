package metrics

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zonegate/zonegate/protocols/inspect"
)

func TestDenialCountingDoesNotAllocate(t *testing.T) {
	var c DenialCounter
	ev := inspect.Event{Protocol: "modbus", Kind: inspect.Denied, Conduit: "a", Reason: "address_not_allowed"}
	c.count(ev)
	assert.Zero(t, testing.AllocsPerRun(100, func() { c.count(ev) }))
	ds := c.Snapshot()
	require.Len(t, ds, 1)
	assert.Equal(t, uint64(1+1+100), ds[0].Count, "the first, the warm-up run of AllocsPerRun and 100 runs")
}
