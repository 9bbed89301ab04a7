package changes_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zonegate/zonegate/firewall"
	"github.com/zonegate/zonegate/firewall/firewalltest"
	"github.com/zonegate/zonegate/gateway/audit"
	"github.com/zonegate/zonegate/gateway/changes"
)

func TestBootWithoutModelStaysInLockdown(t *testing.T) {
	h := newHarness(t)
	assert.True(t, h.holdsLockdown(), "the fail-close ruleset forwards nothing")
	assert.Contains(t, h.islandWhy(), "no zone model")
	assert.True(t, h.logged("GATEWAY IN ISLAND MODE"))
	assert.Equal(t, "", h.states())
}

func TestPushConfirmedAtOnce(t *testing.T) {
	h := newHarness(t)
	h.k.SetFlushed(3)
	res := h.push(hModelBase, 0)
	assert.Equal(t, 1, res.Version)
	assert.True(t, res.Deadline.IsZero(), "no deadline when confirmed at once")
	assert.NotEmpty(t, res.Diff)
	assert.True(t, h.holds(hModelBase, false))
	assert.Equal(t, "1:running", h.states())
	assert.Empty(t, h.islandWhy())
	assert.Equal(t, 1, h.k.Flushes(), "connections the new ruleset no longer allows are removed")
	assert.True(t, h.logged("connections no longer allowed were removed"))

	// The same model again changes nothing.
	again := h.push(hModelBase, 0)
	assert.True(t, again.Unchanged)
	assert.Equal(t, 1, again.Version)

	res = h.push(hModelOpen, 0)
	assert.Equal(t, 2, res.Version)
	assert.True(t, h.holds(hModelOpen, false))
	assert.Equal(t, "1:superseded 2:running", h.states())
	assert.Equal(t, []string{"erin model-applied model v1 success", "erin model-applied model v2 success"}, h.records())
}

func TestPushInvalidModel(t *testing.T) {
	h := newHarness(t)
	_, err := h.tx.Push(h.ctx, erin, []byte(hModelInvalid), "", 0)
	var me *changes.ModelError
	require.ErrorAs(t, err, &me)
	require.Len(t, me.Diagnostics, 1)
	assert.True(t, strings.HasPrefix(me.Diagnostics[0].String(), "pushed model:14:9: "), me.Diagnostics[0].String())
	assert.Contains(t, err.Error(), "nothing was changed")
	assert.True(t, h.holdsLockdown())
	assert.Equal(t, "", h.states(), "a rejected model is no version")
	assert.Equal(t, []string{"erin model-rejected model failure"}, h.records())

	_, err = h.tx.Push(h.ctx, erin, []byte("version: [\n"), "", 0)
	assert.Error(t, err, "text that is no YAML")
}

func TestPushApplyFailureRestoresPrevious(t *testing.T) {
	h := newHarness(t)
	h.push(hModelBase, 0)
	h.k.FailApplies(errors.New("netlink: operation not permitted"))
	_, err := h.tx.Push(h.ctx, erin, []byte(hModelOpen), "", 0)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "the previous one is back in place")
	assert.Contains(t, err.Error(), "operation not permitted")
	assert.True(t, h.holds(hModelBase, false), "the previous model is back")
	assert.Equal(t, 1, h.current())
	assert.Equal(t, "1:running 2:rejected", h.states())
	assert.Equal(t, "erin model-rejected model v2 failure", h.records()[1])

	// When the previous model cannot be restored either, nothing is
	// forwarded.
	h.k.FailApplies(firewalltest.ErrInjected, firewalltest.ErrInjected)
	_, err = h.tx.Push(h.ctx, erin, []byte(hModelOpen), "", 0)
	require.ErrorIs(t, err, firewalltest.ErrInjected)
	assert.True(t, h.holdsLockdown())
	assert.Equal(t, "the previous model could not be restored", h.islandWhy())
}

