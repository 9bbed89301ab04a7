package audit

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// tailScan is what a scan of one segment found.
type tailScan struct {
	frames   int
	lastSeq  uint64
	lastHash [32]byte
	lastKind byte
	lastBody []byte // payload of the last valid frame
	validEnd int64  // offset just after the last valid frame
	corrupt  []*corruptError
	torn     *tornError
}

func scanSegment(path string) (*tailScan, error) {
	f, sc, err := openSegment(path, nil)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	t := &tailScan{validEnd: int64(len(fileMagic))}
	for {
		fr, err := sc.next()
		var ce *corruptError
		var te *tornError
		switch {
		case err == nil:
			t.frames++
			t.lastSeq, t.lastHash, t.lastKind = fr.seq, fr.hash, fr.kind
			t.lastBody = append(t.lastBody[:0], fr.payload...)
			t.validEnd = fr.off + fr.size
		case errors.Is(err, io.EOF):
			return t, nil
		case errors.As(err, &ce):
			t.corrupt = append(t.corrupt, ce)
		case errors.As(err, &te):
			t.torn = te
		default:
			return nil, err
		}
	}
}

// startState is what Open learned from the existing files.
type startState struct {
	newLog    bool
	clean     bool // the previous run ended with a close checkpoint
	torn      *tornError
	tornSeg   uint64
	corrupt   []string
	rotateFor string // start a new segment for this reason
	nextSeg   uint64
	// cpProblem: checkpoint.json does not match the newest checkpoint in
	// the segments (see checkCheckpointFile); recorded as a failure.
	cpProblem string
}

// cpScan is what the newest segments say about the newest checkpoints.
type cpScan struct {
	n           int    // checkpoints found (at most the newest two segments are read)
	all         bool   // every segment was read
	cov, prev   uint64 // sequence numbers covered by the newest two
	rec, last   uint64 // record number of the newest checkpoint; last record of the log
	unreadable  bool
	scannedSegs int
	newest      *Statement // the newest checkpoint's statement
}

// scanCheckpoints reads the newest segments (at most two) for checkpoints.
func scanCheckpoints(segs []segInfo) cpScan {
	var cs cpScan
	var found []uint64 // covered seqs, newest first
	var recs []uint64
	for i := len(segs) - 1; i >= 0 && i >= len(segs)-2 && len(found) < 2; i-- {
		f, sc, err := openSegment(segs[i].path, nil)
		if err != nil {
			cs.unreadable = true
			return cs
		}
		var cov, rec []uint64
		for {
			fr, err := sc.next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				var ce *corruptError
				var te *tornError
				if errors.As(err, &ce) || errors.As(err, &te) {
					continue
				}
				cs.unreadable = true
				break
			}
			if i == len(segs)-1 {
				cs.last = fr.seq
			}
			if fr.kind != kindCheckpoint {
				continue
			}
			e, err := decodePayload(fr.payload, fr.seq, fr.hash)
			if err != nil {
				continue
			}
			if st, err := statementFromDetails(e.Gateway, e.Details); err == nil && st.NextSegment == 0 {
				cov, rec = append(cov, st.Seq), append(rec, fr.seq)
				if len(found) == 0 {
					cs.newest = &st // the last one read in the newest segment with any
				}
			}
		}
		f.Close()
		cs.scannedSegs++
		for j := len(cov) - 1; j >= 0 && len(found) < 2; j-- {
			found, recs = append(found, cov[j]), append(recs, rec[j])
		}
	}
	cs.n, cs.all = len(found), cs.scannedSegs == len(segs)
	if len(found) > 0 {
		cs.cov, cs.rec = found[0], recs[0]
	}
	if len(found) > 1 {
		cs.prev = found[1]
	}
	return cs
}

// checkCheckpointFile applies Verify's rule at start-up: once the log has
// made a signed checkpoint, checkpoint.json must name the newest one (one
// behind, or missing before the first, only while that checkpoint is the
// last record: a crash between the two writes; then checkpoint.json is
// completed from the record). Otherwise the newest segments may have been
// removed while zonegate was stopped; the start records say so, so that
// the next checkpoint.json does not silently cover it.
func checkCheckpointFile(dir string, segs []segInfo) string {
	cs := scanCheckpoints(segs)
	if cs.unreadable || cs.n == 0 {
		return ""
	}
	path := filepath.Join(dir, checkpointFile)
	cp, err := readStatement(path)
	crash := cs.rec == cs.last
	complete := func() string {
		if cs.newest == nil {
			return ""
		}
		if err := writeStatement(path, cs.newest); err != nil {
			return fmt.Sprintf("checkpoint.json could not be completed after a crash: %v", err)
		}
		return ""
	}
	switch {
	case err != nil:
		return fmt.Sprintf("checkpoint.json unreadable (%v)", err)
	case cp == nil && crash && cs.n == 1 && cs.all:
		return complete()
	case cp != nil && cp.Seq < cs.cov && cp.Seq == cs.prev && crash:
		return complete()
	case cp == nil:
		return fmt.Sprintf("checkpoint.json was missing although the log holds signed checkpoints (the newest over record %d): "+
			"the newest segments may have been removed; check with `zonegate audit verify --witness`", cs.cov)
	case cp.Seq >= cs.cov:
		return ""
	default:
		return fmt.Sprintf("checkpoint.json named record %d, older than the newest signed checkpoint in the log (over record %d): "+
			"it was replaced by an older copy, and the newest segments may have been removed; check with `zonegate audit verify --witness`",
			cp.Seq, cs.cov)
	}
}

