package firewall_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zonegate/zonegate/firewall"
	"github.com/zonegate/zonegate/test/lab"
)

// TestApplyResultIsWhatItVerified: on every path (whole table, nothing to
// change, only what differs) the Result carries the fingerprint the kernel
// holds and the generation the table was verified at, so the caller needs
// neither firewall.Expected nor a Generation call after applying. A
// rejected apply still names what it meant to install.
func TestApplyResultIsWhatItVerified(t *testing.T) {
	requireRoot(t)
	ns := scratchNS(t, "zgres")
	target := openNS(t, ns)
	text := string(lab.GenerateModel(10, 40))
	edited := strings.Replace(text, "services: [tcp/10000]}", "services: [tcp/9999]}", 1)
	require.NotEqual(t, text, edited)
	for _, step := range []struct {
		name, model string
		changed     bool
	}{
		{"whole table", text, true},
		{"unchanged", text, false},
		{"only what differs", edited, true},
	} {
		res, err := firewall.Apply(target, firewall.Compile(load(t, step.model), firewall.Options{}))
		require.NoError(t, err, step.name)
		assert.Equal(t, step.changed, res.Changed, step.name)
		cur, err := firewall.Current(target)
		require.NoError(t, err)
		assert.True(t, res.Fingerprint.Equal(cur), "%s: the result's fingerprint is the kernel's table: %s", step.name, res.Fingerprint.Summary(cur))
		gen, err := firewall.Generation(target)
		require.NoError(t, err)
		assert.NoError(t, res.GenerationErr, step.name)
		assert.Equal(t, gen, res.Generation, "%s: nothing committed since the apply", step.name)
	}

	bad := firewall.Compile(load(t, text), firewall.Options{Island: true})
	fwd := bad.Chain(firewall.ChainForward)
	fwd.Rules = append(fwd.Rules, &firewall.Rule{Stmts: []firewall.Stmt{firewall.Jump("no_such_chain")}})
	res, err := firewall.Apply(target, bad)
	require.Error(t, err, "a ruleset jumping to a missing chain")
	assert.True(t, res.Fingerprint.Equal(firewall.Expected(bad)), "a rejected apply names what it meant to install")
}
