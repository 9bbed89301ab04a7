package audit

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// tamperLog builds a closed log of about 600 records in three or more
// segments with a checkpoint every 20 records.
func tamperLog(t *testing.T) Options {
	t.Helper()
	o := testOptions(t)
	o.SegmentBytes = 64 << 10
	o.CheckpointEvery = 20
	l := openLog(t, o)
	appendN(t, l, 600)
	mustClose(t, l)
	if rep := requireIntact(t, o.Dir); rep.Segments < 3 {
		t.Fatalf("want at least 3 segments, got %d", rep.Segments)
	}
	return o
}

type frameLoc struct {
	path      string
	off, size int64
	kind      byte
}

// locate finds the frame of seq on disk.
func locate(t *testing.T, dir string, seq uint64) frameLoc {
	t.Helper()
	segs, _ := listSegments(dir)
	for _, s := range segs {
		f, sc, err := openSegment(s.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		for {
			fr, err := sc.next()
			if err != nil {
				break
			}
			if fr.seq == seq {
				f.Close()
				return frameLoc{s.path, fr.off, fr.size, fr.kind}
			}
		}
		f.Close()
	}
	t.Fatalf("seq %d not found", seq)
	return frameLoc{}
}

// plainRecord returns a sequence number >= from whose frame is an ordinary
// record (not a header or checkpoint).
func plainRecord(t *testing.T, dir string, from uint64) uint64 {
	for s := from; ; s++ {
		if locate(t, dir, s).kind == kindRecord {
			return s
		}
	}
}

func editFile(t *testing.T, path string, edit func([]byte) []byte) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, edit(b), 0o640); err != nil {
		t.Fatal(err)
	}
}

func fixCRC(fr []byte) {
	binary.BigEndian.PutUint32(fr[16:20], frameCRC(fr))
}

// expectBad verifies dir and requires the first bad sequence number.
func expectBad(t *testing.T, dir string, o VerifyOptions, want uint64) *Report {
	t.Helper()
	rep := verify(t, dir, o)
	if rep.Intact() {
		t.Fatalf("tampering not detected")
	}
	if got := rep.FirstBad(); got != want {
		t.Fatalf("first bad seq %d, want %d:\n%s", got, want, problems(rep))
	}
	t.Logf("detected, first bad seq %d:\n%s", want, problems(rep))
	return rep
}

func TestTamperFlippedByte(t *testing.T) {
	o := tamperLog(t)
	s := plainRecord(t, o.Dir, 100)
	loc := locate(t, o.Dir, s)
	editFile(t, loc.path, func(b []byte) []byte { b[loc.off+frameHeaderSize+5] ^= 0x01; return b })
	expectBad(t, o.Dir, VerifyOptions{}, s)
}

func TestTamperFlippedByteWithFixedCRC(t *testing.T) {
	o := tamperLog(t)
	s := plainRecord(t, o.Dir, 150)
	loc := locate(t, o.Dir, s)
	editFile(t, loc.path, func(b []byte) []byte {
		fr := b[loc.off : loc.off+loc.size]
		i := bytes.Index(fr, []byte(`"admin"`))
		fr[i+1] = 'e' // "admin" -> "edmin"
		fixCRC(fr)
		return b
	})
	expectBad(t, o.Dir, VerifyOptions{}, s)
}