func TestPushRefusedWithoutAudit(t *testing.T) {
	h := newHarness(t)
	h.push(hModelBase, 0)
	h.push(hModelOpen, 0)
	require.NoError(t, h.audit.Close())
	h.rec.SetLog(nil)
	_, err := h.tx.Push(h.ctx, erin, []byte(hModelModbus), "", 0)
	assert.ErrorIs(t, err, audit.ErrUnavailable)
	_, err = h.tx.Rollback(h.ctx, erin, 0)
	assert.ErrorIs(t, err, audit.ErrUnavailable, "rollback to an earlier version is a change too")
	assert.ErrorIs(t, h.tx.SetIsland(h.ctx, erin, true), audit.ErrUnavailable)
	assert.True(t, h.holds(hModelOpen, false), "nothing changed")
}

func TestChangesRefusedWhenAuditLogFull(t *testing.T) {
	h := newHarness(t, withAuditSize(200<<10))
	h.push(hModelBase, 0)
	h.push(hModelOpen, 2*time.Minute)
	for i := 0; ; i++ {
		_, err := h.audit.Append(h.ctx, audit.ConfigChange("filler", audit.ActionSettingsChanged, "settings", audit.ResultSuccess, "", "", strings.Repeat("x", 400)))
		if err != nil {
			require.ErrorIs(t, err, audit.ErrFull)
			break
		}
		require.Less(t, i, 10000, "the audit log never filled up")
	}
	_, err := h.tx.Confirm(h.ctx, erin)
	assert.ErrorIs(t, err, audit.ErrFull, "a confirm that cannot be audited is refused")
	_, err = h.tx.Rollback(h.ctx, erin, 0)
	assert.ErrorIs(t, err, audit.ErrFull, "a user's rollback that cannot be audited is refused")
	assert.NotNil(t, h.pending(), "the change still waits")
	assert.ErrorIs(t, h.tx.SetIsland(h.ctx, erin, true), audit.ErrFull)

	// The deadline rolls back anyway: the gateway must not keep an
	// unconfirmed model because the log is full.
	h.clk.Advance(2 * time.Minute)
	assert.Nil(t, h.pending())
	assert.True(t, h.holds(hModelBase, false))
	assert.True(t, h.logged("audit record lost"))

	_, err = h.tx.Push(h.ctx, erin, []byte(hModelOpen), "", 0)
	assert.ErrorContains(t, err, "the audit log is full")
}

func TestConfirm(t *testing.T) {
	h := newHarness(t)
	h.push(hModelBase, 0)
	res := h.push(hModelOpen, 2*time.Minute)
	assert.Equal(t, hStart.Add(2*time.Minute), res.Deadline)
	assert.Equal(t, "1:running 2:pending", h.states())
	assert.Equal(t, 1, h.clk.Pending(), "the confirm deadline runs")

	_, err := h.tx.Push(h.ctx, erin, []byte(hModelBase), "", 0)
	assert.ErrorIs(t, err, changes.ErrPending)

	v, err := h.tx.Confirm(h.ctx, olga)
	require.NoError(t, err)
	assert.Equal(t, 2, v.Number)
	assert.Equal(t, "running", v.State)
	assert.Equal(t, "1:superseded 2:running", h.states())
	assert.Nil(t, h.pending())
	assert.Zero(t, h.clk.Pending(), "the deadline is stopped")
	h.clk.Advance(time.Hour)
	assert.True(t, h.holds(hModelOpen, false), "a confirmed model stays after the deadline")

	_, err = h.tx.Confirm(h.ctx, olga)
	assert.ErrorIs(t, err, changes.ErrNothingPending)
	assert.Contains(t, h.records(), "olga model-confirmed model v2 success")
}

