package audit

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path/filepath"
)

// VerifyOptions configure Verify.
type VerifyOptions struct {
	// PublicKey is a trusted copy of the gateway's Ed25519 public key (as
	// printed by `zonegate audit key`). If nil, the key in the log's key
	// directory is used and the report says that it was not independently
	// trusted.
	PublicKey ed25519.PublicKey
	// HMACKey is the gateway's HMAC key. If nil, Verify reads it from the
	// key directory when it is there and readable; otherwise HMACs are not
	// checked.
	HMACKey []byte
	// KeyDir defaults to DIR/keys.
	KeyDir string
	// SkipHMAC disables the HMAC check even if the key is available.
	SkipHMAC bool
	// Witness, if set, holds signed checkpoints kept off the gateway (see
	// LoadWitness): Verify fails when the log ends before one of them or
	// holds another hash at its sequence number. Pass PublicKey too: a
	// witness is only as trustworthy as the key its signatures are checked
	// with.
	Witness *Witness
}

// Problem is one integrity failure.
type Problem struct {
	// Seq is the first sequence number the problem affects; 0 when it is
	// about no record in particular (a witness that vouches for nothing).
	Seq     uint64
	Segment string
	Offset  int64
	Message string
}

// String renders the problem as one line.
func (p Problem) String() string {
	where := ""
	if p.Segment != "" {
		where = fmt.Sprintf(" (%s offset %d)", p.Segment, p.Offset)
	}
	if p.Seq == 0 {
		return fmt.Sprintf("log%s: %s", where, p.Message)
	}
	return fmt.Sprintf("seq %d%s: %s", p.Seq, where, p.Message)
}

// Report is the result of Verify.
type Report struct {
	Segments         int
	Records          uint64
	FirstSeq         uint64
	LastSeq          uint64
	Checkpoints      int    // valid signed checkpoints found in the log
	SignedThrough    uint64 // highest sequence number covered by a valid signature
	PrunedThrough    uint64 // records up to here were removed by a signed prune
	HMACChecked      bool
	PublicKeyID      string
	PublicKeyFromDir bool // the public key came from the log's own directory
	// WitnessSource and WitnessSeq name the witness checked and the highest
	// sequence number it vouches for (0 without a witness).
	WitnessSource   string
	WitnessSeq      uint64
	Problems        []Problem
	ProblemsDropped int // problems beyond the first maxProblems
	Warnings        []string
}

// Intact reports whether no problem was found.
func (r *Report) Intact() bool { return len(r.Problems) == 0 }

// FirstBad is the lowest sequence number named by a problem (0 if intact).
func (r *Report) FirstBad() uint64 {
	var m uint64
	for _, p := range r.Problems {
		if p.Seq != 0 && (m == 0 || p.Seq < m) {
			m = p.Seq
		}
	}
	return m
}

const maxProblems = 100

// verifier walks the log once, holding only the current frame in memory.
type verifier struct {
	rep    *Report
	pub    ed25519.PublicKey
	ch     *chainer
	expect uint64   // next expected sequence number
	prev   [32]byte // chain hash of expect-1
	lastCP uint64   // last sequence number covered by a valid checkpoint
	wantCP uint64   // checkpoint.json's sequence number, 0 if none
	cpHash [32]byte // chain hash seen at wantCP
	cpSeen bool
	seg    string
	// lastWasCP: the last record is a valid checkpoint over its predecessor.
	lastWasCP bool
	// The two newest valid checkpoint records in the segments: the
	// sequence numbers they cover, and the record number of the newest.
	cpCov, cpCovPrev, cpRec uint64
	cpReason, cpSeg         string // reason and segment of the newest
	// points are records that witnesses say the log holds.
	points map[uint64]*witnessPoint
}

func (v *verifier) problem(seq uint64, off int64, format string, args ...any) {
	if len(v.rep.Problems) >= maxProblems {
		v.rep.ProblemsDropped++
		return
	}
	v.rep.Problems = append(v.rep.Problems, Problem{Seq: seq, Segment: v.seg, Offset: off, Message: fmt.Sprintf(format, args...)})
}

