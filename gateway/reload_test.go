package gateway

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zonegate/zonegate/gateway/audit"
	"github.com/zonegate/zonegate/gateway/settings"
)

// Failed writes of the version history do not undo a change that took
// effect, but they are logged, audited and shown to the user who waits.

func TestHistoryWriteFailures(t *testing.T) {
	h := newHarness(t)
	h.push(hModelBase, 0)

	// Push: the previous version cannot be marked superseded.
	var repair func()
	h.afterNextApply(func() { repair = h.breakHistory(1) })
	res := h.push(hModelOpen, 0)
	repair()
	require.Len(t, res.Warnings, 1)
	assert.Contains(t, res.Warnings[0], "could not record model version 1 as superseded")
	assert.True(t, h.holds(hModelOpen, false), "the push took effect")
	assert.True(t, h.logged("VERSION HISTORY NOT UPDATED"))
	hist := h.entries(audit.ActionHistoryNotUpdated)
	require.Len(t, hist, 1)
	assert.Equal(t, audit.ResultFailure, hist[0].Result)
	assert.Equal(t, "model v1", hist[0].Object)
	assert.Equal(t, "superseded", hist[0].Details[audit.DetailState])
	assert.NotEmpty(t, hist[0].Details[audit.DetailReason])

	// Confirm: the pending version cannot be marked running.
	h.push(hModelModbus, time.Minute)
	h.breakHistory(3)
	v, err := h.d.Confirm(h.ctx, "erin")
	var he *HistoryError
	require.ErrorAs(t, err, &he)
	assert.Equal(t, 3, he.Version)
	assert.Contains(t, err.Error(), "the change took effect")
	assert.ErrorIs(t, err, syscall.EISDIR, "the cause stays in the chain")
	assert.Zero(t, v.Number, "the version's metadata cannot be read either")
	assert.Nil(t, h.pending(), "the confirm took effect")

	// Rollback to a version: the running one cannot be marked superseded.
	n, err := h.d.Rollback(h.ctx, "erin", 2)
	require.ErrorAs(t, err, &he)
	assert.Equal(t, 2, n)
	assert.Equal(t, 2, h.current())
	assert.True(t, h.holds(hModelOpen, false))
	assert.Len(t, h.entries(audit.ActionHistoryNotUpdated), 3)
}

func TestHistoryWriteFailuresOfPendingChanges(t *testing.T) {
	h := newHarness(t)
	h.push(hModelBase, 0)
	h.push(hModelOpen, time.Minute)
	repair := h.breakHistory(2)
	n, err := h.d.Rollback(h.ctx, "erin", 0)
	var he *HistoryError
	require.ErrorAs(t, err, &he)
	assert.Equal(t, "rolled-back", he.State)
	assert.Equal(t, 1, n)
	assert.True(t, h.holds(hModelBase, false))
	repair()

	// Confirm of a change whose previous version lost its metadata.
	h.push(hModelModbus, time.Minute)
	repair = h.breakHistory(1)
	v, err := h.d.Confirm(h.ctx, "erin")
	require.ErrorAs(t, err, &he)
	assert.Equal(t, 1, he.Version)
	assert.Equal(t, 3, v.Number)
	assert.Equal(t, "running", v.State)
	repair()

	// Restart with a pending change whose versions cannot be updated.
	h.push(hModelBase, time.Minute)
	h.breakHistory(4)
	h.breakHistory(3)
	h.restart()
	assert.Equal(t, 3, h.current())
	assert.True(t, h.holds(hModelModbus, false))
	var states []string
	for _, e := range h.entries(audit.ActionHistoryNotUpdated) {
		states = append(states, e.Object+" "+e.Details[audit.DetailState])
	}
	assert.Equal(t, []string{"model v2 rolled-back", "model v1 superseded", "model v4 rolled-back", "model v3 running"}, states)
}

func TestStateFileWriteFailures(t *testing.T) {
	h := newHarness(t)
	h.push(hModelBase, 0)
	h.breakStateFile()
	res := h.push(hModelOpen, time.Minute)
	require.Len(t, res.Warnings, 1)
	assert.Contains(t, res.Warnings[0], "cannot save the state file")
	assert.True(t, h.logged("cannot save state"))
	_, err := h.d.Confirm(h.ctx, "erin")
	assert.ErrorContains(t, err, "a restart would roll the confirmed model back")
	_, err = h.d.Rollback(h.ctx, "erin", 1)
	assert.ErrorContains(t, err, "cannot save the state file")
	assert.ErrorContains(t, h.d.SetIsland(h.ctx, "erin", true), "cannot save the state file")
}

func TestReloadModelFile(t *testing.T) {
	h := newHarness(t)
	assert.ErrorContains(t, h.d.ReloadModelFile(h.ctx), "no model file in the settings")

	h = newHarness(t, withModelFile(hModelBase))
	require.NoError(t, h.d.ReloadModelFile(h.ctx), "unchanged file")
	assert.Equal(t, "1:running", h.states())
	assert.True(t, h.logged("model file unchanged"))

	require.NoError(t, os.WriteFile(h.set.Model, []byte(hModelOpen), 0o600))
	require.NoError(t, h.d.ReloadModelFile(h.ctx))
	assert.Equal(t, "1:superseded 2:running", h.states())
	assert.True(t, h.holds(hModelOpen, false))
	assert.Contains(t, h.records(), "local:SIGHUP model-applied model v2 success")
	h.restart()
	assert.Equal(t, "1:superseded 2:running", h.states(), "the reloaded file is not imported again")

	require.NoError(t, os.WriteFile(h.set.Model, []byte(mgInvalidModel), 0o600))
	var me *ModelError
	assert.ErrorAs(t, h.d.ReloadModelFile(h.ctx), &me)
	assert.True(t, h.holds(hModelOpen, false))

	require.NoError(t, os.Remove(h.set.Model))
	assert.Error(t, h.d.ReloadModelFile(h.ctx))

	require.NoError(t, os.WriteFile(h.set.Model, []byte(hModelBase), 0o600))
	h.breakStateFile()
	assert.ErrorContains(t, h.d.ReloadModelFile(h.ctx), "cannot save the state file")
}