func TestRollbackAtDeadline(t *testing.T) {
	h := newHarness(t)
	h.push(hModelBase, 0)
	h.push(hModelOpen, 2*time.Minute)
	h.clk.Advance(2*time.Minute - time.Second)
	assert.True(t, h.holds(hModelOpen, false), "before the deadline the pushed model runs")
	assert.NotNil(t, h.pending())

	h.clk.Advance(time.Second)
	assert.Nil(t, h.pending())
	assert.Equal(t, 1, h.current())
	assert.True(t, h.holds(hModelBase, false))
	assert.Equal(t, "1:running 2:rolled-back", h.states())
	rb := h.entries(audit.ActionModelRolledBack)
	require.Len(t, rb, 1)
	assert.Equal(t, "zonegate", rb[0].Actor)
	assert.Equal(t, "not confirmed before the deadline", rb[0].Details[audit.DetailDiff])

	// A confirm after the deadline finds nothing.
	_, err := h.tx.Confirm(h.ctx, erin)
	assert.ErrorIs(t, err, changes.ErrNothingPending)
}

func TestRollbackAtDeadlineOfFirstModel(t *testing.T) {
	h := newHarness(t)
	h.push(hModelBase, time.Minute)
	assert.True(t, h.holds(hModelBase, false))
	h.clk.Advance(time.Minute)
	assert.True(t, h.holdsLockdown(), "without an earlier model nothing is forwarded")
	assert.Equal(t, 0, h.current())
	assert.Contains(t, h.islandWhy(), "no earlier one")
	assert.Equal(t, "1:rolled-back", h.states())
}

func TestRollbackAtDeadlineFailure(t *testing.T) {
	h := newHarness(t)
	h.push(hModelBase, 0)
	h.push(hModelOpen, time.Minute)
	h.k.FailApply(nil)
	h.clk.Advance(time.Minute)
	assert.True(t, h.logged("automatic rollback failed"))
	assert.NotNil(t, h.pending(), "the change still waits: the user can confirm or roll back")
	h.k.Heal()
	_, err := h.tx.Rollback(h.ctx, erin, 0)
	require.NoError(t, err)
	assert.True(t, h.holds(hModelBase, false))
}

func TestRollback(t *testing.T) {
	h := newHarness(t)
	_, err := h.tx.Rollback(h.ctx, erin, 0)
	assert.ErrorIs(t, err, changes.ErrNoPrevious, "nothing to roll back to")

	h.push(hModelBase, 0)
	h.push(hModelOpen, 0)
	h.push(hModelModbus, 2*time.Minute)

	// A pending change: back to the version before it.
	_, err = h.tx.Rollback(h.ctx, erin, 1)
	assert.ErrorIs(t, err, changes.ErrPending, "another version while a change waits")
	v, err := h.tx.Rollback(h.ctx, erin, 0)
	require.NoError(t, err)
	assert.Equal(t, 2, v)
	assert.True(t, h.holds(hModelOpen, false))
	assert.Equal(t, "1:superseded 2:running 3:rolled-back", h.states())
	assert.Zero(t, h.clk.Pending(), "the deadline is stopped")

	// Back to the version before the running one.
	v, err = h.tx.Rollback(h.ctx, erin, 0)
	require.NoError(t, err)
	assert.Equal(t, 1, v)
	assert.True(t, h.holds(hModelBase, false))
	assert.Equal(t, "1:running 2:superseded 3:rolled-back", h.states())

	// To a named version.
	v, err = h.tx.Rollback(h.ctx, erin, 2)
	require.NoError(t, err)
	assert.Equal(t, 2, v)
	assert.True(t, h.holds(hModelOpen, false))

	_, err = h.tx.Rollback(h.ctx, erin, 2)
	assert.ErrorContains(t, err, "already running")
	_, err = h.tx.Rollback(h.ctx, erin, 9)
	assert.ErrorContains(t, err, "not kept")

	// A failed apply puts the running model back.
	h.k.FailApplies(firewalltest.ErrInjected)
	_, err = h.tx.Rollback(h.ctx, erin, 1)
	assert.ErrorIs(t, err, firewalltest.ErrInjected)
	assert.True(t, h.holds(hModelOpen, false))
	assert.Equal(t, 2, h.current())

	// A kept version that no longer loads.
	require.NoError(t, os.WriteFile(filepath.Join(h.stateDir, "models", "v000001.yaml"), []byte("version: 9\n"), 0o600))
	_, err = h.tx.Rollback(h.ctx, erin, 1)
	assert.ErrorContains(t, err, "no longer loads")

	var rolled []string
	for _, e := range h.entries(audit.ActionModelRolledBack) {
		rolled = append(rolled, e.Actor+" "+e.Object)
	}
	assert.Equal(t, []string{"erin model v3", "erin model v2", "erin model v1"}, rolled)
}

