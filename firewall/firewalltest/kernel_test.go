package firewalltest

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zonegate/zonegate/firewall"
)

func TestKernel(t *testing.T) {
	k := NewKernel()
	rs := firewall.Lockdown(firewall.Options{})
	gen, err := k.Generation()
	require.NoError(t, err)
	cur, err := k.Current()
	require.NoError(t, err)
	assert.Nil(t, cur, "no table yet")

	res, err := k.Apply(rs)
	require.NoError(t, err)
	assert.True(t, res.Changed)
	assert.Positive(t, res.Rules)
	assert.True(t, k.Holds(rs))
	g2, _ := k.Generation()
	assert.Equal(t, gen+1, g2)
	assert.Equal(t, g2, res.Generation, "the result carries the generation it verified at")
	cur, _ = k.Current()
	assert.Equal(t, cur, res.Fingerprint, "the result carries the fingerprint it verified")
	res, err = k.Apply(rs)
	require.NoError(t, err)
	assert.False(t, res.Changed, "the same ruleset changes nothing")
	g3, _ := k.Generation()
	assert.Equal(t, g2, g3)
	assert.Equal(t, g3, res.Generation)
	assert.Len(t, k.Applied(), 2)

	k.TouchOtherTable()
	assert.True(t, k.Holds(rs))
	k.Tamper(firewall.Fingerprint{"chain x"})
	assert.False(t, k.Holds(rs))
	k.Tamper(nil)
	cur, _ = k.Current()
	assert.Nil(t, cur)

	boom := errors.New("boom")
	k.FailApplies(nil, boom)
	_, err = k.Apply(rs)
	assert.NoError(t, err)
	_, err = k.Apply(firewall.Lockdown(firewall.Options{LogGroup: 9}))
	assert.ErrorIs(t, err, boom)
	assert.True(t, k.Holds(rs), "a failed apply changes nothing")
	k.FailApply(nil)
	res, err = k.Apply(rs)
	assert.ErrorIs(t, err, ErrInjected)
	assert.Equal(t, firewall.Expected(rs), res.Fingerprint, "a failed apply names what it meant to install")
	k.Heal()
	k.FailGeneration(nil)
	_, err = k.Generation()
	assert.ErrorIs(t, err, ErrInjected)
	res, err = k.Apply(rs)
	require.NoError(t, err)
	assert.ErrorIs(t, res.GenerationErr, ErrInjected, "an apply whose generation cannot be read says so")
	assert.Zero(t, res.Generation)
	k.FailRead(boom)
	_, err = k.Current()
	assert.ErrorIs(t, err, boom)
	_, err = k.Counters()
	assert.ErrorIs(t, err, boom)
	k.FailFlush(nil)
	_, err = k.FlushDisallowed(nil, firewall.Options{})
	assert.ErrorIs(t, err, ErrInjected)
	k.Heal()

	k.SetCounters([]firewall.CounterValue{{Name: "c", Packets: 1}})
	cs, err := k.Counters()
	require.NoError(t, err)
	assert.Equal(t, []firewall.CounterValue{{Name: "c", Packets: 1}}, cs)
	k.SetFlushed(4)
	n, err := k.FlushDisallowed(nil, firewall.Options{})
	require.NoError(t, err)
	assert.Equal(t, uint(4), n)
	assert.Equal(t, 2, k.Flushes())
}