// rechain rewrites the whole log as an attacker without the keys would:
// mutate one record, then recompute every chain hash and CRC after it
// (segment headers included) so that the chain is self-consistent again.
func rechain(t *testing.T, dir string, target uint64, mutate func([]byte) []byte) {
	t.Helper()
	segs, _ := listSegments(dir)
	ch := newChainer(nil)
	var prev [32]byte
	changed := false
	for _, s := range segs {
		f, sc, err := openSegment(s.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		out := []byte(fileMagic)
		for {
			fr, err := sc.next()
			if err != nil {
				break
			}
			p := append([]byte(nil), fr.payload...)
			if fr.seq == target {
				p = mutate(p)
				changed = true
			}
			if fr.kind == kindHeader && changed {
				e, _ := decodePayload(p, fr.seq, fr.hash)
				old := e.Details["prev_hash"]
				p = bytes.Replace(p, []byte(old), []byte(hex.EncodeToString(prev[:])), 1)
			}
			h := fr.hash
			if changed {
				h = ch.next(&prev, fr.kind, fr.seq, p)
			}
			out = appendFrame(out, fr.kind, fr.seq, p, &h, &fr.mac)
			prev = h
		}
		f.Close()
		if err := os.WriteFile(s.path, out, 0o640); err != nil {
			t.Fatal(err)
		}
	}
}

func TestTamperRewriteChainWithoutKeys(t *testing.T) {
	o := tamperLog(t)
	s := plainRecord(t, o.Dir, 250)
	rechain(t, o.Dir, s, func(p []byte) []byte { return bytes.Replace(p, []byte(`"admin"`), []byte(`"eve__"`), 1) })
	// With the HMAC key the altered record itself is named.
	expectBad(t, o.Dir, VerifyOptions{}, s)
	// With the public key alone, the signed checkpoints catch it: the first
	// bad sequence number is the first one after the last valid signature.
	var lastCP uint64
	for _, e := range readAll(t, o.Dir, Filter{Action: ActionCheckpoint}) {
		if e.Seq < s {
			lastCP = e.Seq
		}
	}
	pub, err := LoadPublicKey(DefaultKeyDir(o.Dir))
	if err != nil {
		t.Fatal(err)
	}
	expectBad(t, o.Dir, VerifyOptions{PublicKey: pub, SkipHMAC: true}, lastCP)
}

func TestTamperDeletedRecord(t *testing.T) {
	o := tamperLog(t)
	s := plainRecord(t, o.Dir, 200)
	loc := locate(t, o.Dir, s)
	editFile(t, loc.path, func(b []byte) []byte { return append(b[:loc.off:loc.off], b[loc.off+loc.size:]...) })
	expectBad(t, o.Dir, VerifyOptions{}, s)
}

func TestTamperInsertedRecord(t *testing.T) {
	o := tamperLog(t)
	s := plainRecord(t, o.Dir, 300)
	prev := locate(t, o.Dir, s-1)
	// A forged record claiming seq s with a correct chain hash (anyone can
	// compute it) but no valid HMAC, inserted before the real record s.
	segs, _ := listSegments(o.Dir)
	_ = segs
	var prevHash [32]byte
	editFile(t, prev.path, func(b []byte) []byte {
		fr, err := parseFrame(b[prev.off:])
		if err != nil {
			t.Fatal(err)
		}
		prevHash = fr.hash
		r := Record{Category: CategoryAccount, Action: ActionAccountCreate, Actor: "admin", Object: "user:backdoor", Result: ResultSuccess}
		p, _ := appendPayload(nil, &r, "boot", "line3-gw", nil)
		h := newChainer(nil).next(&prevHash, kindRecord, s, p)
		var mac [32]byte
		forged := appendFrame(nil, kindRecord, s, p, &h, &mac)
		end := prev.off + prev.size
		return append(b[:end:end], append(forged, b[end:]...)...)
	})
	expectBad(t, o.Dir, VerifyOptions{}, s)
}

func TestTamperReorderedRecords(t *testing.T) {
	o := tamperLog(t)
	s := plainRecord(t, o.Dir, 120)
	for locate(t, o.Dir, s+1).kind != kindRecord || locate(t, o.Dir, s+1).path != locate(t, o.Dir, s).path {
		s = plainRecord(t, o.Dir, s+1)
	}
	a, b := locate(t, o.Dir, s), locate(t, o.Dir, s+1)
	editFile(t, a.path, func(d []byte) []byte {
		fa := append([]byte(nil), d[a.off:a.off+a.size]...)
		fb := append([]byte(nil), d[b.off:b.off+b.size]...)
		out := append([]byte(nil), d[:a.off]...)
		out = append(out, fb...)
		out = append(out, fa...)
		return append(out, d[b.off+b.size:]...)
	})
	expectBad(t, o.Dir, VerifyOptions{}, s)
}

func TestTamperDeletedSegment(t *testing.T) {
	o := tamperLog(t)
	segs, _ := listSegments(o.Dir)
	first, _ := firstSeq(segs[1].path)
	os.Remove(segs[1].path)
	expectBad(t, o.Dir, VerifyOptions{}, first)
}

func TestTamperDeletedFirstSegment(t *testing.T) {
	o := tamperLog(t)
	segs, _ := listSegments(o.Dir)
	os.Remove(segs[0].path)
	expectBad(t, o.Dir, VerifyOptions{}, 1)
}

func TestTamperDeletedLastSegment(t *testing.T) {
	o := tamperLog(t)
	segs, _ := listSegments(o.Dir)
	last := segs[len(segs)-1]
	first, _ := firstSeq(last.path)
	os.Remove(last.path)
	// The remaining segments are consistent, but checkpoint.json vouches for
	// records that are gone.
	expectBad(t, o.Dir, VerifyOptions{}, first)
}

func TestTamperReplacedSegment(t *testing.T) {
	o := tamperLog(t)
	other := tamperLog(t) // same gateway name, same shape, other keys
	segs, _ := listSegments(o.Dir)
	first, _ := firstSeq(segs[1].path)
	data, err := os.ReadFile(filepath.Join(other.Dir, filepath.Base(segs[1].path)))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(segs[1].path, data, 0o640); err != nil {
		t.Fatal(err)
	}
	expectBad(t, o.Dir, VerifyOptions{}, first)
}

func TestTamperTruncatedBeforeCheckpoint(t *testing.T) {
	o := tamperLog(t)
	cp, _ := readStatement(filepath.Join(o.Dir, checkpointFile))
	// Cut the log cleanly at a frame boundary well before the last checkpoint.
	s := cp.Seq - 30
	loc := locate(t, o.Dir, s)
	segs, _ := listSegments(o.Dir)
	for _, sg := range segs {
		if sg.path > loc.path {
			os.Remove(sg.path)
		}
	}
	if err := os.Truncate(loc.path, loc.off); err != nil {
		t.Fatal(err)
	}
	expectBad(t, o.Dir, VerifyOptions{}, s)
}

func TestTamperForgedCheckpointSignature(t *testing.T) {
	o := tamperLog(t)
	var cps []Entry
	for _, e := range readAll(t, o.Dir, Filter{Action: ActionCheckpoint}) {
		if e.Seq > 200 {
			cps = append(cps, e)
		}
	}
	target := cps[0]
	loc := locate(t, o.Dir, target.Seq)
	editFile(t, loc.path, func(b []byte) []byte {
		fr := b[loc.off : loc.off+loc.size]
		i := bytes.Index(fr, []byte(`"signature":"`)) + len(`"signature":"`)
		if fr[i] == 'A' {
			fr[i] = 'B'
		} else {
			fr[i] = 'A'
		}
		fixCRC(fr) // the chain hash now breaks too, at the checkpoint itself
		return b
	})
	// The altered checkpoint itself is the first bad record: the records it
	// should have covered still pass their HMAC and chain checks.
	rep := expectBad(t, o.Dir, VerifyOptions{}, target.Seq)
	if !strings.Contains(problems(rep), "signature") {
		t.Fatalf("the bad signature is not reported")
	}
}

func TestVerifyUntrustedPublicKey(t *testing.T) {
	o := tamperLog(t)
	other := tamperLog(t)
	pub, err := LoadPublicKey(DefaultKeyDir(other.Dir))
	if err != nil {
		t.Fatal(err)
	}
	// A log signed by another gateway's key does not verify.
	rep := verify(t, o.Dir, VerifyOptions{PublicKey: pub, SkipHMAC: true})
	if rep.Intact() {
		t.Fatal("log verified with a foreign public key")
	}
	// The warning about the key from the directory is given.
	rep = requireIntact(t, o.Dir)
	if !rep.PublicKeyFromDir || len(rep.Warnings) == 0 {
		t.Fatalf("no warning about an untrusted key: %+v", rep)
	}
}

func TestVerifyTornTailIsWarning(t *testing.T) {
	o := testOptions(t)
	l := openLog(t, o)
	appendN(t, l, 10)
	mustClose(t, l)
	segs, _ := listSegments(o.Dir)
	f, _ := os.OpenFile(segs[len(segs)-1].path, os.O_WRONLY|os.O_APPEND, 0)
	f.Write([]byte("ZG\x01\x01\x00\x00\x01\x00garbage"))
	f.Close()
	rep := requireIntact(t, o.Dir)
	if len(rep.Warnings) == 0 {
		t.Fatal("torn tail not mentioned")
	}
	_ = context.Background
}