func TestRollbackOfPendingWithLostPrevious(t *testing.T) {
	h := newHarness(t)
	h.push(hModelBase, 0)
	h.push(hModelOpen, time.Minute)
	require.NoError(t, os.Remove(filepath.Join(h.stateDir, "models", "v000001.yaml")))
	_, err := h.tx.Rollback(h.ctx, erin, 0)
	assert.ErrorContains(t, err, "not kept")
	assert.NotNil(t, h.pending())
}

func TestRestartWithPendingChangeRollsBack(t *testing.T) {
	h := newHarness(t)
	h.push(hModelBase, 0)
	h.push(hModelOpen, 2*time.Minute)
	h.restart()
	assert.Nil(t, h.pending())
	assert.Equal(t, 1, h.current())
	assert.True(t, h.holds(hModelBase, false))
	assert.Equal(t, "1:running 2:rolled-back", h.states())
	rb := h.entries(audit.ActionModelRolledBack)
	require.Len(t, rb, 1)
	assert.Equal(t, "restart while the change waited for confirmation", rb[0].Details[audit.DetailDiff])
	assert.True(t, h.logged("rolling it back"))

	// And a plain restart brings the running version back.
	h.restart()
	assert.True(t, h.holds(hModelBase, false))
	assert.Equal(t, "1:running 2:rolled-back", h.states())
}

func TestRestartFailClosesInIslandModeOfLastModel(t *testing.T) {
	h := newHarness(t)
	h.push(hModelBase, 0)
	h.k.FailApplies(nil, firewalltest.ErrInjected) // fail close works, the model does not
	h.restart()
	assert.True(t, h.holds(hModelBase, true), "the fail-close ruleset is the island mode of the last model")
	assert.Contains(t, h.islandWhy(), "cannot be applied")
	assert.Contains(t, h.records(), "zonegate model-rejected model failure")
}

func TestFailCloseFailure(t *testing.T) {
	h := newHarness(t)
	h.k.FailApply(nil)
	tx, err := h.newTransactions()
	require.NoError(t, err)
	assert.ErrorIs(t, tx.FailClose(nil), firewalltest.ErrInjected)
}

func TestBootFromModelFile(t *testing.T) {
	h := newHarness(t, withModelFile(hModelBase))
	assert.True(t, h.holds(hModelBase, false))
	assert.Equal(t, "1:running", h.states())
	vs, err := h.tx.History()
	require.NoError(t, err)
	assert.Equal(t, "model file "+h.modelFile+" at start", vs[0].Comment)

	// Unchanged file: the running version stays, no new one.
	h.restart()
	assert.Equal(t, "1:running", h.states())

	// A version pushed later stays while the file is unchanged.
	h.push(hModelOpen, 0)
	h.restart()
	assert.True(t, h.holds(hModelOpen, false))

	// An edited file wins at the next start.
	require.NoError(t, os.WriteFile(h.modelFile, []byte(hModelModbus), 0o600))
	h.restart()
	assert.True(t, h.holds(hModelModbus, false))
	assert.Equal(t, "1:superseded 2:superseded 3:running", h.states())

	// A broken edit keeps the last good version running, loudly, once.
	require.NoError(t, os.WriteFile(h.modelFile, []byte(hModelInvalid), 0o600))
	h.restart()
	assert.True(t, h.holds(hModelModbus, false))
	assert.True(t, h.logged("MODEL FILE REJECTED"))
	assert.Len(t, h.entries(audit.ActionModelRejected), 1)
	h.restart()
	assert.Len(t, h.entries(audit.ActionModelRejected), 1, "the same broken file is not tried again")
}

