package audit

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// fillUntilFull appends configuration records until Append fails, and
// requires that it fails with ErrFull.
func fillUntilFull(t *testing.T, l *Log) (ok int, err error) {
	t.Helper()
	for i := 0; i < 100000; i++ {
		if _, err = l.Append(context.Background(), configRecord(i)); err != nil {
			if !errors.Is(err, ErrFull) {
				t.Fatalf("Append failed with %v, want ErrFull", err)
			}
			return i, err
		}
	}
	t.Fatal("log never filled up")
	return 0, nil
}

func sumLost(es []Entry) uint64 {
	var n uint64
	for _, e := range es {
		if e.Action == ActionLost {
			c, _ := strconv.ParseUint(e.Details[DetailCount], 10, 64)
			n += c
		}
	}
	return n
}

func TestStorageQuotaFullAndPrune(t *testing.T) {
	o := testOptions(t)
	o.MaxBytes = 320 << 10
	o.SegmentBytes = 64 << 10
	o.Reserve = 32 << 10
	o.WarnPercent = 60
	core, logs := observer.New(zap.InfoLevel)
	o.Logger = zap.New(core).Sugar()
	l := openLog(t, o)
	_, err := fillUntilFull(t, l)
	var fe *FullError
	if !errors.As(err, &fe) || !strings.Contains(err.Error(), "prune") || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("full error does not say what to do: %v", err)
	}
	if !l.Stats().Full {
		t.Fatal("Stats().Full not set")
	}
	// Data-plane records are not blocked; they are counted as lost.
	for i := 0; i < 50; i++ {
		l.Enqueue(dataRecord(i))
	}
	l.Flush(context.Background())
	if lost := l.Stats().Lost; lost != 50 {
		t.Fatalf("lost %d data-plane records, want 50", lost)
	}
	if _, err := l.Append(context.Background(), configRecord(1)); !errors.Is(err, ErrFull) {
		t.Fatalf("still full: %v", err)
	}
	if logs.FilterMessageSnippet("filling up").Len() != 1 || logs.FilterMessageSnippet("audit log full").Len() != 1 {
		t.Fatalf("log lines: %v", logs.All())
	}
	requireIntact(t, o.Dir)

	// Prune the oldest segments: space comes back, changes are accepted.
	res, err := l.Prune(context.Background(), 2)
	if err != nil || len(res.Removed) != 2 {
		t.Fatalf("Prune: %v %+v", err, res)
	}
	if _, err := l.Append(context.Background(), configRecord(2)); err != nil {
		t.Fatalf("Append after prune: %v", err)
	}
	if l.Stats().Full {
		t.Fatal("still full after prune")
	}
	mustClose(t, l)
	es := readAll(t, o.Dir, Filter{Category: CategoryAudit})
	for _, a := range []Action{ActionStorageWarning, ActionStorageFull, ActionStorageOK, ActionPrune} {
		if countAction(es, a) != 1 {
			t.Errorf("%d %s records, want 1", countAction(es, a), a)
		}
	}
	if n := sumLost(es); n != 50 {
		t.Errorf("lost records say %d, want 50", n)
	}
	rep := requireIntact(t, o.Dir)
	if rep.PrunedThrough == 0 || rep.FirstSeq != rep.PrunedThrough+1 {
		t.Fatalf("prune not reflected: %+v", rep)
	}
	// Without the signed prune statement, the missing start is tampering.
	os.Remove(filepath.Join(o.Dir, prunedFile))
	if rep := verify(t, o.Dir, VerifyOptions{}); rep.Intact() || rep.FirstBad() != 1 {
		t.Fatalf("removed pruned.json not detected: first bad %d", rep.FirstBad())
	}
}

// mountTmpfs mounts a small tmpfs for disk-full tests, or skips.
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("disk-full test needs root to mount a tmpfs; run the tests as root (CI does)")
	}
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+size+",mode=0700"); err != nil {
		t.Skipf("cannot mount a tmpfs here (%v): disk-full test skipped", err)
	}
	t.Cleanup(func() { syscall.Unmount(dir, syscall.MNT_DETACH) })
	return dir
}

