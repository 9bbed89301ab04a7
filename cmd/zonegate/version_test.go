package main

import (
	"encoding/json"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNewVersionInfo(t *testing.T) {
	bi := &debug.BuildInfo{
		GoVersion: "go1.24.3",
		Path:      "github.com/zonegate/zonegate/cmd/zonegate",
		Main:      debug.Module{Path: "github.com/zonegate/zonegate", Version: "(devel)"},
		Deps: []*debug.Module{
			{Path: "github.com/spf13/cobra", Version: "v1.10.2", Sum: "h1:abc="},
			{Path: "example.org/old", Version: "v1.0.0", Replace: &debug.Module{Path: "example.org/new", Version: "v1.0.1", Sum: "h1:def="}},
		},
		Settings: []debug.BuildSetting{{Key: "GOARCH", Value: "arm"}, {Key: "GOARM", Value: "7"}, {Key: "vcs.revision", Value: "0123456789abcdef"}},
	}
	v := newVersionInfo(bi, "linux", "arm")
	assert.Equal(t, "go1.24.3", v.Go)
	assert.Equal(t, "linux/arm GOARM=7, go1.24.3", v.Platform)
	assert.Equal(t, "0123456789ab", v.Commit, "without a stamped commit, the recorded VCS revision")
	assert.Equal(t, "github.com/zonegate/zonegate/cmd/zonegate", v.Path)
	require.NotNil(t, v.Main)
	assert.Equal(t, "(devel)", v.Main.Version)
	assert.Equal(t, []buildModule{
		{Path: "github.com/spf13/cobra", Version: "v1.10.2", Sum: "h1:abc="},
		{Path: "example.org/old", Version: "v1.0.0", Replace: &buildModule{Path: "example.org/new", Version: "v1.0.1", Sum: "h1:def="}},
	}, v.Modules)
	assert.Equal(t, "7", v.Settings["GOARM"])

	none := newVersionInfo(nil, "linux", "amd64")
	assert.Empty(t, none.Modules)
	assert.Nil(t, none.Main)
	assert.Equal(t, "unknown", none.Commit)
}

// TestVersionJSON runs the command in the test binary, whose build
// information lists the modules this package's tests link.
func TestVersionJSON(t *testing.T) {
	var out, errb strings.Builder
	require.Equal(t, 0, run([]string{"version", "--json"}, &out, &errb), errb.String())
	var got versionInfo
	require.NoError(t, json.Unmarshal([]byte(out.String()), &got), out.String())
	bi, ok := debug.ReadBuildInfo()
	require.True(t, ok, "test binary without build information")
	assert.Equal(t, "zonegate", got.Name)
	assert.Equal(t, bi.GoVersion, got.Go)
	require.Len(t, got.Modules, len(bi.Deps))
	for i, d := range bi.Deps {
		assert.Equal(t, d.Path+"@"+d.Version+" "+d.Sum, got.Modules[i].Path+"@"+got.Modules[i].Version+" "+got.Modules[i].Sum)
	}
	paths := make([]string, len(got.Modules))
	for i, m := range got.Modules {
		paths[i] = m.Path
	}
	assert.Contains(t, paths, "github.com/spf13/cobra")
}