// TestReloadSettings: a SIGHUP takes the settings file's changes.* at
// once (a smaller changes.keep prunes at the next push); a change that
// cannot be audited is not made. The settings' own reload rules are tested
// in package settings.
func TestReloadSettings(t *testing.T) {
	h := newHarness(t)
	require.NoError(t, h.d.ReloadSettings(h.ctx), "no settings file: nothing to reload")

	path := h.withSettingsFile("state_dir: /elsewhere\nchanges:\n  keep: 3\n  confirm_within: 5m\n")
	require.NoError(t, h.d.ReloadSettings(h.ctx))
	assert.Equal(t, 3, h.d.settings.Get().Changes.Keep)
	assert.Equal(t, settings.Duration(5*time.Minute), h.d.settings.Get().Changes.ConfirmWithin)
	assert.Equal(t, 5*time.Minute, apiBackend{h.d}.ConfirmWithin(), "a push without a confirm window takes the new one")
	assert.Equal(t, h.set.StateDir, h.d.settings.Get().StateDir, "what the command line set stays")
	changed := h.entries(audit.ActionSettingsChanged)
	require.Len(t, changed, 2, "one at start, one at reload")
	assert.Contains(t, changed[1].Details[audit.DetailDiff], "changes.confirm_within, changes.keep")
	for i := 0; i < 5; i++ {
		h.push([]string{hModelBase, hModelOpen}[i%2], 0)
	}
	assert.Equal(t, "4:superseded 5:running", h.states()[len(h.states())-len("4:superseded 5:running"):])
	vs, err := h.d.History()
	require.NoError(t, err)
	assert.Len(t, vs, 3, "the new keep prunes")

	require.NoError(t, os.WriteFile(path, []byte("changes:\n  keep: 1\n"), 0o600))
	assert.ErrorContains(t, h.d.ReloadSettings(h.ctx), "changes.keep must be at least 2")
	assert.Equal(t, 3, h.d.settings.Get().Changes.Keep)
	assert.Len(t, h.entries(audit.ActionSettingsRejected), 1)

	// A change that cannot be audited is not made.
	require.NoError(t, os.WriteFile(path, []byte("changes:\n  keep: 7\n"), 0o600))
	h.d.closeAudit()
	h.d.rec.SetLog(nil)
	assert.ErrorIs(t, h.d.ReloadSettings(h.ctx), audit.ErrUnavailable)
	assert.Equal(t, 3, h.d.settings.Get().Changes.Keep)
}

// TestRun starts the whole daemon with the fake kernel: the Modbus proxy
// on a loopback port, the API on a socket in a temporary directory. A
// reload is taken only by the main loop, after boot; cancelling stops it.
func TestRun(t *testing.T) {
	s := settings.Default()
	dir := t.TempDir()
	s.StateDir = filepath.Join(dir, "state")
	s.API.Socket = filepath.Join(dir, "run", "api.sock")
	model := filepath.Join(dir, "model.yaml")
	require.NoError(t, os.WriteFile(model, []byte(hModelBase), 0o600))
	s.Model = model
	h := &harness{t: t, set: s}
	k, clk := newFakes()
	d := New(Config{Settings: s, Kernel: k, Clock: clk, ModbusListen: "127.0.0.1:0"})
	ctx, cancel := context.WithCancel(context.Background())
	reload := make(chan struct{})
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx, reload) }()
	select {
	case reload <- struct{}{}: // the model file is unchanged
	case err := <-done:
		t.Fatalf("Run returned before its main loop: %v", err)
	}
	// The first reload may still be reading the file: replace it whole,
	// as an editor that renames would, so it reads one model or the other.
	require.NoError(t, os.WriteFile(model+".new", []byte(hModelOpen), 0o600))
	require.NoError(t, os.Rename(model+".new", model))
	reload <- struct{}{}
	reload <- struct{}{} // a reload is done when the next one is taken
	assert.NotEmpty(t, d.proxies.Protocols(), "the proxies run")
	cancel()
	require.NoError(t, <-done)
	h.d = d
	assert.Equal(t, "1:superseded 2:running", h.states())
	assert.Equal(t, []string{"zonegate model-applied model v1 success", "local:SIGHUP model-applied model v2 success"}, h.records())
	var actions []audit.Action
	require.NoError(t, audit.Read(s.AuditDir(), audit.Filter{}, func(e audit.Entry) error {
		if e.Category == audit.CategoryService {
			actions = append(actions, e.Action)
		}
		return nil
	}))
	assert.Equal(t, []audit.Action{audit.ActionServiceStart, audit.ActionServiceStop}, actions)

	// A second daemon on the same socket is refused.
	d2 := New(Config{Settings: s, Kernel: k, Clock: clk, ModbusListen: "127.0.0.1:0"})
	ln, err := listenUnix(s.API.Socket)
	require.NoError(t, err)
	defer ln.Close()
	assert.ErrorContains(t, d2.Run(context.Background(), nil), "another zonegate answers")
}
