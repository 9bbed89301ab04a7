package main

// Tests of what the fleet tooling (configs/ansible) asks of the CLI:
// push --dry-run, user list --json, check --settings.

import (
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zonegate/zonegate/cmd/internal/cli/clitest"
	"github.com/zonegate/zonegate/gateway/api"
)

// fleetDaemon answers status, model and users on a Unix socket like the
// daemon; every other call (a push) fails the test. It returns the
// directory of the socket.
func fleetDaemon(t *testing.T, st api.Status, model *api.RunningModel) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "zgfleet")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "api.sock")
	ln, err := net.Listen("unix", sock)
	require.NoError(t, err)
	mux := http.NewServeMux()
	answer := func(v any) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			assert.Equal(t, "Bearer tok", r.Header.Get("Authorization"))
			_ = json.NewEncoder(w).Encode(v)
		}
	}
	mux.HandleFunc("GET "+api.PathStatus, answer(st))
	mux.HandleFunc("GET "+api.PathModel, func(w http.ResponseWriter, r *http.Request) {
		if model == nil {
			w.WriteHeader(http.StatusNotFound)
			_ = json.NewEncoder(w).Encode(api.Error{Message: "no model runs"})
			return
		}
		answer(model)(w, r)
	})
	mux.HandleFunc("GET "+api.PathUsers, answer([]api.User{
		{Name: "admin", Role: "admin", Created: time.Unix(1e9, 0).UTC()},
		{Name: "ansible", Role: "engineer", MustChangePassword: true},
	}))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("unexpected call %s %s: a dry run changes nothing", r.Method, r.URL.Path)
		w.WriteHeader(http.StatusTeapot)
	})
	srv := &http.Server{Handler: mux}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	t.Setenv("ZONEGATE_SESSION", filepath.Join(dir, "session.json"))
	t.Setenv("ZONEGATE_SOCKET", sock)
	require.NoError(t, saveSession(session{Socket: sock, User: "ada", Token: "tok", Expires: time.Now().Add(time.Hour)}))
	return dir
}

func writeFile(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(p, []byte(text), 0o600))
	return p
}

func TestPushDryRunShowsModelAndRulesetDiff(t *testing.T) {
	dir := fleetDaemon(t, api.Status{Gateway: "unit-gw", Version: 4, Digest: "sha256:aa"},
		&api.RunningModel{Version: 4, Digest: "sha256:aa", Model: statusModel})
	pushed := writeFile(t, dir, "new.yaml", strings.Replace(statusModel, "services: [tcp/7001]", "services: [tcp/7001, tcp/7003]", 1))
	out, errOut, code := clitest.Run(run, "push", "--dry-run", pushed)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "dry run: nothing is pushed")
	assert.Contains(t, out, "changes against the running model, version 4 (sha256:aa):\n  ~ conduit ops-to-cell: services: [tcp/7001] -> [tcp/7001, tcp/7003]\n")
	assert.Contains(t, out, "--- the running model, version 4 (sha256:aa)\n+++ "+pushed+"\n@@ ")
	// The conduit's rule carries both ports now; the old one goes.
	var minus, plus []string
	for _, l := range strings.Split(out, "\n") {
		switch {
		case strings.HasPrefix(l, "-") && !strings.HasPrefix(l, "---"):
			minus = append(minus, l)
		case strings.HasPrefix(l, "+") && !strings.HasPrefix(l, "+++"):
			plus = append(plus, l)
		}
	}
	require.NotEmpty(t, minus, out)
	require.NotEmpty(t, plus, out)
	assert.Contains(t, strings.Join(plus, "\n"), "7003")
	assert.NotContains(t, strings.Join(minus, "\n"), "7003")

	// The same model: unchanged, no diff.
}

// checkDigest is the digest of a model file as `zonegate check` prints it.
func checkDigest(t *testing.T, path string) string {
	t.Helper()
	out, errOut, code := clitest.Run(run, "check", path)
	require.Equal(t, 0, code, errOut)
	i := strings.Index(out, "digest ")
	require.GreaterOrEqual(t, i, 0, out)
	return strings.TrimSpace(out[i+len("digest "):])
}

func TestPushDryRunUnchangedAndPending(t *testing.T) {
	dir, err := os.MkdirTemp("", "zgfleetm")
	require.NoError(t, err)
	defer os.RemoveAll(dir)
	model := writeFile(t, dir, "m.yaml", statusModel)
	digest := checkDigest(t, model)

	fleetDaemon(t, api.Status{Version: 7, Digest: digest,
		Pending: &api.Pending{Version: 7, Previous: 6, User: "olga", Deadline: time.Now().Add(time.Minute)}},
		&api.RunningModel{Version: 7, Digest: digest, Model: statusModel})
	out, errOut, code := clitest.Run(run, "push", "--dry-run", model)
	assert.Equal(t, 1, code, "a pending change: the push would be refused")
	assert.Contains(t, out, "unchanged: version 7 already runs this model ("+digest+")")
	assert.Contains(t, errOut, "version 7 by olga waits for `zonegate confirm`")
}

func TestPushDryRunAgainstNoModel(t *testing.T) {
	dir := fleetDaemon(t, api.Status{Island: true, IslandReason: "no model"}, nil)
	model := writeFile(t, dir, "m.yaml", statusModel)
	settingsFile := writeFile(t, dir, "zonegate.yaml", "firewall:\n  modbus_proxy_port: 5999\n")
	out, errOut, code := clitest.Run(run, "push", "--dry-run", "--config", settingsFile, model)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "changes against no model (the gateway forwards nothing):\n  + zone cell: ")
	assert.Contains(t, out, "note: the gateway is in island mode (no model)")
	assert.Contains(t, out, "+table inet zonegate")

	_, errOut, code = clitest.Run(run, "push", "--config", settingsFile, model)
	assert.Equal(t, 2, code, "--config without --dry-run is a usage error")
	assert.Contains(t, errOut, "--config goes with --dry-run")
}

func TestUserListJSON(t *testing.T) {
	fleetDaemon(t, api.Status{}, nil)
	out, errOut, code := clitest.Run(run, "user", "list", "--json")
	require.Equal(t, 0, code, errOut)
	var users []api.User
	require.NoError(t, json.Unmarshal([]byte(out), &users), out)
	require.Len(t, users, 2)
	assert.Equal(t, "ansible", users[1].Name)
	assert.Equal(t, "engineer", users[1].Role)
	assert.True(t, users[1].MustChangePassword)

	out, errOut, code = clitest.Run(run, "user", "list")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "USER", "the table stays the default")
}

func TestCheckSettings(t *testing.T) {
	dir := t.TempDir()
	good := writeFile(t, dir, "good.yaml", "state_dir: /var/lib/zonegate\nmetrics:\n  listen: 198.18.60.1:9469\n")
	out, errOut, code := clitest.Run(run, "check", "--settings", good)
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, good+": valid daemon settings\n", out)

	bad := writeFile(t, dir, "bad.yaml", "metrics:\n  listne: 198.18.60.1:9469\n")
	_, errOut, code = clitest.Run(run, "check", "--settings", bad)
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "line 2: field listne not found")
	assert.Contains(t, errOut, "invalid daemon settings")

	wrong := writeFile(t, dir, "wrong.yaml", "changes:\n  keep: 1\n")
	_, errOut, code = clitest.Run(run, "check", "--settings", wrong)
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "changes.keep must be at least 2")

	_, _, code = clitest.Run(run, "check", "--settings", "--strict", good)
	assert.Equal(t, 2, code, "--strict is for models")
}
