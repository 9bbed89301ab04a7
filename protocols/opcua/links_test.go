package opcua

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zonegate/zonegate/protocols/internal/deps"
)

// TestLinksNoNetNoLogger: the pure engine links no socket code and no
// logger, and of zonegate only the protocol-neutral protocols/inspect.
func TestLinksNoNetNoLogger(t *testing.T) {
	all, err := deps.Of(".")
	require.NoError(t, err)
	require.True(t, all["encoding/binary"], "the walk reads the standard library")
	for p := range all {
		own := p == deps.Module+"/protocols/opcua" || p == deps.Module+"/protocols/inspect"
		// net/netip (addresses as values, through protocols/inspect's
		// event) opens no socket.
		if p == "net" || strings.HasPrefix(p, "net/") && p != "net/netip" || strings.HasPrefix(p, "go.uber.org/") || strings.HasPrefix(p, deps.Module) && !own {
			t.Errorf("protocols/opcua links %s", p)
		}
	}
}