// Verify checks the integrity of the log in dir without modifying it. It
// detects altered, deleted, inserted and reordered records, missing,
// replaced or foreign segments, and a tail truncated before the last signed
// checkpoint. The returned error is only for problems that prevent checking
// (unreadable directory, no public key); integrity failures are in the
// Report.
func Verify(dir string, opts VerifyOptions) (*Report, error) {
	rep := &Report{}
	keyDir := opts.KeyDir
	if keyDir == "" {
		keyDir = DefaultKeyDir(dir)
	}
	pub := opts.PublicKey
	if pub == nil {
		k, err := LoadPublicKey(keyDir)
		if err != nil {
			return nil, fmt.Errorf("no public key to check signatures: pass the key printed by `zonegate audit key` (--pubkey FILE): %w", err)
		}
		pub, rep.PublicKeyFromDir = k, true
		rep.Warnings = append(rep.Warnings, "public key taken from the log's own key directory: whoever could rewrite the log could also replace it; "+
			"pass --pubkey with a copy kept off the gateway")
	}
	rep.PublicKeyID = KeyID(pub)
	hk := opts.HMACKey
	if hk == nil && !opts.SkipHMAC {
		hk, _ = LoadHMACKey(keyDir)
	}
	if opts.SkipHMAC {
		hk = nil
	}
	rep.HMACChecked = hk != nil
	v := &verifier{rep: rep, pub: pub, ch: newChainer(hk), expect: 1}

	startSeg := uint64(1)
	pr, err := readStatement(filepath.Join(dir, prunedFile))
	if err != nil {
		v.problem(1, 0, "pruned.json unreadable: %v", err)
	} else if pr != nil {
		h, err := pr.verify(pub)
		if err != nil || pr.NextSegment == 0 {
			v.problem(1, 0, "pruned.json is not a valid signed prune statement (%v): the start of the log cannot be trusted", err)
		} else {
			startSeg, v.expect, v.prev = pr.NextSegment, pr.Seq+1, h
			rep.PrunedThrough, v.lastCP = pr.Seq, pr.Seq
		}
	}
	cp, err := readStatement(filepath.Join(dir, checkpointFile))
	cpBad, cpErr := err != nil, err
	if cp != nil {
		h, err := cp.verify(pub)
		if err != nil {
			cpBad = true
			v.problem(cp.Seq, 0, "checkpoint.json is not validly signed: %v", err)
		} else {
			v.wantCP, v.cpHash = cp.Seq, h
		}
	}

	v.loadCursors(dir)
	if opts.Witness != nil {
		v.loadWitness(opts.Witness)
	}

	segs, err := listSegments(dir)
	if err != nil {
		return nil, err
	}
	for len(segs) > 0 && segs[0].num < startSeg {
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("%s is older than the signed prune point and was ignored", filepath.Base(segs[0].path)))
		segs = segs[1:]
	}
	if len(segs) == 0 {
		v.problem(v.expect, 0, "no segment files: the log is missing")
		return rep, nil
	}
	rep.FirstSeq = v.expect
	buf := make([]byte, scanWindow)
	for i, s := range segs {
		want := startSeg
		if i > 0 {
			want = segs[i-1].num + 1
		}
		v.seg = filepath.Base(s.path)
		if s.num != want {
			v.problem(v.expect, 0, "segment %s is missing (found %s next): records from %d on were removed", segName(want), v.seg, v.expect)
		}
		if err := v.segment(s, buf, i == len(segs)-1); err != nil {
			return nil, err
		}
		rep.Segments++
	}
	v.seg = ""
	last := v.expect - 1
	rep.LastSeq = last
	if v.wantCP > 0 {
		switch {
		case v.wantCP > last:
			v.problem(last+1, 0, "log truncated: checkpoint.json vouches for records up to %d but the log ends at %d", v.wantCP, last)
		case !v.cpSeen:
			v.problem(v.wantCP, 0, "checkpoint.json names record %d, which is not in the log", v.wantCP)
		}
		if v.wantCP > v.lastCP && v.wantCP <= last && v.cpSeen {
			v.lastCP = v.wantCP
		}
	}
	if cpErr != nil {
		v.problem(last+1, 0, "checkpoint.json unreadable (%v): the end of the log cannot be checked; restore it from a backup or verify with a witness (--witness)", cpErr)
	}
	if !cpBad {
		v.checkNewest(last)
	}
	v.checkPointsAfter(rep.FirstSeq, last)
	rep.SignedThrough = v.lastCP
	if last > v.lastCP && !(v.lastWasCP && last == v.lastCP+1) {
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("%d records after the last signed checkpoint (%d) are protected by the hash chain%s only",
			last-v.lastCP, v.lastCP, map[bool]string{true: " and HMAC", false: ""}[rep.HMACChecked]))
	}
	return rep, nil
}

