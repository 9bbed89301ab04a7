package settings

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMetricsListenSettings(t *testing.T) {
	for text, want := range map[string]string{
		"metrics:\n  listen: 198.18.60.1\n":          "metrics.listen \"198.18.60.1\" is not ADDRESS:PORT",
		"metrics:\n  listen: gateway.example:9469\n": "not an IP address",
		"metrics:\n  listen: 198.18.60.1:0\n":        "the port must be 1-65535",
	} {
		path := filepath.Join(t.TempDir(), "s.yaml")
		require.NoError(t, os.WriteFile(path, []byte(text), 0o600))
		_, err := Load(path)
		if assert.Error(t, err, text) {
			assert.Contains(t, err.Error(), want, text)
		}
	}
	path := filepath.Join(t.TempDir(), "s.yaml")
	require.NoError(t, os.WriteFile(path, []byte("metrics:\n  listen: 198.18.60.1:9469\n"), 0o600))
	s, err := Load(path)
	require.NoError(t, err)
	assert.Equal(t, "198.18.60.1:9469", s.Metrics.Listen)
	assert.Empty(t, Default().Metrics.Listen, "metrics are off by default")
}