// recoverLog prepares w to continue the log in dir: it trims a torn tail,
// and decides whether a new segment must be started because of corruption.
func recoverLog(w *writer) (*startState, error) {
	removeTemps(w.dir)
	segs, err := listSegments(w.dir)
	if err != nil {
		return nil, err
	}
	if len(segs) == 0 {
		for _, name := range []string{checkpointFile, prunedFile} {
			if _, err := os.Stat(filepath.Join(w.dir, name)); err == nil {
				return nil, fmt.Errorf("audit: %s exists in %s but no segment does: the log was removed; "+
					"move the directory aside (keep it as evidence) to start a new log", name, w.dir)
			}
		}
		return &startState{newLog: true, nextSeg: 1}, nil
	}
	for _, s := range segs {
		w.st.used += s.size
	}
	last := segs[len(segs)-1]
	ss := &startState{nextSeg: last.num + 1, cpProblem: checkCheckpointFile(w.dir, segs)}
	t, err := scanSegment(last.path)
	if err != nil {
		return nil, fmt.Errorf("audit: read %s: %w", last.path, err)
	}
	for _, c := range t.corrupt {
		ss.corrupt = append(ss.corrupt, fmt.Sprintf("%s: %v", filepath.Base(last.path), c))
	}
	if t.torn != nil && len(t.corrupt) == 0 && t.frames > 0 {
		// A torn tail holds only records that were never acknowledged, unless
		// a signed checkpoint says otherwise: then it is damage, not a crash.
		cp, _ := readStatement(filepath.Join(w.dir, checkpointFile))
		if cp != nil && cp.Seq > t.lastSeq {
			ss.corrupt = append(ss.corrupt, fmt.Sprintf("%s: %v, but checkpoint.json vouches for records up to %d",
				filepath.Base(last.path), t.torn, cp.Seq))
		}
	} else if t.torn != nil {
		ss.corrupt = append(ss.corrupt, fmt.Sprintf("%s: %v", filepath.Base(last.path), t.torn))
	}
	if t.frames == 0 {
		// No valid record at all in the last segment: continue from the
		// newest segment that has one.
		found := false
		for i := len(segs) - 2; i >= 0 && !found; i-- {
			pt, err := scanSegment(segs[i].path)
			if err != nil || pt.frames == 0 {
				continue
			}
			t.lastSeq, t.lastHash, t.lastKind, t.lastBody, found = pt.lastSeq, pt.lastHash, pt.lastKind, pt.lastBody, true
		}
		if !found {
			return nil, fmt.Errorf("audit: no readable record in %s: run `zonegate audit verify %s`, "+
				"then move the directory aside (keep it as evidence) to start a new log", w.dir, w.dir)
		}
		ss.corrupt = append(ss.corrupt, fmt.Sprintf("%s: no valid record", filepath.Base(last.path)))
	}
	w.seq, w.head = t.lastSeq, t.lastHash
	w.durSeq, w.durHead = t.lastSeq, t.lastHash
	if len(ss.corrupt) > 0 {
		ss.rotateFor = "corruption in " + filepath.Base(last.path)
		return ss, nil
	}
	if t.torn != nil {
		if err := os.Truncate(last.path, t.torn.Off); err != nil {
			return nil, fmt.Errorf("audit: trim torn tail of %s: %w", last.path, err)
		}
		w.st.used -= t.torn.Len
		ss.torn, ss.tornSeg = t.torn, last.num
	}
	f, err := os.OpenFile(last.path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return nil, err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, err
	}
	w.f, w.seg, w.segSize = f, last.num, t.validEnd
	ss.clean = t.lastKind == kindCheckpoint && bytes.Contains(t.lastBody, []byte(`"reason":"close"`)) && ss.torn == nil
	return ss, nil
}

// writeStartRecords writes what recovery found, before any caller record.
func writeStartRecords(w *writer, ss *startState, o *Options) error {
	now := o.Now()
	switch {
	case ss.newLog:
		return w.startSegment(1, "new log", now)
	case ss.rotateFor != "":
		if err := w.startSegment(ss.nextSeg, ss.rotateFor, now); err != nil {
			return err
		}
		for _, c := range ss.corrupt {
			o.Logger.Errorw("audit log damaged; the damaged segment is kept as evidence and the log continues in a new segment: " + c)
			w.add(kindRecord, w.internal(now, ActionFailure, "log", ResultFailure, map[string]string{
				DetailReason: cutTo(c, 400), "segment": strconv.FormatUint(w.seg-1, 10),
			}))
		}
	case !ss.clean:
		d := map[string]string{DetailReason: "unclean shutdown", "dropped_bytes": "0"}
		if ss.torn != nil {
			d["dropped_bytes"] = strconv.FormatInt(ss.torn.Len, 10)
			d["segment"] = strconv.FormatUint(ss.tornSeg, 10)
			d["offset"] = strconv.FormatInt(ss.torn.Off, 10)
			o.Logger.Warnw(fmt.Sprintf("audit: trimmed %d bytes of torn tail from %s after an unclean shutdown", ss.torn.Len, segName(ss.tornSeg)))
		}
		w.add(kindRecord, w.internal(now, ActionRecovered, "log", ResultSuccess, d))
	}
	if ss.cpProblem != "" {
		o.Logger.Errorw("audit: " + ss.cpProblem)
		w.add(kindRecord, w.internal(now, ActionFailure, "checkpoint.json", ResultFailure, map[string]string{DetailReason: cutTo(ss.cpProblem, 400)}))
	}
	return w.flush()
}

func removeTemps(dir string) {
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") && strings.HasSuffix(e.Name(), ".tmp") {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}
