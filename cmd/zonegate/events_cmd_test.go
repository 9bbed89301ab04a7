package main

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

// TestEventsCommand runs `zonegate events` against a fake API on a Unix
// socket: the table, --json, and the since the command passes.
func TestEventsCommand(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "api.sock")
	ln, err := net.Listen("unix", sock)
	require.NoError(t, err)
	var sinces []string
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		assert.Equal(t, api.PathEvents, r.URL.Path)
		assert.Equal(t, "Bearer tok", r.Header.Get("Authorization"))
		sinces = append(sinces, r.URL.Query().Get("since"))
		last := time.Date(2026, 11, 30, 12, 0, 10, 0, time.UTC)
		_ = json.NewEncoder(w).Encode(api.EventsResult{Last: 7, Interval: "10s", Events: []api.Event{
			{Seq: 6, Kind: "dropped-flow", Count: 3, First: last.Add(-5 * time.Second), Last: last, Protocol: "tcp", Source: "198.18.22.10",
				Destination: "198.18.23.10:23", Ports: "23", Zone: "office", Interface: "eth1", Chain: "forward", Reason: "no conduit allows the flow", Sample: "tcp flags S len 60"},
			{Seq: 7, Kind: "denied", Count: 790192, First: last.Add(-10 * time.Second), Last: last, Protocol: "modbus", Source: "198.18.22.10",
				Destination: "198.18.23.10:502", Conduit: "office-to-cell", Reason: "function_not_allowed", Sample: "unit 1 fc 6 addr 50"},
		}})
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	sess := filepath.Join(dir, "session.json")
	b, err := json.Marshal(session{Socket: sock, User: "vera", Token: "tok", Expires: time.Now().Add(time.Hour)})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(sess, b, 0o600))
	t.Setenv("ZONEGATE_SESSION", sess)
	t.Setenv("ZONEGATE_SOCKET", sock)

	out, errOut, code := clitest.Run(run, "events", "--since", "5")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "SEQ")
	assert.Contains(t, out, "dropped-flow")
	assert.Contains(t, out, "198.18.23.10:23")
	assert.Contains(t, out, "office/eth1/forward")
	assert.Contains(t, out, "790192")
	assert.Contains(t, out, "office-to-cell")
	assert.Equal(t, []string{"5"}, sinces)

	out, errOut, code = clitest.Run(run, "events", "--json")
	require.Equal(t, 0, code, errOut)
	var ev api.Event
	require.NoError(t, json.Unmarshal([]byte(strings.SplitN(out, "\n", 2)[0]), &ev))
	assert.Equal(t, "23", ev.Ports)
	assert.Equal(t, "198.18.22.10", ev.Source)
}
