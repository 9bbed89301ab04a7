package settings

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEventSettings(t *testing.T) {
	s, err := Load("../../configs/zonegate.yaml")
	require.NoError(t, err)
	want := Default()
	assert.Equal(t, want.Events, s.Events, "the example shows the defaults")
	assert.Equal(t, 0.5, s.Audit.DataPlaneShare)
	assert.Equal(t, 10*time.Second, time.Duration(s.Events.Interval))

	for text, msg := range map[string]string{
		"audit:\n  data_plane_share: 0.95\n": "audit.data_plane_share must be 0.05-0.9",
		"audit:\n  data_plane_share: 0\n":    "audit.data_plane_share must be 0.05-0.9",
		"events:\n  interval: 100ms\n":       "interval must be at least 1s",
		"events:\n  max_keys: 0\n":           "max_keys and log_lines at least 1",
	} {
		path := filepath.Join(t.TempDir(), "s.yaml")
		require.NoError(t, os.WriteFile(path, []byte(text), 0o600))
		_, err := Load(path)
		require.Error(t, err, text)
		assert.Contains(t, err.Error(), msg, text)
	}
	path := filepath.Join(t.TempDir(), "s.yaml")
	require.NoError(t, os.WriteFile(path, []byte("audit:\n  data_plane_share: 0.25\nevents:\n  interval: 1m\n"), 0o600))
	s, err = Load(path)
	require.NoError(t, err)
	assert.Equal(t, 0.25, s.Audit.DataPlaneShare)
	assert.Equal(t, time.Minute, time.Duration(s.Events.Interval))
}
