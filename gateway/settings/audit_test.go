package settings

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/zonegate/zonegate/gateway/audit"
)

// fakeRecorder keeps the records; Record fails with fail when it is set.
type fakeRecorder struct {
	recs []audit.Record
	fail error
}

func (f *fakeRecorder) Record(_ context.Context, r audit.Record) error {
	if f.fail != nil {
		return f.fail
	}
	f.recs = append(f.recs, r)
	return nil
}

func (f *fakeRecorder) RecordBestEffort(r audit.Record) { f.recs = append(f.recs, r) }

// TestRunningAuditsChanges: the first start, a start with other settings
// and every reload that changes something are recorded with the keys that
// changed and the digests before and after; nothing else is. A reload
// takes changes.*, audit.*, passwords.*, console.* and metrics.* from the file and
// keeps what the command line set; a settings file with an error, or a
// change that cannot be audited, changes nothing.
func TestRunningAuditsChanges(t *testing.T) {
	ctx := context.Background()
	s := Default()
	s.StateDir = filepath.Join(t.TempDir(), "state")
	require.NoError(t, os.MkdirAll(s.StateDir, 0o700))
	rec := &fakeRecorder{}
	require.NoError(t, NewRunning(s, "", rec, zap.NewNop()).AuditStart(ctx))
	require.Len(t, rec.recs, 1)
	first := rec.recs[0]
	assert.Equal(t, audit.ActionSettingsChanged, first.Action)
	assert.Equal(t, "zonegate", first.Actor)
	assert.Equal(t, "first start; at start", first.Details[audit.DetailDiff])
	assert.Empty(t, first.Details[audit.DetailDigestBefore])
	fi, err := os.Stat(filepath.Join(s.StateDir, "settings.effective.yaml"))
	require.NoError(t, err, "the effective settings are kept")
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())

	require.NoError(t, NewRunning(s, "", rec, zap.NewNop()).AuditStart(ctx))
	assert.Len(t, rec.recs, 1, "a start with the same settings records nothing")
	r := NewRunning(s, "", rec, zap.NewNop())
	got, err := r.Reload(ctx)
	require.NoError(t, err, "no settings file: nothing to reload")
	assert.Equal(t, s, got)

	path := filepath.Join(t.TempDir(), "zonegate.yaml")
	require.NoError(t, os.WriteFile(path, []byte("state_dir: /elsewhere\nchanges:\n  keep: 3\n  confirm_within: 5m\nevents:\n  log_lines: 7\n"), 0o600))
	r = NewRunning(s, path, rec, zap.NewNop())
	got, err = r.Reload(ctx)
	require.NoError(t, err)
	assert.Equal(t, got, r.Get())
	assert.Equal(t, 3, got.Changes.Keep)
	assert.Equal(t, Duration(5*time.Minute), got.Changes.ConfirmWithin)
	assert.Equal(t, s.StateDir, got.StateDir, "what the command line set stays")
	assert.Equal(t, s.Events, got.Events, "events.* are not reloaded")
	require.Len(t, rec.recs, 2)
	reload := rec.recs[1]
	assert.Equal(t, "local:SIGHUP", reload.Actor)
	assert.Equal(t, "changes.confirm_within, changes.keep; changes.* apply now; audit.*, passwords.*, console.* and metrics.* at the next start", reload.Details[audit.DetailDiff])
	assert.Equal(t, first.Details[audit.DetailDigestAfter], reload.Details[audit.DetailDigestBefore])
	assert.NotEqual(t, reload.Details[audit.DetailDigestBefore], reload.Details[audit.DetailDigestAfter])

	_, err = r.Reload(ctx)
	require.NoError(t, err)
	assert.Len(t, rec.recs, 2, "unchanged settings: nothing to record")

	require.NoError(t, os.WriteFile(path, []byte("changes:\n  keep: 1\n"), 0o600))
	got, err = r.Reload(ctx)
	assert.ErrorContains(t, err, "changes.keep must be at least 2")
	assert.Equal(t, 3, got.Changes.Keep, "the running settings stay")
	require.Len(t, rec.recs, 3)
	assert.Equal(t, audit.ActionSettingsRejected, rec.recs[2].Action)
	assert.Equal(t, audit.ResultFailure, rec.recs[2].Result)

	require.NoError(t, os.WriteFile(path, []byte("changes:\n  keep: 7\n"), 0o600))
	rec.fail = errors.New("audit log full")
	_, err = r.Reload(ctx)
	assert.ErrorIs(t, err, rec.fail)
	assert.Equal(t, 3, r.Get().Changes.Keep, "a change that cannot be audited is not made")
	rec.fail = nil
	got, err = r.Reload(ctx)
	require.NoError(t, err)
	assert.Equal(t, 7, got.Changes.Keep)

	// A start after the reloads compares with the last effective copy.
	s.Passwords.MinLength = 14
	require.NoError(t, NewRunning(s, "", rec, zap.NewNop()).AuditStart(ctx))
	assert.Equal(t, "changes.keep, passwords.min_length; at start", rec.recs[len(rec.recs)-1].Details[audit.DetailDiff])
}
