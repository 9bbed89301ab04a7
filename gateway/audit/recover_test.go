package audit

import (
	"bytes"
	"os"
	"strconv"
	"testing"
)

func lastSegment(t *testing.T, dir string) segInfo {
	t.Helper()
	segs, err := listSegments(dir)
	if err != nil || len(segs) == 0 {
		t.Fatalf("no segments: %v", err)
	}
	return segs[len(segs)-1]
}

func TestTornTailTrimmedAndRecorded(t *testing.T) {
	o := testOptions(t)
	l := openLog(t, o)
	appendN(t, l, 10)
	mustClose(t, l)
	seg := lastSegment(t, o.Dir)
	data, _ := os.ReadFile(seg.path)
	// Half of a frame, as a write interrupted by a crash leaves it.
	r := configRecord(99)
	p, _ := appendPayload(nil, &r, "b", "g", nil)
	var h [32]byte
	torn := appendFrame(nil, kindRecord, 12, p, &h, &h)
	torn = torn[:len(torn)/2]
	os.WriteFile(seg.path, append(data, torn...), 0o640)

	l = openLog(t, o)
	mustClose(t, l)
	rec := readAll(t, o.Dir, Filter{Action: ActionRecovered})
	if len(rec) != 1 || rec[0].Details["dropped_bytes"] != strconv.Itoa(len(torn)) {
		t.Fatalf("recovered records: %+v", rec)
	}
	requireIntact(t, o.Dir)
}

func TestMidLogCorruptionKeptAndReported(t *testing.T) {
	o := testOptions(t)
	l := openLog(t, o)
	appendN(t, l, 50)
	mustClose(t, l)
	seg := lastSegment(t, o.Dir)
	loc := locate(t, o.Dir, 20)
	editFile(t, seg.path, func(b []byte) []byte { b[loc.off+frameHeaderSize+3] ^= 0x40; return b })
	damaged, _ := os.ReadFile(seg.path)

	l = openLog(t, o)
	appendN(t, l, 5) // the log goes on
	mustClose(t, l)
	after, _ := os.ReadFile(seg.path)
	if !bytes.Equal(damaged, after) {
		t.Fatal("the damaged segment was modified")
	}
	if n := lastSegment(t, o.Dir).num; n != seg.num+1 {
		t.Fatalf("log did not continue in a new segment (last segment %d)", n)
	}
	if n := countAction(readDamaged(t, o.Dir), ActionFailure); n != 1 {
		t.Fatalf("%d failure records, want 1", n)
	}
	rep := verify(t, o.Dir, VerifyOptions{})
	if rep.Intact() || rep.FirstBad() != 20 {
		t.Fatalf("verify: first bad %d, want 20:\n%s", rep.FirstBad(), problems(rep))
	}
	// Only the damage itself is reported: the new segment chains on.
	for _, p := range rep.Problems {
		if p.Seq != 20 {
			t.Fatalf("unexpected problem: %s", p)
		}
	}
}

func TestTruncationBelowCheckpointIsNotTrimmed(t *testing.T) {
	o := testOptions(t)
	o.CheckpointEvery = 10
	l := openLog(t, o)
	appendN(t, l, 40)
	mustClose(t, l)
	seg := lastSegment(t, o.Dir)
	loc := locate(t, o.Dir, 25)
	os.Truncate(seg.path, loc.off+loc.size/2) // looks torn, but checkpoint.json vouches for more
	l = openLog(t, o)
	mustClose(t, l)
	if n := countAction(readDamaged(t, o.Dir), ActionFailure); n != 1 {
		t.Fatalf("%d failure records, want 1", n)
	}
	rep := verify(t, o.Dir, VerifyOptions{})
	if rep.Intact() || rep.FirstBad() != 25 {
		t.Fatalf("first bad %d, want 25:\n%s", rep.FirstBad(), problems(rep))
	}
}
