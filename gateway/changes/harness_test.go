package changes_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/zonegate/zonegate/firewall"
	"github.com/zonegate/zonegate/firewall/firewalltest"
	"github.com/zonegate/zonegate/gateway/audit"
	"github.com/zonegate/zonegate/gateway/changes"
	"github.com/zonegate/zonegate/gateway/internal/clock"
	"github.com/zonegate/zonegate/gateway/internal/gatewaytest"
	"github.com/zonegate/zonegate/gateway/kernel"
	"github.com/zonegate/zonegate/gateway/versions"
	"github.com/zonegate/zonegate/gateway/zone"
)

// The change transactions are tested through the package's API, as a
// front end calls them: on firewalltest's in-memory kernel (through
// gateway/kernel, as in the daemon), a fake clock, a real version store
// and a real audit log below t.TempDir(). No root, no netlink, no
// sleeping.

// The models tested with.
var (
	hModelBase    = gatewaytest.Base
	hModelOpen    = gatewaytest.Open
	hModelModbus  = gatewaytest.Modbus
	hModelInvalid = gatewaytest.Invalid
)

var (
	hStart = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	erin   = changes.Actor{User: "erin"}
	olga   = changes.Actor{User: "olga"}
)

type harness struct {
	t         *testing.T
	ctx       context.Context
	stateDir  string
	auditDir  string
	modelFile string // "" for none
	keep      int
	k         *firewalltest.Kernel
	table     *kernel.Table
	clk       *clock.Fake
	audit     *audit.Log
	rec       *audit.Recorder
	logs      *observer.ObservedLogs
	log       *zap.SugaredLogger
	tx        *changes.Transactions
	installed *installer
}

type hOption func(*harness)

// newHarness starts transactions as the daemon does: state, fail close,
// boot.
func newHarness(t *testing.T, opts ...hOption) *harness {
	t.Helper()
	dir := t.TempDir()
	h := &harness{t: t, ctx: context.Background(), stateDir: filepath.Join(dir, "state"), auditDir: filepath.Join(dir, "audit"),
		keep: 20, k: firewalltest.NewKernel(), clk: clock.NewFake(hStart), installed: &installer{}}
	h.table = kernel.New(h.k, firewall.Options{LogGroup: 7})
	core, logs := observer.New(zap.DebugLevel)
	h.logs, h.log = logs, zap.New(core).Sugar()
	h.rec = audit.NewRecorder(h.log)
	h.openAudit(0)
	for _, o := range opts {
		o(h)
	}
	h.start()
	t.Cleanup(func() {
		h.tx.Stop()
		if l := h.rec.Log(); l != nil {
			l.Close()
		}
	})
	return h
}

// openAudit opens a real audit log of maxBytes (0: the default).
func (h *harness) openAudit(maxBytes int64) {
	h.t.Helper()
	l, err := audit.Open(audit.Options{Dir: h.auditDir, Gateway: "unit-gw", MaxBytes: maxBytes, Now: h.clk.Now})
	require.NoError(h.t, err)
	h.audit = l
	h.rec.SetLog(l)
}

// withAuditSize reopens the audit log with a size limit.
func withAuditSize(maxBytes int64) hOption {
	return func(h *harness) {
		require.NoError(h.t, h.audit.Close())
		require.NoError(h.t, os.RemoveAll(h.auditDir))
		h.openAudit(maxBytes)
	}
}

func withModelFile(text string) hOption {
	return func(h *harness) {
		h.modelFile = filepath.Join(filepath.Dir(h.stateDir), "model.yaml")
		require.NoError(h.t, os.WriteFile(h.modelFile, []byte(text), 0o600))
	}
}

// newTransactions is changes.New on the harness's parts.
func (h *harness) newTransactions() (*changes.Transactions, error) {
	st, err := versions.Open(h.stateDir, h.keep)
	require.NoError(h.t, err)
	return changes.New(changes.Config{Kernel: h.table, Store: st, Recorder: h.rec, Installers: []changes.Installer{h.installed},
		Clock: h.clk, Log: h.log, ModelFile: h.modelFile})
}

// start does what the daemon does at start.
func (h *harness) start() {
	h.t.Helper()
	tx, err := h.newTransactions()
	require.NoError(h.t, err)
	h.tx = tx
	require.NoError(h.t, h.tx.FailClose(h.tx.LastKnown()))
	h.tx.Boot(h.ctx)
}

