package kernel

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zonegate/zonegate/firewall"
	"github.com/zonegate/zonegate/firewall/firewalltest"
	"github.com/zonegate/zonegate/gateway/internal/gatewaytest"
	"github.com/zonegate/zonegate/gateway/zone"
)

const model = gatewaytest.Base

// TestTable: a model (or none: lockdown) is compiled with the table's
// options and island mode, applied, and handed on with the fingerprint
// and generation the apply verified; reads and counters pass through.
func TestTable(t *testing.T) {
	m, err := zone.Load("test.yaml", []byte(model))
	require.NoError(t, err)
	nl := firewalltest.NewKernel()
	opts := firewall.Options{LogGroup: 7, Proxies: []firewall.ProxyPort{{Inspector: "modbus", Port: 15020}}}
	tb := New(nl, opts)
	assert.Equal(t, firewall.Options{LogGroup: 7, Proxies: opts.Proxies, Island: true}, tb.Options(true))

	cur, err := tb.Current()
	require.NoError(t, err)
	assert.Nil(t, cur, "no table yet")

	res, err := tb.Apply(nil, false)
	require.NoError(t, err)
	assert.True(t, nl.Holds(firewall.Lockdown(tb.Options(true))), "no model: lockdown")
	assert.True(t, res.Changed)
	gen, _ := nl.Generation()
	assert.Equal(t, gen, res.Generation)
	assert.NoError(t, res.GenerationErr)
	lockdown := res.Fingerprint

	res, err = tb.Apply(m, false)
	require.NoError(t, err)
	assert.True(t, nl.Holds(firewall.Compile(m, opts)))
	cur, err = tb.Current()
	require.NoError(t, err)
	assert.True(t, res.Fingerprint.Equal(cur), "the apply's fingerprint is the table")
	assert.False(t, lockdown.Equal(cur))
	assert.Contains(t, lockdown.Diff(cur, 3), "+ ")
	assert.NotEmpty(t, lockdown.Summary(cur))
	assert.False(t, res.Fingerprint.Equal(nil), "no table is no ruleset")
	assert.Equal(t, "table inet zonegate is missing", res.Fingerprint.Summary(nil))

	_, err = tb.Apply(m, true)
	require.NoError(t, err)
	assert.True(t, nl.Holds(firewall.Compile(m, tb.Options(true))), "island mode of the model")

	nl.FailApply(nil)
	res, err = tb.Apply(m, false)
	assert.ErrorIs(t, err, firewalltest.ErrInjected)
	require.NotNil(t, res.Fingerprint, "a failed apply names what it meant to install")
	assert.True(t, res.Fingerprint.Equal(fingerprintOf(firewall.Expected(firewall.Compile(m, opts)))))
	nl.Heal()

	nl.FailGeneration(nil)
	res, err = tb.Apply(m, false)
	require.NoError(t, err)
	assert.ErrorIs(t, res.GenerationErr, firewalltest.ErrInjected)
	_, err = tb.Generation()
	assert.ErrorIs(t, err, firewalltest.ErrInjected)
	nl.Heal()

	nl.SetCounters([]firewall.CounterValue{{Name: "conduit_ops-to-cell", Packets: 3, Bytes: 180}})
	cs, err := tb.Counters()
	require.NoError(t, err)
	require.Len(t, cs, 1)
	assert.Equal(t, "conduit_ops-to-cell", cs[0].Name)
	assert.Equal(t, uint64(3), cs[0].Packets)
	assert.Equal(t, uint64(180), cs[0].Bytes)

	nl.SetFlushed(2)
	n, err := tb.FlushDisallowed(m, true)
	require.NoError(t, err)
	assert.Equal(t, uint(2), n)

	nl.FailRead(nil)
	_, err = tb.Current()
	assert.ErrorIs(t, err, firewalltest.ErrInjected)
	_, err = tb.Counters()
	assert.ErrorIs(t, err, firewalltest.ErrInjected)
}
