package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zonegate/zonegate/cmd/internal/cli"
	"github.com/zonegate/zonegate/gateway/zone"
	"github.com/zonegate/zonegate/gateway/zone/zonedoc"
)

// zg runs the CLI through the dispatcher as main does.
func zg(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return code, out.String(), errb.String()
}

// invalidModel writes a model with an error on line 6, column 17.
func invalidModel(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "bad.yaml")
	src := "version: 1\ngateway: {name: gw}\nzones:\n  - name: office\n    importance: low\n    interfaces: eth0\n    networks: [10.0.0.0/8]\n"
	require.NoError(t, os.WriteFile(path, []byte(src), 0o644))
	return path
}

func TestDiagramCommand(t *testing.T) {
	m, err := zone.LoadFile(exampleModel)
	require.NoError(t, err)

	code, out, errs := zg("diagram", exampleModel)
	require.Equal(t, 0, code, errs)
	assert.Equal(t, string(zonedoc.SVG(m, zonedoc.DiagramOptions{})), out, "svg to stdout by default")
	assert.Empty(t, errs)

	for _, f := range zonedoc.DiagramFormats {
		path := filepath.Join(t.TempDir(), "zones."+string(f))
		code, out, errs := zg("diagram", "--format", string(f), exampleModel, "--out", path)
		require.Equal(t, 0, code, errs)
		assert.Empty(t, out)
		got, err := os.ReadFile(path)
		require.NoError(t, err)
		want, _ := zonedoc.Diagram(m, f, zonedoc.DiagramOptions{})
		assert.Equal(t, string(want), string(got), f)
	}
	code, out, _ = zg("diagram", "-f", "mermaid", exampleModel)
	assert.Equal(t, 0, code)
	assert.True(t, strings.HasPrefix(out, "---\ntitle: \"line3-gw"))

	code, out, _ = zg("diagram", "--help")
	assert.Equal(t, 0, code)
	assert.Contains(t, out, "--format")
}

func TestReportCommand(t *testing.T) {
	code, out, errs := zg("report", "--date", "2026-12-01", exampleModel)
	require.Equal(t, 0, code, errs)
	assert.True(t, strings.HasPrefix(out, "<!DOCTYPE html>"), "html by default")
	assert.Contains(t, out, "<td>2026-12-01</td>")

	path := filepath.Join(t.TempDir(), "report.md")
	code, out, errs = zg("report", exampleModel, "--format", "markdown", "--date", "2026-12-01", "--out", path)
	require.Equal(t, 0, code, errs)
	assert.Empty(t, out)
	md, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Contains(t, string(md), "```mermaid\n")
	assert.Contains(t, string(md), "| Date | 2026-12-01 |")

	// Without --date the report carries the model file's modification time.
	src, err := os.ReadFile(exampleModel)
	require.NoError(t, err)
	model := filepath.Join(t.TempDir(), "factory.yaml")
	require.NoError(t, os.WriteFile(model, src, 0o644))
	mtime := time.Date(2021, 3, 4, 12, 0, 0, 0, time.UTC)
	require.NoError(t, os.Chtimes(model, mtime, mtime))
	code, out, errs = zg("report", "-f", "markdown", model)
	require.Equal(t, 0, code, errs)
	assert.Contains(t, out, "| Date | 2021-03-04 |")
	code, again, _ := zg("report", "-f", "markdown", model)
	assert.Equal(t, 0, code)
	assert.Equal(t, out, again, "the same file gives the same report")
}

func TestDocCommandsUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"diagram"},
		{"diagram", exampleModel, exampleModel},
		{"diagram", "--format", "png", exampleModel},
		{"diagram", "--no-such-flag", exampleModel},
		{"report"},
		{"report", "--format", "pdf", exampleModel},
		{"report", "--format", "svg", exampleModel},
		{"report", "--date", "2026-13-01", exampleModel},
		{"report", "--date", "yesterday", exampleModel},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			code, stdout, stderr := zg(append(args, "--out", out)...)
			assert.Equal(t, 2, code, stderr)
			assert.Empty(t, stdout)
			assert.Contains(t, stderr, "zonegate "+args[0]+": ")
			assert.Contains(t, stderr, "Usage:")
			assert.NoFileExists(t, out)
		})
	}
	_, _, stderr := zg("diagram", "--format", "png", exampleModel)
	assert.Contains(t, stderr, `unknown --format "png": use one of svg, dot, mermaid`)
	_, _, stderr = zg("report", "--date", "yesterday", exampleModel)
	assert.Contains(t, stderr, "write YYYY-MM-DD")
}

func TestDocCommandsInvalidModel(t *testing.T) {
	bad := invalidModel(t)
	_, _, checkErr := zg("check", bad)
	diag := strings.SplitN(checkErr, "\n", 2)[0]
	require.Contains(t, diag, bad+":6:17: ", "check reports the problem with its position")

	for _, args := range [][]string{
		{"diagram", bad},
		{"diagram", "--format", "dot", bad},
		{"report", bad},
		{"report", "--format", "markdown", bad},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			code, stdout, stderr := zg(append(args, "--out", out)...)
			assert.Equal(t, 1, code)
			assert.Empty(t, stdout)
			assert.Contains(t, stderr, diag+"\n", "the same diagnostics as check")
			assert.Contains(t, stderr, "1 error(s); nothing was written")
			assert.NotContains(t, stderr, "Usage:")
			assert.NoFileExists(t, out, "an invalid model writes no output file")
			entries, err := os.ReadDir(filepath.Dir(out))
			require.NoError(t, err)
			assert.Empty(t, entries, "no temporary file left behind")
		})
	}

	// A missing model file and an unwritable output are failures, not usage errors.
	code, _, stderr := zg("diagram", filepath.Join(t.TempDir(), "missing.yaml"))
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "read zone model")
	code, _, stderr = zg("diagram", exampleModel, "--out", filepath.Join(t.TempDir(), "no-such-dir", "x.svg"))
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "check that the directory exists and is writable")
}

// The constructors are what the cobra root will register later.
func TestDocCommandConstructors(t *testing.T) {
	for _, c := range []struct {
		name string
		cmd  func() (string, error)
	}{
		{"diagram", func() (string, error) {
			c := newDiagramCmd()
			var out bytes.Buffer
			c.SetOut(&out)
			c.SetErr(&out)
			c.SetArgs([]string{"-f", "dot", exampleModel})
			err := c.Execute()
			return out.String(), err
		}},
		{"report", func() (string, error) {
			c := newReportCmd()
			var out bytes.Buffer
			c.SetOut(&out)
			c.SetErr(&out)
			c.SetArgs([]string{"--date", "2026-01-01", exampleModel})
			err := c.Execute()
			return out.String(), err
		}},
	} {
		out, err := c.cmd()
		require.NoError(t, err, c.name)
		assert.NotEmpty(t, out, c.name)
	}
	c := newDiagramCmd()
	c.SetArgs([]string{"--format"})
	c.SetOut(&bytes.Buffer{})
	c.SetErr(&bytes.Buffer{})
	assert.Equal(t, 2, exitCode(c.Execute()), "a flag without its value is a usage error")
	assert.Equal(t, 0, exitCode(nil))
}

// exitCode is the exit code cli.Run gives for the error a command
// returned: its own code, or a usage error for cobra's flag errors.
func exitCode(err error) int {
	var ee *cli.ExitError
	switch {
	case err == nil:
		return cli.ExitOK
	case errors.As(err, &ee):
		return ee.Code
	}
	return cli.ExitUsage
}
