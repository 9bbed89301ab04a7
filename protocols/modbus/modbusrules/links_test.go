package modbusrules

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zonegate/zonegate/protocols/internal/deps"
)

// TestLinksNoRuntime: the model side of Modbus, with the contract it
// fills, links no network stack, no logger and no proxy: a protocol's
// rules block is read, checked and described without its runtime (which
// package protocols/registry pairs with it).
func TestLinksNoRuntime(t *testing.T) {
	all, err := deps.Of(".")
	require.NoError(t, err)
	require.True(t, all["strings"], "the walk reads the standard library")
	require.True(t, all[deps.Module+"/protocols/rulesblock"], "the walk follows the module's packages")
	for p := range all {
		if p == "net" || p == "net/http" || strings.HasPrefix(p, "go.uber.org/") ||
			p == deps.Module+"/protocols/proxy" || p == deps.Module+"/protocols/modbustcp" || p == deps.Module+"/protocols/registry" {
			t.Errorf("protocols/modbus/modbusrules links %s", p)
		}
	}
}
