package audit

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDataPlaneShare: a flood of data-plane records fills the log only up
// to its data-plane share; beyond it they are counted as dropped, a
// data-plane-dropped record says how many, and configuration changes are
// still accepted.
func TestDataPlaneShare(t *testing.T) {
	o := testOptions(t)
	o.MaxBytes = 1 << 20
	o.SegmentBytes = 64 << 10
	o.Reserve = 32 << 10
	o.DataPlaneShare = 0.5
	o.DataPlaneReport = time.Nanosecond
	l := openLog(t, o)
	const n = 8000 // about 2.5 MiB of records
	for i := 0; i < n; i++ {
		if i%1000 == 0 {
			require.NoError(t, l.Flush(context.Background()))
		}
		require.True(t, l.Enqueue(dataRecord(i)))
	}
	require.NoError(t, l.Flush(context.Background()))
	st := l.Stats()
	assert.False(t, st.Full)
	assert.NotZero(t, st.DataPlaneDropped)
	assert.Zero(t, st.Lost)
	assert.LessOrEqual(t, st.DataPlaneUsed, st.DataPlaneLimit, "data-plane records stay within their share")
	assert.Greater(t, st.DataPlaneUsed, st.DataPlaneLimit-32<<10, "and use it")
	assert.Less(t, st.Used, st.DataPlaneLimit+16<<10, "the log holds little else")
	assert.InDelta(t, float64(o.MaxBytes-o.Reserve)/2, float64(st.DataPlaneLimit), 1)

	// Changes have room: the configuration half of the log is untouched.
	appendN(t, l, 100)
	assert.False(t, l.Stats().Full)
	dropped := st.DataPlaneDropped
	mustClose(t, l)

	// The count survives a restart: Open counts the data-plane records in
	// the segments.
	l = openLog(t, o)
	st2 := l.Stats()
	assert.GreaterOrEqual(t, st2.DataPlaneUsed, st.DataPlaneUsed)
	assert.LessOrEqual(t, st2.DataPlaneUsed, st2.DataPlaneLimit)
	require.True(t, l.Enqueue(dataRecord(0)))
	require.NoError(t, l.Flush(context.Background()))
	assert.EqualValues(t, 1, l.Stats().DataPlaneDropped, "still no room for data-plane records after the restart")
	mustClose(t, l)

	es := readAll(t, o.Dir, Filter{Action: ActionDataPlaneDropped})
	require.NotEmpty(t, es)
	var sum uint64
	for _, e := range es {
		c, err := strconv.ParseUint(e.Details[DetailCount], 10, 64)
		require.NoError(t, err)
		sum += c
	}
	assert.Equal(t, dropped+1, sum, "every dropped record is counted in the log")
	requireIntact(t, o.Dir)
}

func TestDataPlaneShareValidated(t *testing.T) {
	o := testOptions(t)
	o.DataPlaneShare = 0.95
	_, err := Open(o)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "0.9")
}

// TestDataPlaneShareManagementFills: account and configuration records may
// use everything the data plane does not; only they can fill the log.
// Prune gives the data-plane share back.
func TestDataPlaneShareManagementFills(t *testing.T) {
	o := testOptions(t)
	o.MaxBytes = 1 << 20
	o.SegmentBytes = 64 << 10
	o.Reserve = 32 << 10
	o.DataPlaneShare = 0.25
	l := openLog(t, o)
	for i := 0; i < 4000; i++ {
		if i%1000 == 0 {
			require.NoError(t, l.Flush(context.Background()))
		}
		l.Enqueue(dataRecord(i))
	}
	require.NoError(t, l.Flush(context.Background()))
	st := l.Stats()
	require.NotZero(t, st.DataPlaneDropped)
	dataUsed := st.DataPlaneUsed

	// Configuration records fill the rest of the log, well beyond 75%.
	ok, err := fillUntilFull(t, l)
	require.ErrorIs(t, err, ErrFull)
	st = l.Stats()
	assert.True(t, st.Full)
	assert.Greater(t, st.Used, o.MaxBytes-2*o.Reserve, "the management plane's own volume filled the log")
	assert.Equal(t, dataUsed, st.DataPlaneUsed)
	t.Logf("%d configuration records after %d bytes of data-plane records", ok, dataUsed)

	// Pruning the oldest segments (data-plane records) frees the share.
	res, err := l.Prune(context.Background(), 4)
	require.NoError(t, err)
	require.Len(t, res.Removed, 4)
	assert.Less(t, l.Stats().DataPlaneUsed, dataUsed)
	mustClose(t, l)
	requireIntact(t, o.Dir)
}
