package proxy

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zonegate/zonegate/protocols/internal/deps"
)

// TestLinksNoProtocol: the engine links no protocol's code: of this
// module only the neutral package inspect.
func TestLinksNoProtocol(t *testing.T) {
	all, err := deps.Of(".")
	require.NoError(t, err)
	require.True(t, all["net"], "the walk reads the standard library")
	var mine []string
	for p := range all {
		if strings.HasPrefix(p, deps.Module+"/") {
			mine = append(mine, p)
		}
	}
	require.ElementsMatch(t, []string{deps.Module + "/protocols/proxy", deps.Module + "/protocols/inspect"}, mine)
}
