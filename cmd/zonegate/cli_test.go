package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zonegate/zonegate/cmd/internal/cli/clitest"
)

// TestCommandTree: every command and sub-command answers -h and --help
// with its usage on stdout and exit 0, and an unknown flag with exit 2.
func TestCommandTree(t *testing.T) {
	clitest.CheckTree(t, newRoot, run)
}

const exampleModel = "../../configs/example-factory.yaml"

// TestExitCodes: usage errors exit 2, failures 1, as the README says.
func TestExitCodes(t *testing.T) {
	t.Setenv("ZONEGATE_SESSION", filepath.Join(t.TempDir(), "session.json"))
	t.Setenv("ZONEGATE_SOCKET", filepath.Join(t.TempDir(), "api.sock"))
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte("version: 2\n"), 0o600))
	for _, tc := range []struct {
		args []string
		code int
		out  string // in stdout
		err  string // in stderr
	}{
		{nil, 2, "Usage:", ""},
		{[]string{"nope"}, 2, "", `unknown command "nope"`},
		{[]string{"user"}, 2, "", "name a command"},
		{[]string{"user", "frob"}, 2, "", `unknown command "frob"`},
		{[]string{"audit"}, 2, "", "name a command"},
		{[]string{"check"}, 2, "", "FILE is missing"},
		{[]string{"check", "a.yaml", "b.yaml"}, 2, "", "unexpected argument(s): b.yaml"},
		{[]string{"check", exampleModel}, 0, "valid: 7 zones", ""},
		{[]string{"check", exampleModel, "--strict"}, 1, "valid: 7 zones", "--strict: 2 warning(s) count as errors"},
		{[]string{"check", "-strict", exampleModel}, 1, "valid", "--strict"},
		{[]string{"check", exampleModel, "-canonical"}, 0, "version: 1\n", ""},
		{[]string{"check", bad}, 1, "", "error(s); nothing was applied"},
		{[]string{"plan", "--modbus-proxy-port", "70000", exampleModel}, 2, "", "70000"},
		{[]string{"plan", exampleModel, "-island"}, 0, "table inet zonegate", ""},
		{[]string{"status"}, 1, "", "not logged in: run `zonegate login USER` first"},
		{[]string{"push", exampleModel, "--comment", "x"}, 1, "", "not logged in"},
		{[]string{"push"}, 2, "", "FILE is missing"},
		{[]string{"island", "on", "off"}, 2, "", "unexpected argument(s): off"},
		{[]string{"serve"}, 2, "", "--config FILE"},
		{[]string{"modbus-proxy", "--listen", "127.0.0.1:0"}, 2, "", "are all required"},
		{[]string{"audit", "verify"}, 2, "", "want exactly one log directory"},
		{[]string{"audit", "show", filepath.Join(t.TempDir(), "none"), "--since", "soon"}, 2, "", "--since"},
		{[]string{"version"}, 0, "zonegate dev", ""},
		{[]string{"completion", "bash"}, 0, "bash completion", ""},
		{[]string{"completion", "zsh"}, 0, "zsh completion", ""},
		{[]string{"completion", "fish"}, 0, "fish completion", ""},
	} {
		out, errOut, code := clitest.Run(run, tc.args...)
		assert.Equal(t, tc.code, code, "zonegate %q: exit code\nstdout: %s\nstderr: %s", tc.args, out, errOut)
		assert.Contains(t, out, tc.out, "zonegate %q: stdout", tc.args)
		assert.Contains(t, errOut, tc.err, "zonegate %q: stderr", tc.args)
	}
}
