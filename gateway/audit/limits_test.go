package audit

import (
	"context"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestStorageWarningWhenFilesystemFillsFirst: the filesystem under the log
// (a small tmpfs shared with other writers) runs out before MaxBytes. The
// storage warning must come before the refusals, say which limit it is,
// and Stats must show it.
func TestStorageWarningWhenFilesystemFillsFirst(t *testing.T) {
	mnt := mountTmpfs(t, "4m")
	o := Options{Dir: filepath.Join(mnt, "audit"), Gateway: "line3-gw", BootID: "b",
		MaxBytes: 3 << 20, SegmentBytes: 64 << 10, Reserve: 32 << 10, WarnPercent: 80}
	l := openLog(t, o)
	defer l.Close()
	appendN(t, l, 20)
	st := l.Stats()
	assert.Equal(t, LimitMaxSize, st.Limit, "plenty of room on the filesystem")
	assert.Empty(t, st.StorageWarning)
	assert.False(t, st.Full)

	// Other writers leave the log 400 KiB: far below MaxBytes, and less than
	// the 20% of MaxBytes (614 KiB) left at the warning level.
	filler := filepath.Join(mnt, "filler")
	fill(t, filler, fsAvailable(mnt)-400<<10)
	appendN(t, l, 1)
	st = l.Stats()
	assert.Equal(t, LimitFilesystem, st.Limit)
	assert.Less(t, st.Percent, 80, "by the old percentage the log looks nearly empty")
	assert.Contains(t, st.StorageWarning, "filesystem")
	assert.LessOrEqual(t, st.Room, int64(400<<10))

	// The filesystem fills up (leaving the log's reserve, so that the
	// storage-full record fits): refusals, after the warning.
	fill(t, filler, fsAvailable(mnt)-48<<10)
	_, err := fillUntilFull(t, l)
	var fe *FullError
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, LimitFilesystem, fe.Limit)
	assert.Contains(t, err.Error(), "free space on that filesystem")
	st = l.Stats()
	assert.True(t, st.Full)
	assert.Contains(t, st.FullReason, "filesystem")
	mustClose(t, l)

	es := readAll(t, o.Dir, Filter{Category: CategoryAudit})
	var warnSeq, fullSeq uint64
	for _, e := range es {
		switch e.Action {
		case ActionStorageWarning:
			require.Zero(t, warnSeq, "one warning")
			warnSeq = e.Seq
			assert.Equal(t, LimitFilesystem, e.Details["limit"])
			assert.Equal(t, strconv.Itoa(3<<20), e.Details["max_bytes"])
		case ActionStorageFull:
			if fullSeq == 0 {
				fullSeq = e.Seq
			}
		}
	}
	require.NotZero(t, warnSeq, "no storage-warning record")
	require.NotZero(t, fullSeq, "no storage-full record")
	assert.Less(t, warnSeq, fullSeq, "the warning comes before the refusals")
}

func TestStorageWarningMaxSizeUnchanged(t *testing.T) {
	o := testOptions(t)
	o.MaxBytes = 320 << 10
	o.SegmentBytes = 64 << 10
	o.Reserve = 32 << 10
	o.WarnPercent = 60
	l := openLog(t, o)
	for l.Stats().StorageWarning == "" {
		appendN(t, l, 1)
	}
	st := l.Stats()
	assert.Equal(t, LimitMaxSize, st.Limit)
	assert.GreaterOrEqual(t, st.Used+st.Room+o.Reserve, int64(0))
	assert.Contains(t, st.StorageWarning, "max_size")
	_, err := fillUntilFull(t, l)
	var fe *FullError
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, LimitMaxSize, fe.Limit)
	assert.Contains(t, l.Stats().FullReason, "audit.max_size reached")
	mustClose(t, l)
}

func TestLostBestEffortCounted(t *testing.T) {
	o := testOptions(t)
	o.MaxBytes = 320 << 10
	o.SegmentBytes = 64 << 10
	o.Reserve = 32 << 10
	l := openLog(t, o)
	_, err := fillUntilFull(t, l)
	require.ErrorIs(t, err, ErrFull)

	// The service-stop record at shutdown does not fit.
	stop := Record{Actor: "zonegate", Category: CategoryService, Action: ActionServiceStop, Object: "zonegate", Result: ResultSuccess}
	_, err = l.AppendBestEffort(context.Background(), stop)
	require.ErrorIs(t, err, ErrFull)
	for i := 0; i < 3; i++ {
		l.Enqueue(dataRecord(i))
	}
	require.NoError(t, l.Flush(context.Background()))
	st := l.Stats()
	assert.EqualValues(t, 1, st.LostBestEffort)
	assert.EqualValues(t, 3, st.Lost)
	mustClose(t, l)

	// Close writes a "lost" record from the reserve that counts both.
	lost := readAll(t, o.Dir, Filter{Action: ActionLost})
	require.NotEmpty(t, lost)
	var be, dp uint64
	for _, e := range lost {
		n, _ := strconv.ParseUint(e.Details["best_effort"], 10, 64)
		be += n
		n, _ = strconv.ParseUint(e.Details[DetailCount], 10, 64)
		dp += n
	}
	assert.EqualValues(t, 1, be)
	assert.EqualValues(t, 3, dp)
	requireIntact(t, o.Dir)

	// After Close nothing can be written; it is still counted.
	_, err = l.AppendBestEffort(context.Background(), stop)
	require.ErrorIs(t, err, ErrClosed)
	assert.EqualValues(t, 2, l.Stats().LostBestEffort)

	// A best-effort record that fits is written and not counted.
	l = openLog(t, testOptions(t))
	_, err = l.AppendBestEffort(context.Background(), stop)
	require.NoError(t, err)
	assert.Zero(t, l.Stats().LostBestEffort)
	mustClose(t, l)
}
