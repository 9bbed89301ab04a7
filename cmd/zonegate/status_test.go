package main

import (
	"bytes"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zonegate/zonegate/cmd/internal/cli/clitest"
	"github.com/zonegate/zonegate/gateway/api"
)

func TestAuditStatusText(t *testing.T) {
	for _, tc := range []struct {
		name string
		a    *api.AuditStats
		want []string
		not  []string
	}{
		{"unavailable", nil, []string{"audit:     UNAVAILABLE: changes are refused"}, []string{"FULL"}},
		{"fine", &api.AuditStats{Seq: 42, Percent: 3, Capacity: 64 << 20, Room: 60 << 20, Limit: "max_size"},
			[]string{"42 records, 3% of 64.0 MiB used, 60.0 MiB room left (bounded by audit.max_size)", "no records lost since start"},
			[]string{"FULL", "warning", "LOST"}},
		{"full", &api.AuditStats{Seq: 9000, Percent: 100, Capacity: 1 << 20, Room: 0, Limit: "filesystem", Full: true,
			FullReason:     "the filesystem has 12 KiB free: free space or move audit.dir",
			StorageWarning: "less than 10% of audit.max_size left", Lost: 7, LostBestEffort: 2},
			[]string{"0 bytes room left (bounded by free space on the filesystem)",
				"audit:     FULL, configuration and account changes are refused: the filesystem has 12 KiB free: free space or move audit.dir",
				"audit:     warning: less than 10% of audit.max_size left",
				"audit:     9 records LOST since start (7 data-plane, 2 best-effort)"},
			[]string{"no records lost"}},
	} {
		var b bytes.Buffer
		printAuditStatus(&b, tc.a)
		for _, w := range tc.want {
			assert.Contains(t, b.String(), w, tc.name)
		}
		for _, n := range tc.not {
			assert.NotContains(t, b.String(), n, tc.name)
		}
	}
}

func TestConsoleStatusText(t *testing.T) {
	var b bytes.Buffer
	printConsoleStatus(&b, nil)
	assert.Equal(t, "console:   off (console.listen)\n", b.String())
	b.Reset()
	printConsoleStatus(&b, &api.ConsoleStatus{URL: "https://198.18.60.1:8443/", Fingerprint: "AB:CD", SelfSigned: true,
		NotAfter: time.Date(2031, 2, 28, 9, 0, 0, 0, time.UTC)})
	assert.Equal(t, "console:   https://198.18.60.1:8443/\nconsole:   certificate SHA-256 AB:CD (self-signed, valid until 2031-02-28)\n", b.String())
}

func TestTLSStatusText(t *testing.T) {
	var b bytes.Buffer
	printTLSStatus(&b, api.Status{})
	assert.Empty(t, b.String(), "no secure conduit: no line")
	printTLSStatus(&b, api.Status{TLSSessions: 2, ModbusTLS: []api.TLSCertificate{
		{Conduit: "hmi-secure", Kind: "certificate", Subject: "CN=line3-gw", NotAfter: time.Date(2026, 12, 20, 0, 0, 0, 0, time.UTC), ExpiresSoon: true},
		{Conduit: "hmi-secure", Kind: "client_ca", Subject: "CN=plant CA", NotAfter: time.Date(2036, 1, 1, 0, 0, 0, 0, time.UTC)},
		{Conduit: "hmi-secure", Kind: "crl", Subject: "CN=plant CA", NotAfter: time.Date(2026, 12, 9, 0, 0, 0, 0, time.UTC), ExpiresSoon: true},
	}})
	assert.Equal(t, "mbtls:     2 open sessions, 2 certificates\n"+
		"mbtls:     WARNING conduit hmi-secure: certificate \"CN=line3-gw\" expires 2026-12-20: renew it\n"+
		"mbtls:     WARNING conduit hmi-secure: the CRL of \"CN=plant CA\" is due for its next update 2026-12-09: issue a new one and reload\n", b.String())
}

