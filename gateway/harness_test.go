package gateway

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/zonegate/zonegate/firewall/firewalltest"
	"github.com/zonegate/zonegate/gateway/audit"
	"github.com/zonegate/zonegate/gateway/changes"
	"github.com/zonegate/zonegate/gateway/internal/clock"
	"github.com/zonegate/zonegate/gateway/internal/gatewaytest"
	"github.com/zonegate/zonegate/gateway/settings"
)

// The daemon's wiring is tested with firewalltest's fake kernel and a
// fake clock, with a real audit log, real accounts and a real state
// directory below t.TempDir(): no root, no netlink, no sleeping. The
// change transactions themselves are tested in package changes.

// The models tested with.
var (
	hModelBase = gatewaytest.Base
	hModelOpen = gatewaytest.Open
)

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

// states returns "1:running 2:pending ..." from the version history.
func (h *harness) states() string {
	vs, err := h.d.tx.History()
	return gatewaytest.States(h.t, vs, err)
}

// records returns the audit records "actor action object result" of the
// configuration category but settings changes, oldest first.
func (h *harness) records() []string { return gatewaytest.ConfigRecords(h.t, h.set.AuditDir()) }

// entries returns the audit entries with action a.
func (h *harness) entries(a audit.Action) []audit.Entry {
	return gatewaytest.Entries(h.t, h.set.AuditDir(), a)
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