func TestBootWithBrokenModelFile(t *testing.T) {
	h := newHarness(t, withModelFile(hModelInvalid))
	assert.True(t, h.holdsLockdown())
	assert.Contains(t, h.islandWhy(), "the zone model is invalid")
	assert.Equal(t, []string{"zonegate model-rejected model failure"}, h.records())

	h = newHarness(t, func(h *harness) { h.modelFile = filepath.Join(t.TempDir(), "missing.yaml") })
	assert.Contains(t, h.islandWhy(), "model file cannot be read")
}

func TestBootWithLostRunningVersion(t *testing.T) {
	h := newHarness(t)
	h.push(hModelBase, 0)
	require.NoError(t, os.Remove(filepath.Join(h.stateDir, "models", "v000001.yaml")))
	h.restart()
	assert.Contains(t, h.islandWhy(), "running model version 1 cannot be read")
	assert.True(t, h.holdsLockdown())
}

func TestSetIsland(t *testing.T) {
	h := newHarness(t)
	assert.NoError(t, h.tx.SetIsland(h.ctx, erin, false), "already off: nothing to do")
	require.NoError(t, h.tx.SetIsland(h.ctx, erin, true), "island mode without a model")
	assert.ErrorContains(t, h.tx.SetIsland(h.ctx, erin, false), "push a model first")

	h.push(hModelModbus, 0)
	assert.True(t, h.holds(hModelModbus, true), "a push in island mode stays in island mode")
	require.NoError(t, h.tx.SetIsland(h.ctx, erin, false))
	assert.True(t, h.holds(hModelModbus, false))
	require.NoError(t, h.tx.SetIsland(h.ctx, erin, true))
	assert.True(t, h.holds(hModelModbus, true))
	require.NoError(t, h.tx.SetIsland(h.ctx, erin, true), "already on")

	h.restart()
	assert.True(t, h.holds(hModelModbus, true), "island mode survives a restart")

	var states []string
	for _, e := range h.entries(audit.ActionIslandMode) {
		states = append(states, e.Details[audit.DetailState])
	}
	assert.Equal(t, []string{"on", "off", "on"}, states)

	h.k.FailApplies(firewalltest.ErrInjected)
	assert.ErrorIs(t, h.tx.SetIsland(h.ctx, erin, false), firewalltest.ErrInjected)
	assert.True(t, h.holds(hModelModbus, true))
}

func TestSetIslandNotAuditedIsUndone(t *testing.T) {
	h := newHarness(t)
	h.push(hModelBase, 0)
	// The audit log closes after the early check: the record fails.
	require.NoError(t, h.audit.Close())
	err := h.tx.SetIsland(h.ctx, erin, true)
	require.Error(t, err)
	assert.True(t, h.holds(hModelBase, false), "the change that could not be audited is undone")

	h.k.FailApplies(nil, firewalltest.ErrInjected)
	err = h.tx.SetIsland(h.ctx, erin, true)
	assert.ErrorContains(t, err, "previous mode could not be restored")
	h.rec.SetLog(nil) // closed above
}

