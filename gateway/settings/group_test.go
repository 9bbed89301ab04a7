package settings

import (
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSettingsAPIGroup: api.group names a group of the system; a group
// that does not exist is a settings error before the daemon starts, and an
// empty file means all defaults.
func TestSettingsAPIGroup(t *testing.T) {
	dir := t.TempDir()
	load := func(text string) (Settings, error) {
		path := filepath.Join(dir, "s.yaml")
		require.NoError(t, os.WriteFile(path, []byte(text), 0o600))
		return Load(path)
	}

	_, err := load("api:\n  group: no-such-group-zg\n")
	require.Error(t, err)
	assert.Contains(t, err.Error(), `api.group "no-such-group-zg" is not a group of this system`)
	assert.Contains(t, err.Error(), "groupadd")

	g, err := user.LookupGroupId(strconv.Itoa(os.Getgid()))
	require.NoError(t, err, "the test's own group must be known to the system")
	s, err := load("api:\n  group: " + g.Name + "\n")
	require.NoError(t, err)
	gid, err := s.APIGroupID()
	require.NoError(t, err)
	assert.Equal(t, os.Getgid(), gid)

	s, err = load("")
	require.NoError(t, err, "an empty settings file means the defaults")
	gid, err = s.APIGroupID()
	require.NoError(t, err)
	assert.Equal(t, -1, gid, "no api.group keeps the daemon's group")
}
