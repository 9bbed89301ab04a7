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
	assert.LessOrEqual(t, st.Used, st.DataPlaneLimit, "data-plane records stay within their share")
	assert.InDelta(t, float64(o.MaxBytes-o.Reserve)/2, float64(st.DataPlaneLimit), float64(64<<10))
	assert.Greater(t, st.DataPlaneUsed, int64(st.DataPlaneLimit/2))

	// Changes have room: the configuration half of the log is untouched.
	appendN(t, l, 100)
	assert.False(t, l.Stats().Full)
	dropped := st.DataPlaneDropped
	mustClose(t, l)

	es := readAll(t, o.Dir, Filter{Action: ActionDataPlaneDropped})
	require.NotEmpty(t, es)
	var sum uint64
	for _, e := range es {
		c, err := strconv.ParseUint(e.Details[DetailCount], 10, 64)
		require.NoError(t, err)
		sum += c
	}
	assert.Equal(t, dropped, sum, "every dropped record is counted in the log")
	requireIntact(t, o.Dir)
}

func TestDataPlaneShareValidated(t *testing.T) {
	o := testOptions(t)
	o.DataPlaneShare = 0.95
	_, err := Open(o)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "0.9")
}
