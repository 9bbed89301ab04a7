package changes_test

import (
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zonegate/zonegate/gateway/audit"
	"github.com/zonegate/zonegate/gateway/changes"
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
	v, err := h.tx.Confirm(h.ctx, erin)
	var he *changes.HistoryError
	require.ErrorAs(t, err, &he)
	assert.Equal(t, 3, he.Version)
	assert.Contains(t, err.Error(), "the change took effect")
	assert.ErrorIs(t, err, syscall.EISDIR, "the cause stays in the chain")
	assert.Zero(t, v.Number, "the version's metadata cannot be read either")
	assert.Nil(t, h.pending(), "the confirm took effect")

	// Rollback to a version: the running one cannot be marked superseded.
	n, err := h.tx.Rollback(h.ctx, erin, 2)
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
	n, err := h.tx.Rollback(h.ctx, erin, 0)
	var he *changes.HistoryError
	require.ErrorAs(t, err, &he)
	assert.Equal(t, "rolled-back", he.State)
	assert.Equal(t, 1, n)
	assert.True(t, h.holds(hModelBase, false))
	repair()

	// Confirm of a change whose previous version lost its metadata.
	h.push(hModelModbus, time.Minute)
	repair = h.breakHistory(1)
	v, err := h.tx.Confirm(h.ctx, erin)
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
	_, err := h.tx.Confirm(h.ctx, erin)
	assert.ErrorContains(t, err, "a restart would roll the confirmed model back")
	_, err = h.tx.Rollback(h.ctx, erin, 1)
	assert.ErrorContains(t, err, "cannot save the state file")
	assert.ErrorContains(t, h.tx.SetIsland(h.ctx, erin, true), "cannot save the state file")
}

func TestReloadModelFile(t *testing.T) {
	h := newHarness(t)
	assert.ErrorContains(t, h.tx.ReloadModelFile(h.ctx), "no model file in the settings")

	h = newHarness(t, withModelFile(hModelBase))
	require.NoError(t, h.tx.ReloadModelFile(h.ctx), "unchanged file")
	assert.Equal(t, "1:running", h.states())
	assert.True(t, h.logged("model file unchanged"))

	require.NoError(t, os.WriteFile(h.modelFile, []byte(hModelOpen), 0o600))
	require.NoError(t, h.tx.ReloadModelFile(h.ctx))
	assert.Equal(t, "1:superseded 2:running", h.states())
	assert.True(t, h.holds(hModelOpen, false))
	assert.Contains(t, h.records(), "local:SIGHUP model-applied model v2 success")
	h.restart()
	assert.Equal(t, "1:superseded 2:running", h.states(), "the reloaded file is not imported again")

	require.NoError(t, os.WriteFile(h.modelFile, []byte(hModelInvalid), 0o600))
	var me *changes.ModelError
	assert.ErrorAs(t, h.tx.ReloadModelFile(h.ctx), &me)
	assert.True(t, h.holds(hModelOpen, false))

	require.NoError(t, os.Remove(h.modelFile))
	assert.Error(t, h.tx.ReloadModelFile(h.ctx))

	require.NoError(t, os.WriteFile(h.modelFile, []byte(hModelBase), 0o600))
	h.breakStateFile()
	assert.ErrorContains(t, h.tx.ReloadModelFile(h.ctx), "cannot save the state file")
}

func TestPushCommentIsInTheAuditRecord(t *testing.T) {
	h := newHarness(t)
	h.push(hModelBase, 0)
	applied := h.entries(audit.ActionModelApplied)
	require.NotEmpty(t, applied)
	assert.Equal(t, "test push", applied[len(applied)-1].Details[audit.DetailComment])

	long := strings.Repeat("é", 3000) // 6000 bytes
	_, err := h.tx.Push(h.ctx, erin, []byte(hModelOpen), long, 0)
	require.NoError(t, err, "a long comment does not refuse the push")
	applied = h.entries(audit.ActionModelApplied)
	c := applied[len(applied)-1].Details[audit.DetailComment]
	assert.Less(t, len(c), 1024+200, "the comment is cut in the record")
	assert.True(t, strings.HasPrefix(c, strings.Repeat("é", 100)), "the cut keeps whole characters")
	assert.Contains(t, c, "cut from 6000 bytes")
	vs, err := h.tx.History()
	require.NoError(t, err)
	assert.Equal(t, long, vs[len(vs)-1].Comment, "the history keeps the whole comment")

	_, err = h.tx.Push(h.ctx, erin, []byte("version: 1\nzones: [\n"), "broken on purpose", 0)
	require.Error(t, err)
	rejected := h.entries(audit.ActionModelRejected)
	require.NotEmpty(t, rejected)
	assert.Equal(t, "broken on purpose", rejected[len(rejected)-1].Details[audit.DetailComment])
}