// segment verifies one segment file.
func (v *verifier) segment(s segInfo, buf []byte, isLast bool) error {
	f, sc, err := openSegment(s.path, buf)
	if err != nil {
		v.problem(v.expect, 0, "%v", err)
		return nil
	}
	defer f.Close()
	first, resync := true, false
	for {
		fr, err := sc.next()
		var ce *corruptError
		var te *tornError
		switch {
		case err == nil:
		case errors.Is(err, io.EOF):
			if first {
				v.problem(v.expect, 0, "segment is empty")
			}
			return nil
		case errors.As(err, &ce):
			v.problem(v.expect, ce.Off, "%d bytes are damaged (checksum or framing error)", ce.Len)
			resync = true
			first = false
			continue
		case errors.As(err, &te):
			if isLast && !first {
				v.rep.Warnings = append(v.rep.Warnings, fmt.Sprintf("%s ends with %d bytes of an unfinished write (unclean shutdown); "+
					"zonegate trims them at the next start", v.seg, te.Len))
			} else {
				v.problem(v.expect, te.Off, "%d bytes at the end of the segment are not a complete record", te.Len)
			}
			return nil
		default:
			return err
		}
		if first {
			first = false
			if !v.header(fr, s.num) {
				resync = true
			}
		} else if fr.kind == kindHeader {
			v.problem(fr.seq, fr.off, "segment header in the middle of a segment")
		}
		v.record(fr, resync)
		resync = false
	}
}

// header checks that a segment header continues the chain.
func (v *verifier) header(fr frame, num uint64) bool {
	h, err := parseHeader(fr)
	if err != nil {
		v.problem(v.expect, fr.off, "bad segment header: %v", err)
		return false
	}
	if h.segment != num {
		v.problem(v.expect, fr.off, "header names segment %d: the file was renamed or replaced", h.segment)
		return false
	}
	if h.prevSeq != v.expect-1 || h.prevHash != v.prev {
		v.problem(min(v.expect, fr.seq), fr.off, "segment does not continue the previous one (its header names record %d with a different hash): "+
			"a segment was replaced, inserted or removed", h.prevSeq)
		v.expect, v.prev = h.prevSeq+1, h.prevHash
	}
	return true
}

// record checks sequence, chain, HMAC and checkpoint signature of a frame.
// After damage (resync), the frame is taken as the new anchor.
func (v *verifier) record(fr frame, resync bool) {
	r := v.rep
	if !resync {
		switch {
		case fr.seq > v.expect:
			v.problem(v.expect, fr.off, "records %d to %d are missing", v.expect, fr.seq-1)
			resync = true
		case fr.seq < v.expect:
			v.problem(v.expect, fr.off, "record %d appears where %d was expected: records were reordered or inserted", fr.seq, v.expect)
			resync = true
		}
	}
	if !resync {
		if h := v.ch.next(&v.prev, fr.kind, fr.seq, fr.payload); h != fr.hash {
			v.problem(fr.seq, fr.off, "hash chain broken: the record or the one before it was altered")
		}
	}
	if !v.ch.checkMAC(&fr.hash, &fr.mac) {
		v.problem(fr.seq, fr.off, "HMAC mismatch: the record was altered or forged without the gateway's key")
	}
	if fr.kind == kindCheckpoint {
		v.checkpoint(fr)
	}
	if fr.kind == kindRecord && bytes.Contains(fr.payload, cpFailureMark) {
		v.recordedLoss(fr)
	}
	v.checkPoint(fr)
	if fr.seq == v.wantCP {
		v.cpSeen = true
		if fr.hash != v.cpHash {
			v.problem(v.lastCP+1, fr.off, "record %d does not match the hash signed in checkpoint.json: records %d to %d were altered", fr.seq, v.lastCP+1, fr.seq)
		}
	}
	if r.Records == 0 && r.FirstSeq == 0 {
		r.FirstSeq = fr.seq
	}
	r.Records++
	v.lastWasCP = fr.kind == kindCheckpoint && v.lastCP == fr.seq-1
	v.expect, v.prev = fr.seq+1, fr.hash
}

// cpFailureMark is in the payload of a "failure" record that Open writes
// when checkpoint.json did not match the segments.
var cpFailureMark = []byte(`"category":"audit","action":"failure","object":"checkpoint.json"`)