// fill writes a filler file until the filesystem is full (or n bytes).
func fill(t *testing.T, path string, n int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4096)
	for w := int64(0); n < 0 || w < n; w += 4096 {
		if _, err := f.Write(buf); err != nil {
			return
		}
	}
}

func TestDiskFullTmpfs(t *testing.T) {
	mnt := mountTmpfs(t, "1m")
	o := Options{Dir: filepath.Join(mnt, "audit"), Gateway: "line3-gw", BootID: "b", SegmentBytes: 64 << 10, Reserve: 32 << 10, WarnPercent: 70}
	core, logs := observer.New(zap.InfoLevel)
	o.Logger = zap.New(core).Sugar()
	l := openLog(t, o)
	filler := filepath.Join(mnt, "filler")
	fill(t, filler, 640<<10) // leave the log about 350 KiB of the filesystem
	okBefore, _ := fillUntilFull(t, l)
	for i := 0; i < 100; i++ {
		l.Enqueue(dataRecord(i))
	}
	l.Flush(context.Background())
	if l.Stats().Lost != 100 {
		t.Fatalf("lost %d, want 100", l.Stats().Lost)
	}
	if logs.FilterMessageSnippet("filling up").Len() != 1 {
		t.Fatal("no storage warning log line")
	}

	// The filesystem fills up completely and statfs is not consulted (as
	// when quotas or reserved blocks make it too optimistic): writes fail
	// with ENOSPC and the log cuts back the partial write.
	l.control(context.Background(), func() { l.st.ignoreFS = true })
	fill(t, filler, -1)
	// (The last page of the segment file may still take a few records.)
	for i := 0; ; i++ {
		_, err := l.Append(context.Background(), configRecord(i))
		if errors.Is(err, ErrFull) {
			break
		}
		if err != nil || i == 100 {
			t.Fatalf("Append on a full filesystem: %v, want ErrFull", err)
		}
	}
	for i := 0; i < 20; i++ {
		if _, err := l.Append(context.Background(), configRecord(i)); !errors.Is(err, ErrFull) {
			t.Fatalf("Append on a full filesystem: %v, want ErrFull", err)
		}
		l.Enqueue(dataRecord(i))
	}
	l.Flush(context.Background())
	if logs.FilterMessageSnippet("audit log full").Len() < 2 {
		t.Fatal("the ENOSPC write failure did not switch the log to full")
	}
	rep := requireIntact(t, o.Dir)
	for _, w := range rep.Warnings {
		if strings.Contains(w, "unfinished write") {
			t.Fatalf("partial write left behind: %s", w)
		}
	}

	// Space is freed: configuration changes are accepted again, and a
	// record says how many data-plane records were lost.
	os.Remove(filler)
	l.control(context.Background(), func() { l.st.ignoreFS = false })
	waitFor(t, "space to be noticed", func() bool {
		_, err := l.Append(context.Background(), configRecord(0))
		return err == nil
	})
	lost := l.Stats().Lost
	mustClose(t, l)
	es := readAll(t, o.Dir, Filter{})
	if countAction(es, ActionStorageWarning) != 1 || countAction(es, ActionStorageFull) < 1 || countAction(es, ActionStorageOK) < 1 {
		t.Fatalf("storage records missing: warning %d full %d ok %d", countAction(es, ActionStorageWarning),
			countAction(es, ActionStorageFull), countAction(es, ActionStorageOK))
	}
	if n := sumLost(es); n != lost || lost < 120 {
		t.Fatalf("lost records say %d, stats %d (want >= 120)", n, lost)
	}
	requireIntact(t, o.Dir)
	t.Logf("%d configuration records fitted before the log was full; %d data-plane records lost", okBefore, lost)
}
