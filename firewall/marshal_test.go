package firewall_test

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zonegate/zonegate/firewall"
	"github.com/zonegate/zonegate/test/lab"
)

// TestMarshalRuleLikeLibrary: the rule and chain messages Apply marshals
// itself are byte for byte those google/nftables marshals for them, for
// every rule of the example (Modbus redirects, anonymous sets, ICMP, log
// and limit), its island mode, the lockdown ruleset and a generated model.
func TestMarshalRuleLikeLibrary(t *testing.T) {
	example := loadFile(t, examplePath)
	for name, rs := range map[string]*firewall.Ruleset{
		"example":   firewall.Compile(example, firewall.Options{}),
		"island":    firewall.Compile(example, firewall.Options{Island: true}),
		"lockdown":  firewall.Lockdown(firewall.Options{}),
		"generated": firewall.Compile(load(t, string(lab.GenerateModel(20, 200))), firewall.Options{}),
	} {
		t.Run(name, func(t *testing.T) {
			ours, library, err := firewall.RuleMessages(rs)
			require.NoError(t, err)
			require.Equal(t, len(library), len(ours), "number of rule messages")
			require.NotEmpty(t, ours)
			for i := range ours {
				assert.True(t, bytes.Equal(library[i], ours[i]), "rule message %d differs:\nlibrary %x\nours    %x", i, library[i], ours[i])
			}
			ours, library, err = firewall.ChainMessages(rs)
			require.NoError(t, err)
			require.Equal(t, len(library), len(ours), "number of chain messages")
			require.NotEmpty(t, ours)
			for i := range ours {
				assert.True(t, bytes.Equal(library[i], ours[i]), "chain message %d differs:\nlibrary %x\nours    %x", i, library[i], ours[i])
			}
		})
	}
}