// restart stops the transactions and starts new ones on the same state
// directory, kernel and audit log, as after a reboot.
func (h *harness) restart() {
	h.t.Helper()
	h.tx.Stop()
	h.start()
}

func (h *harness) push(text string, within time.Duration) changes.PushResult {
	h.t.Helper()
	res, err := h.tx.Push(h.ctx, erin, []byte(text), "test push", within)
	require.NoError(h.t, err)
	return res
}

func (h *harness) model(text string) *zone.Model {
	h.t.Helper()
	m, err := zone.Load("test.yaml", []byte(text))
	require.NoError(h.t, err)
	return m
}

// holds reports whether the kernel holds the ruleset of text (in island
// mode or not).
func (h *harness) holds(text string, island bool) bool {
	return h.k.Holds(h.table.Ruleset(h.model(text), island))
}

func (h *harness) holdsLockdown() bool { return h.k.Holds(h.table.Ruleset(nil, true)) }

// states returns "1:running 2:pending ..." from the version history.
func (h *harness) states() string {
	vs, err := h.tx.History()
	return gatewaytest.States(h.t, vs, err)
}

// records returns the audit records "actor action object result" of the
// configuration category but settings changes, oldest first.
func (h *harness) records() []string { return gatewaytest.ConfigRecords(h.t, h.auditDir) }

// entries returns the audit entries with action a.
func (h *harness) entries(a audit.Action) []audit.Entry {
	return gatewaytest.Entries(h.t, h.auditDir, a)
}

func (h *harness) current() int              { return h.tx.Status().Version }
func (h *harness) pending() *zone.Pending    { return h.tx.Status().Pending }
func (h *harness) islandWhy() string         { return h.tx.Status().IslandReason }
func (h *harness) drift() changes.DriftStats { return h.tx.Status().Drift }

// logged reports whether a log message containing s was written.
func (h *harness) logged(s string) bool {
	return h.logs.FilterMessageSnippet(s).Len() > 0
}

// breakHistory makes reading and writing version n's metadata fail (its
// file is replaced by a directory, which also breaks listing the
// versions) until the returned function repairs it.
func (h *harness) breakHistory(n int) (repair func()) {
	h.t.Helper()
	p := filepath.Join(h.stateDir, "models", fmt.Sprintf("v%06d.json", n))
	b, err := os.ReadFile(p)
	require.NoError(h.t, err)
	require.NoError(h.t, os.Remove(p))
	require.NoError(h.t, os.Mkdir(p, 0o700))
	return func() {
		require.NoError(h.t, os.Remove(p))
		require.NoError(h.t, os.WriteFile(p, b, 0o600))
	}
}

// breakStateFile makes saving the state file fail.
func (h *harness) breakStateFile() {
	h.t.Helper()
	p := filepath.Join(h.stateDir, "state.json")
	require.NoError(h.t, os.RemoveAll(p))
	require.NoError(h.t, os.MkdirAll(filepath.Join(p, "x"), 0o700))
}

// installer is an Installer that records what it installs, can refuse
// models, and runs hooks after the next install.
type installer struct {
	installs []string // "GATEWAY island=BOOL"
	refuse   error    // for the model whose digest is refuseDigest
	after    []func()
	// refuseDigest is the digest of the model Prepare refuses.
	refuseDigest string
	// onCut, when set, sees every Cut (changes.Cutter).
	onCut func(m *zone.Model, island bool)
}

// Cut implements changes.Cutter.
func (in *installer) Cut(m *zone.Model, island bool) {
	if in.onCut != nil {
		in.onCut(m, island)
	}
}

func (in *installer) Prepare(m *zone.Model) (func(bool), error) {
	if in.refuse != nil && m.Digest() == in.refuseDigest {
		return nil, in.refuse
	}
	return func(island bool) {
		in.installs = append(in.installs, fmt.Sprintf("%s island=%v", m.Gateway.Name, island))
		hooks := in.after
		in.after = nil
		for _, f := range hooks {
			f()
		}
	}, nil
}

// afterNextApply runs f once, right after the next successful apply.
func (h *harness) afterNextApply(f func()) { h.installed.after = append(h.installed.after, f) }

// yield lets other goroutines run.
func yield() { runtime.Gosched() }