// recordedLoss reports what the log recorded about itself at a start:
// checkpoint.json was missing or older than the newest checkpoint, so the
// newest segments were probably removed while zonegate was stopped, and
// the records after this one may reuse their sequence numbers.
func (v *verifier) recordedLoss(fr frame) {
	e, err := decodePayload(fr.payload, fr.seq, fr.hash)
	if err != nil || e.Category != CategoryAudit || e.Action != ActionFailure || e.Object != checkpointFile {
		return
	}
	v.problem(fr.seq, fr.off, "at a start the log recorded: %s", e.Details[DetailReason])
}

// suspect is the first sequence number to blame when a signature fails:
// the first one already found bad after the last valid checkpoint, or else
// the first one that checkpoint does not cover.
func (v *verifier) suspect() uint64 {
	best := uint64(0)
	for _, p := range v.rep.Problems {
		if p.Seq > v.lastCP && (best == 0 || p.Seq < best) {
			best = p.Seq
		}
	}
	if best != 0 {
		return best
	}
	return v.lastCP + 1
}

func (v *verifier) checkpoint(fr frame) {
	e, err := decodePayload(fr.payload, fr.seq, fr.hash)
	if err != nil {
		v.problem(fr.seq, fr.off, "checkpoint unreadable: %v", err)
		return
	}
	s, err := statementFromDetails(e.Gateway, e.Details)
	if err != nil {
		v.problem(fr.seq, fr.off, "checkpoint: %v", err)
		return
	}
	h, err := s.verify(v.pub)
	if err != nil {
		v.problem(v.suspect(), fr.off, "checkpoint at %d: %v: records %d to %d cannot be trusted", fr.seq, err, v.lastCP+1, fr.seq-1)
		return
	}
	if s.Seq != fr.seq-1 || h != v.prev {
		v.problem(v.suspect(), fr.off, "signed checkpoint at %d does not match the records before it (signed %d/%s…): records %d to %d were altered",
			fr.seq, s.Seq, hex.EncodeToString(h[:4]), v.lastCP+1, fr.seq-1)
		return
	}
	v.rep.Checkpoints++
	v.lastCP = s.Seq
	v.cpCovPrev, v.cpCov, v.cpRec, v.cpReason, v.cpSeg = v.cpCov, s.Seq, fr.seq, e.Details[DetailReason], v.seg
}

// checkNewest checks what the log proves about its own end: once it has
// made a signed checkpoint, checkpoint.json must exist and name the newest
// checkpoint in the segments. zonegate writes checkpoint.json right after
// each checkpoint record is durable, before anything else, so the only
// state a crash can leave is checkpoint.json one checkpoint behind (or
// missing before the first one) while that newest checkpoint is the very
// last record. Anything else is what removing the newest segment (with
// checkpoint.json, or with an older copy of it put back) leaves behind.
func (v *verifier) checkNewest(last uint64) {
	if v.rep.Checkpoints == 0 {
		return
	}
	crashWindow := v.cpRec == last
	switch {
	case v.wantCP == 0 && crashWindow && v.rep.Checkpoints == 1:
		v.rep.Warnings = append(v.rep.Warnings, fmt.Sprintf("checkpoint.json is missing, and the log ends with its first checkpoint (record %d): "+
			"zonegate stopped before it wrote checkpoint.json; it does so at the next checkpoint", v.cpRec))
	case v.wantCP == 0:
		v.problem(last+1, 0, "checkpoint.json is missing although the log holds signed checkpoints (the newest over record %d): "+
			"it was deleted, as removing the newest segments would require; restore it from a backup or verify with a witness (--witness)", v.cpCov)
	case v.wantCP >= v.cpCov:
	case v.wantCP == v.cpCovPrev && crashWindow:
		v.rep.Warnings = append(v.rep.Warnings, fmt.Sprintf("checkpoint.json names record %d, one checkpoint behind the last record (a checkpoint over %d): "+
			"zonegate stopped between the two writes, or the newest segment was removed and checkpoint.json replaced; a witness (--witness) tells which",
			v.wantCP, v.cpCov))
	default:
		v.problem(last+1, 0, "checkpoint.json names record %d, but the log holds a newer signed checkpoint (over record %d, at %d): "+
			"checkpoint.json was replaced by an older copy, as removing the newest segments would require (or zonegate could not update it: see its log); "+
			"verify with a witness (--witness)", v.wantCP, v.cpCov, v.cpRec)
	}
	if v.cpRec == last && v.cpReason == "rotation" {
		v.rep.Warnings = append(v.rep.Warnings, fmt.Sprintf("the log ends with the checkpoint that closes %s, but no next segment follows: "+
			"zonegate stopped while starting it (it continues in this segment at the next start), or the newest segment was removed", v.cpSeg))
	}
}
