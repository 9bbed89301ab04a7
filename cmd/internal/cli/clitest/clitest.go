// Package clitest checks a cobra command tree built with package cli:
// every command answers -h and --help with its usage on standard output
// and exit 0, and refuses an unknown flag with exit 2.
package clitest

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zonegate/zonegate/cmd/internal/cli"
)

// Run runs a command line in-process: run is the binary's run function.
func Run(run func(args []string, stdout, stderr io.Writer) int, args ...string) (stdout, stderr string, code int) {
	var o, e bytes.Buffer
	code = run(args, &o, &e)
	return o.String(), e.String(), code
}

// Paths lists the argument paths of every command below root, root
// first (as an empty path).
func Paths(root *cobra.Command) [][]string {
	var paths [][]string
	cli.Walk(root, func(c *cobra.Command) {
		paths = append(paths, strings.Fields(c.CommandPath())[1:])
	})
	return paths
}

// CheckTree checks every command of the tree newRoot builds.
func CheckTree(t *testing.T, newRoot func(stdout, stderr io.Writer) *cobra.Command, run func(args []string, stdout, stderr io.Writer) int) {
	t.Helper()
	paths := Paths(newRoot(io.Discard, io.Discard))
	require.Greater(t, len(paths), 3, "the command tree is empty")
	var names []string
	for _, p := range paths {
		names = append(names, strings.Join(p, " "))
	}
	assert.Contains(t, names, "completion bash", "the completion command is missing")
	assert.Contains(t, names, "completion zsh")
	assert.Contains(t, names, "completion fish")
	for _, p := range paths {
		name := strings.Join(append([]string{newRoot(io.Discard, io.Discard).Name()}, p...), " ")
		t.Run(strings.Join(append([]string{"root"}, p...), "_"), func(t *testing.T) {
			for _, h := range []string{"--help", "-h"} {
				out, errOut, code := Run(run, append(append([]string{}, p...), h)...)
				assert.Equal(t, 0, code, "%s %s: exit code; stderr:\n%s", name, h, errOut)
				assert.Contains(t, out, "Usage:", "%s %s: no usage on stdout", name, h)
				assert.Contains(t, out, name, "%s %s: the usage does not name the command", name, h)
				assert.Empty(t, errOut, "%s %s: wrote to stderr", name, h)
			}
			out, errOut, code := Run(run, append(append([]string{}, p...), "--no-such-flag")...)
			assert.Equal(t, cli.ExitUsage, code, "%s --no-such-flag: exit code; stdout:\n%s", name, out)
			assert.Contains(t, errOut, "unknown flag: --no-such-flag", "%s --no-such-flag: stderr", name)
			assert.Contains(t, errOut, "Usage:", "%s --no-such-flag: the usage goes to stderr", name)
		})
	}
}
