package main

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/zonegate/zonegate/cmd/internal/cli/clitest"
)

// TestCommandTree: every command and sub-command answers -h and --help
// with its usage on stdout and exit 0, and an unknown flag with exit 2.
func TestCommandTree(t *testing.T) {
	clitest.CheckTree(t, newRoot, run)
}

// TestExitCodes: bad arguments exit 2 (the lab is never touched).
func TestExitCodes(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		out  string
		err  string
	}{
		{nil, exitUsage, "Usage:", ""},
		{[]string{"nope"}, exitUsage, "", `unknown command "nope"`},
		{[]string{"up"}, exitUsage, "", "MODEL file is missing"},
		{[]string{"probe", "a.yaml", "b.yaml"}, exitUsage, "", "unexpected argument(s): b.yaml"},
		{[]string{"probe", "a.yaml", "--timeout", "0s"}, exitUsage, "", "must be positive"},
		{[]string{"down", "a", "b"}, exitUsage, "", "unexpected argument(s): b"},
		{[]string{"gen", "-zones", "3"}, exitOK, "version: 1", ""},
		{[]string{"completion", "bash"}, exitOK, "bash completion", ""},
	} {
		out, errOut, code := clitest.Run(run, tc.args...)
		assert.Equal(t, tc.code, code, "zonelab %q: exit code\nstdout: %s\nstderr: %s", tc.args, out, errOut)
		assert.Contains(t, out, tc.out, "zonelab %q: stdout", tc.args)
		assert.Contains(t, errOut, tc.err, "zonelab %q: stderr", tc.args)
	}
}