// statusModel has two conduits; only one has carried traffic.
const statusModel = `version: 1
gateway:
  name: unit-gw
  management:
    zones: [ops]
zones:
  - name: ops
    importance: medium
    interfaces: [eth0]
    networks: [198.18.11.0/24]
  - name: cell
    importance: high
    interfaces: [eth1]
    networks: [198.18.12.0/24]
conduits:
  - name: ops-to-cell
    from: ops
    to: cell
    services: [tcp/7001]
  - name: cell-to-ops
    from: cell
    to: ops
    services: [tcp/7002]
`

// fakeDaemon answers the calls of status, status --diagram and user role
// on a Unix socket, with a saved session for it.
func fakeDaemon(t *testing.T) {
	t.Helper()
	dir, err := os.MkdirTemp("", "zgstatus")
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
	mux.HandleFunc("GET "+api.PathStatus, answer(api.Status{Gateway: "unit-gw", Version: 4, Digest: "sha256:aa",
		Counters: []api.Counter{{Name: "conduit_ops-to-cell", Packets: 1234, Bytes: 5 << 20}, {Name: "conduit_cell-to-ops"}, {Name: "dropped_forward", Packets: 9}},
		Audit:    &api.AuditStats{Seq: 10, Limit: "max_size", Room: 1 << 20, Full: true, FullReason: "audit.max_size reached"}}))
	mux.HandleFunc("GET "+api.PathModel, answer(api.RunningModel{Version: 4, Digest: "sha256:aa", Model: statusModel}))
	mux.HandleFunc("POST "+api.PathUsers+"/vera/role", answer(api.UserActionResult{User: "vera", Done: "role", Unchanged: true}))
	mux.HandleFunc("POST "+api.PathUsers+"/olga/role", answer(api.UserActionResult{User: "olga", Done: "role"}))
	srv := &http.Server{Handler: mux}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	t.Setenv("ZONEGATE_SESSION", filepath.Join(dir, "session.json"))
	t.Setenv("ZONEGATE_SOCKET", sock)
	require.NoError(t, saveSession(session{Socket: sock, User: "ada", Token: "tok", Expires: time.Now().Add(time.Hour)}))
}

func TestStatusAgainstADaemon(t *testing.T) {
	fakeDaemon(t)
	out, errOut, code := clitest.Run(run, "status")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "audit:     FULL, configuration and account changes are refused: audit.max_size reached")

	out, errOut, code = clitest.Run(run, "status", "--diagram", "--format", "dot")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "digraph", "a DOT drawing")
	for _, want := range []string{"ops-to-cell", "cell-to-ops", "1234 packets, 5.0 MiB", "0 packets, 0 bytes"} {
		assert.Contains(t, out, want, "the drawing names every conduit with its counter")
	}
	for _, f := range []string{"svg", "mermaid"} {
		out, errOut, code = clitest.Run(run, "status", "--diagram", "--format", f)
		require.Equal(t, 0, code, errOut)
		assert.Contains(t, out, "1234 packets", f)
	}
	file := filepath.Join(t.TempDir(), "zones.svg")
	_, errOut, code = clitest.Run(run, "status", "--diagram", "--out", file)
	require.Equal(t, 0, code, errOut)
	b, err := os.ReadFile(file)
	require.NoError(t, err)
	assert.Contains(t, string(b), "<svg")

	_, errOut, code = clitest.Run(run, "status", "--diagram", "--format", "png")
	assert.Equal(t, 2, code, "unknown format")
	assert.Contains(t, errOut, "unknown --format")
	_, errOut, code = clitest.Run(run, "status", "--format", "dot")
	assert.Equal(t, 2, code, "--format without --diagram")
	assert.Contains(t, errOut, "--diagram")
}

func TestUserRoleSaysUnchanged(t *testing.T) {
	fakeDaemon(t)
	out, errOut, code := clitest.Run(run, "user", "role", "vera", "viewer")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "user role: unchanged")
	assert.NotContains(t, out, "done")
	out, errOut, code = clitest.Run(run, "user", "role", "olga", "viewer")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "user role: done")
}