func TestDrift(t *testing.T) {
	h := newHarness(t)
	h.push(hModelBase, 0)
	h.tx.CheckDrift()
	assert.Equal(t, uint64(0), h.drift().Detected)

	// Another table changed: ours is intact.
	h.k.TouchOtherTable()
	h.tx.CheckDrift()
	assert.Equal(t, uint64(0), h.drift().Detected)

	// Someone changed table inet zonegate.
	h.k.Tamper(firewall.Expected(firewall.Compile(h.model(hModelOpen), firewall.Options{})))
	h.tx.CheckDrift()
	assert.Equal(t, uint64(1), h.drift().Detected)
	assert.Equal(t, hStart, h.drift().Last)
	assert.True(t, h.holds(hModelBase, false), "the ruleset is restored")
	assert.True(t, h.logged("DRIFT"))
	det := h.entries(audit.ActionDriftDetected)
	require.Len(t, det, 1)
	assert.Equal(t, audit.ResultFailure, det[0].Result)
	assert.NotEmpty(t, det[0].Details[audit.DetailDiff])
	res := h.entries(audit.ActionDriftRestored)
	require.Len(t, res, 1)
	assert.Equal(t, audit.ResultSuccess, res[0].Result)

	// The table deleted, and the restore fails.
	h.k.Tamper(nil)
	h.k.FailApplies(firewalltest.ErrInjected)
	h.tx.CheckDrift()
	res = h.entries(audit.ActionDriftRestored)
	require.Len(t, res, 2)
	assert.Equal(t, audit.ResultFailure, res[1].Result)
	assert.True(t, h.logged("restoring the ruleset failed"))
	assert.Equal(t, uint64(4), h.drift().Checks)
}

func TestDriftWithoutModelRestoresFailClose(t *testing.T) {
	h := newHarness(t)
	h.k.Tamper(firewall.Fingerprint{"chain forward accept"})
	h.tx.CheckDrift()
	assert.Equal(t, uint64(1), h.drift().Detected)
	assert.True(t, h.holdsLockdown())
}

func TestDriftReadFailures(t *testing.T) {
	h := newHarness(t)
	h.push(hModelBase, 0)
	h.k.FailGeneration(nil)
	h.tx.CheckDrift()
	assert.Zero(t, h.drift().Checks, "no check without the generation")
	assert.True(t, h.logged("cannot read the ruleset generation"))

	// A generation that cannot be read after an apply makes the next
	// check read the table.
	h.push(hModelOpen, 0)
	assert.True(t, h.logged("the next drift check reads the whole table"))
	h.k.Heal()
	h.k.FailRead(nil)
	h.tx.CheckDrift()
	assert.True(t, h.logged("cannot read table inet zonegate"))
	h.k.Heal()
	h.tx.CheckDrift()
	assert.Zero(t, h.drift().Detected)

	// The table was intact: its generation is known again, and the
	// table is not read while the generation stays.
	h.k.FailRead(nil)
	unreadable := h.logs.FilterMessageSnippet("cannot read table inet zonegate").Len()
	h.tx.CheckDrift()
	assert.Equal(t, unreadable, h.logs.FilterMessageSnippet("cannot read table inet zonegate").Len())
	assert.Equal(t, uint64(3), h.drift().Checks, "the checks that got the generation")
}

func TestWatchDriftTicks(t *testing.T) {
	h := newHarness(t)
	h.push(hModelBase, 0)
	h.k.Tamper(nil)
	ctx, cancel := context.WithCancel(h.ctx)
	done := make(chan struct{})
	go func() {
		h.tx.WatchDrift(ctx, 2*time.Second)
		close(done)
	}()
	// Tick until the watcher has seen the drift; each Advance delivers a
	// tick the watcher takes when it gets to run.
	for !h.holds(hModelBase, false) {
		h.clk.Advance(2 * time.Second)
		yield()
	}
	cancel()
	<-done
	assert.GreaterOrEqual(t, h.drift().Detected, uint64(1))
	h.tx.WatchDrift(ctx, 0) // off: returns at once
}

func TestFlushFailureIsLogged(t *testing.T) {
	h := newHarness(t)
	h.k.FailFlush(nil)
	h.push(hModelBase, 0)
	assert.True(t, h.logged("stale connections could not be removed"))
}
