package gateway

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/zonegate/zonegate/firewall/firewalltest"
	"github.com/zonegate/zonegate/gateway/audit"
	"github.com/zonegate/zonegate/gateway/changes"
	"github.com/zonegate/zonegate/gateway/internal/clock"
	"github.com/zonegate/zonegate/gateway/settings"
	"github.com/zonegate/zonegate/gateway/zone"
)

// The daemon's wiring is tested with firewalltest's fake kernel and a
// fake clock, with a real audit log, real accounts and a real state
// directory below t.TempDir(): no root, no netlink, no sleeping. The
// change transactions themselves are tested in package changes.

// hModelBase lets ops reach cell on tcp/7001; hModelOpen adds tcp/7000.
const hModelBase = `version: 1
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
`

var hModelOpen = strings.Replace(hModelBase, "services: [tcp/7001]", "services: [tcp/7000, tcp/7001]", 1)

// hModelModbus adds a Modbus-inspected conduit, whose policy the daemon
// hands to the proxy.
var hModelModbus = hModelBase + `  - name: ops-to-plc
    from: ops
    to: cell
    services: [tcp/502]
    inspect: modbus
    modbus:
      mode: enforce
      on_deny: exception
      allow:
        - read: holding_registers
          addresses: 0-99
`

var hStart = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

type harness struct {
	t   *testing.T
	ctx context.Context
	set settings.Settings
	// settingsPath is the settings file of the daemon; "" for none.
	settingsPath string
	k            *firewalltest.Kernel
	clk          *clock.Fake
	logs         *observer.ObservedLogs
	d            *Daemon
	start        error // what open returned
}

type hOption func(*settings.Settings)

// newHarness starts a daemon like Run does up to the API (state
// directory, fail-close ruleset, audit log, accounts, boot).
func newHarness(t *testing.T, opts ...hOption) *harness {
	t.Helper()
	s := settings.Default()
	s.StateDir = filepath.Join(t.TempDir(), "state")
	for _, o := range opts {
		o(&s)
	}
	h := &harness{t: t, ctx: context.Background(), set: s, k: firewalltest.NewKernel(), clk: clock.NewFake(hStart)}
	h.startDaemon()
	return h
}

func (h *harness) startDaemon() {
	h.t.Helper()
	core, logs := observer.New(zap.DebugLevel)
	h.logs = logs
	h.d = New(Config{Settings: h.set, SettingsPath: h.settingsPath, Kernel: h.k, Clock: h.clk, Logger: zap.New(core)})
	h.start = h.d.open(h.ctx)
	require.NoError(h.t, h.start)
	d := h.d
	h.t.Cleanup(func() {
		d.tx.Stop()
		d.closeAudit()
	})
	h.d.tx.Boot(h.ctx)
}

// restart stops the daemon and starts a new one on the same state
// directory and kernel, as after a reboot.
func (h *harness) restart() {
	h.t.Helper()
	h.d.tx.Stop()
	h.d.closeAudit()
	h.d.rec.SetLog(nil)
	h.startDaemon()
}

// withSettingsFile writes text as the daemon's settings file and
// restarts the daemon with it; it returns the file's path.
func (h *harness) withSettingsFile(text string) string {
	h.t.Helper()
	h.settingsPath = filepath.Join(h.t.TempDir(), "zonegate.yaml")
	require.NoError(h.t, os.WriteFile(h.settingsPath, []byte(text), 0o600))
	h.restart()
	return h.settingsPath
}

func withModelFile(text string) hOption {
	return func(s *settings.Settings) {
		p := filepath.Join(filepath.Dir(s.StateDir), "model.yaml")
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			panic(err)
		}
		s.Model = p
	}
}

func (h *harness) push(text string, within time.Duration) changes.PushResult {
	h.t.Helper()
	res, err := h.d.tx.Push(h.ctx, changes.Actor{User: "erin"}, []byte(text), "test push", within)
	require.NoError(h.t, err)
	return res
}

func (h *harness) model(text string) *zone.Model {
	h.t.Helper()
	m, err := zone.Load("test.yaml", []byte(text))
	require.NoError(h.t, err)
	return m
}

// holds reports whether the fake kernel holds the ruleset of text (in
// island mode or not).
func (h *harness) holds(text string, island bool) bool {
	return h.k.Holds(h.d.table.Ruleset(h.model(text), island))
}

func (h *harness) holdsLockdown() bool {
	return h.k.Holds(h.d.table.Ruleset(nil, true))
}

// states returns "1:running 2:pending ..." from the version history.
func (h *harness) states() string {
	h.t.Helper()
	vs, err := h.d.tx.History()
	require.NoError(h.t, err)
	var out []string
	for _, v := range vs {
		out = append(out, fmt.Sprintf("%d:%s", v.Number, v.State))
	}
	return strings.Join(out, " ")
}

// records returns the audit records "actor action object result" of the
// configuration category but settings changes, oldest first.
func (h *harness) records() []string {
	h.t.Helper()
	var out []string
	require.NoError(h.t, audit.Read(h.set.AuditDir(), audit.Filter{}, func(e audit.Entry) error {
		if e.Category == audit.CategoryConfig && e.Action != audit.ActionSettingsChanged {
			out = append(out, e.Actor+" "+string(e.Action)+" "+e.Object+" "+string(e.Result))
		}
		return nil
	}))
	return out
}

// entries returns the audit entries with action a.
func (h *harness) entries(a audit.Action) []audit.Entry {
	h.t.Helper()
	var out []audit.Entry
	require.NoError(h.t, audit.Read(h.set.AuditDir(), audit.Filter{}, func(e audit.Entry) error {
		if e.Action == a {
			out = append(out, e)
		}
		return nil
	}))
	return out
}

// logged reports whether a log message containing s was written.
func (h *harness) logged(s string) bool {
	return h.logs.FilterMessageSnippet(s).Len() > 0
}

func newFakes() (*firewalltest.Kernel, *clock.Fake) {
	return firewalltest.NewKernel(), clock.NewFake(hStart)
}

func listenUnix(path string) (net.Listener, error) {
	_ = os.Remove(path)
	return net.Listen("unix", path)
}
