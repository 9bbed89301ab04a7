package settings

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestEmptySettingsFile: an empty settings file (io.EOF from the decoder)
// means all defaults, not an error.
func TestEmptySettingsFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "empty.yaml")
	require.NoError(t, os.WriteFile(path, nil, 0o600))
	s, err := Load(path)
	require.NoError(t, err)
	assert.Equal(t, Default().Firewall, s.Firewall)
}
