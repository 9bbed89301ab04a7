package gateway

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/zonegate/zonegate/firewall"
	"github.com/zonegate/zonegate/gateway/audit"
	"github.com/zonegate/zonegate/gateway/events"
	"github.com/zonegate/zonegate/gateway/settings"
	"github.com/zonegate/zonegate/protocols/inspect"
)

// TestRunRefusesUnusableMetricsListen: an address that cannot be bound
// stops the start with a settings error that says what to do.
func TestRunRefusesUnusableMetricsListen(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer busy.Close()
	for addr, want := range map[string]string{
		busy.Addr().String(): "pick a free port for metrics.listen",
		// In the benchmarking range and on no interface of the test's
		// namespace: the bind fails, nothing is sent.
		"198.19.255.254:9469": "not on any interface of this gateway",
	} {
		dir := t.TempDir()
		s := settings.Default()
		s.StateDir = filepath.Join(dir, "state")
		s.API.Socket = filepath.Join(dir, "api.sock")
		s.Metrics.Listen = addr
		require.NoError(t, s.Validate(), "the syntax is fine; only binding shows the problem")
		k, clk := newFakes()
		d := New(Config{Settings: s, Kernel: k, Clock: clk, ModbusListen: "127.0.0.1:0", Logger: zap.NewNop()})
		err := d.Run(context.Background(), nil)
		if assert.Error(t, err, addr) {
			assert.Contains(t, err.Error(), "metrics.listen "+addr, addr)
			assert.Contains(t, err.Error(), want, addr)
		}
		assert.True(t, k.Holds(d.table.Ruleset(nil, true)), "the fail-close ruleset stays in place")
	}
}

// TestMetricsFromTheDaemon scrapes the daemon's own snapshot: the fake
// kernel's counters with the running model's zones, the running model,
// the audit log and the denials the event pipeline counted from a proxy's
// events (each once; a write is no denial).
func TestMetricsFromTheDaemon(t *testing.T) {
	h := newHarness(t, withModelFile(hModelBase))
	h.k.SetCounters([]firewall.CounterValue{
		{Name: firewall.ConduitCounter("ops-to-cell"), Packets: 3, Bytes: 180},
		{Name: firewall.SpoofCounter("cell"), Packets: 2, Bytes: 120},
		{Name: firewall.CounterDropFwd, Packets: 7, Bytes: 420},
	})
	h.d.pipeline = events.New(events.Config{})
	feed := inspect.NewFeed(0, 8, nil)
	for range 2 {
		feed.Push(&inspect.Event{Protocol: "modbus", Kind: inspect.Denied, Conduit: "ops-to-plc", Reason: "function_not_allowed"})
	}
	feed.Push(&inspect.Event{Protocol: "modbus", Kind: inspect.Write, Conduit: "ops-to-plc"})
	feed.Close()
	h.d.pipeline.Follow(feed)
	waitFor(t, func() bool { return h.d.pipeline.Stats().Events["write"] == 1 }) // the last of them

	h.d.set.Metrics.Listen = "127.0.0.1:0"
	stop, err := h.d.serveMetrics()
	require.NoError(t, err)
	defer stop()
	resp, err := http.Get("http://" + h.d.metrics.server.Addr().String() + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	p := expfmt.NewTextParser(model.LegacyValidation)
	_, err = p.TextToMetricFamilies(strings.NewReader(string(body)))
	require.NoError(t, err)

	text := string(body)
	for _, line := range []string{
		`zonegate_conduit_packets_total{conduit="ops-to-cell",from="ops",to="cell"} 3`,
		`zonegate_zone_spoofed_packets_total{zone="cell"} 2`,
		`zonegate_dropped_packets_total{chain="forward"} 7`,
		`zonegate_inspected_denials_total{conduit="ops-to-plc",protocol="modbus",reason="function_not_allowed",verdict="denied"} 2`,
		`zonegate_inspected_events_dropped_total 0`,
		`zonegate_model_info{digest="` + h.d.tx.Running().Digest() + `",gateway="unit-gw",version="1"} 1`,
		`zonegate_island 0`,
		`zonegate_audit_available 1`,
		`zonegate_build_info{commit="` + Commit + `",`,
	} {
		assert.Contains(t, text, line)
	}
}

// TestReloadDoesNotRebindMetrics: a SIGHUP that changes metrics.listen is
// audited, but the server keeps its address until the next start.
func TestReloadDoesNotRebindMetrics(t *testing.T) {
	h := newHarness(t)
	path := h.withSettingsFile("")
	h.d.set.Metrics.Listen = "127.0.0.1:0"
	stop, err := h.d.serveMetrics()
	require.NoError(t, err)
	defer stop()
	addr := h.d.metrics.server.Addr().String()

	require.NoError(t, os.WriteFile(path, []byte("metrics:\n  listen: 127.0.0.1:9469\n"), 0o600))
	require.NoError(t, h.d.ReloadSettings(h.ctx))
	changed := h.entries(audit.ActionSettingsChanged)
	require.NotEmpty(t, changed)
	assert.Contains(t, changed[len(changed)-1].Details[audit.DetailDiff], "metrics.listen")
	assert.Contains(t, changed[len(changed)-1].Details[audit.DetailDiff], "metrics.* at the next start")
	assert.Equal(t, addr, h.d.metrics.server.Addr().String(), "no re-bind on SIGHUP")
	resp, err := http.Get("http://" + addr + "/metrics")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode, "still served on the old address")

	require.NoError(t, os.WriteFile(path, []byte("metrics:\n  listen: nowhere\n"), 0o600))
	assert.ErrorContains(t, h.d.ReloadSettings(h.ctx), "metrics.listen")
}
