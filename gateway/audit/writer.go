package audit

import (
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// writer appends frames to the current segment. It is owned by the writer
// goroutine (and by Open before that goroutine starts).
//
// Frames are first encoded into buf; flush writes buf with one write call
// and one fsync. If either fails, the file is cut back to the last durable
// offset and seq/head return to their durable values, so a failed batch
// leaves no trace on disk.
type writer struct {
	dir     string
	gateway string
	bootID  string
	keys    *keySet
	ch      *chainer
	st      *storage

	f       *os.File
	seg     uint64
	segSize int64 // durable size of the current segment

	seq  uint64   // last encoded sequence number (durable + buffered)
	head [32]byte // its chain hash

	durSeq  uint64 // last durable sequence number
	durHead [32]byte

	buf     []byte // encoded frames not yet written
	pbuf    []byte // payload scratch
	keys2   []string
	pending int // records in buf
}

// encode renders r's payload into w.pbuf and returns its frame size.
func (w *writer) encode(r *Record) int64 {
	w.pbuf, w.keys2 = appendPayload(w.pbuf[:0], r, w.bootID, w.gateway, w.keys2)
	return int64(len(w.pbuf) + frameOverhead)
}

// push adds the payload in w.pbuf as the next frame and returns its seq.
func (w *writer) push(kind byte) uint64 {
	seq := w.seq + 1
	h := w.ch.next(&w.head, kind, seq, w.pbuf)
	mac := w.ch.sign(&h)
	w.buf = appendFrame(w.buf, kind, seq, w.pbuf, &h, &mac)
	w.seq, w.head = seq, h
	w.pending++
	return seq
}

// add encodes and pushes an internal record in one step. It returns 0 when
// the record does not fit even into the reserve.
func (w *writer) add(kind byte, r Record) uint64 {
	n := w.encode(&r)
	if !w.st.fits(int64(len(w.buf)), n, true) {
		return 0
	}
	return w.push(kind)
}

// flush makes the buffered frames durable.
func (w *writer) flush() error {
	if len(w.buf) == 0 {
		return nil
	}
	_, err := w.f.Write(w.buf)
	if err == nil {
		err = w.f.Sync()
	}
	if err != nil {
		w.rollback()
		return err
	}
	w.segSize += int64(len(w.buf))
	w.st.used += int64(len(w.buf))
	w.buf = w.buf[:0]
	w.pending = 0
	w.durSeq, w.durHead = w.seq, w.head
	return nil
}

// rollback drops the buffered frames and cuts the file back to its durable
// size (a partial write may have reached it).
func (w *writer) rollback() {
	w.buf = w.buf[:0]
	w.pending = 0
	w.seq, w.head = w.durSeq, w.durHead
	if err := w.f.Truncate(w.segSize); err == nil {
		w.f.Sync()
	}
}

// needRotate reports whether adding n bytes would overgrow the segment.
func (w *writer) needRotate(n int64) bool {
	return w.segSize+int64(len(w.buf))+n > w.st.segmentBytes() && w.segSize+int64(len(w.buf)) > int64(len(fileMagic))+1024
}

// internal builds a record of the log's own.
func (w *writer) internal(now time.Time, a Action, object string, res Result, d map[string]string) Record {
	return Record{Time: now, Actor: "zonegate", Category: CategoryAudit, Action: a, Object: object, Result: res, Details: d}
}

// startSegment creates segment n, writes its header and makes it current.
// The header chains on the current head. Any buffered frames must have been
// flushed first.
func (w *writer) startSegment(n uint64, reason string, now time.Time) error {
	if len(w.buf) != 0 {
		return fmt.Errorf("audit: internal error: rotation with %d unflushed bytes", len(w.buf))
	}
	r := w.internal(now, ActionRotate, segName(n), ResultSuccess, map[string]string{
		"segment":    strconv.FormatUint(n, 10),
		"prev_seq":   strconv.FormatUint(w.seq, 10),
		"prev_hash":  hex.EncodeToString(w.head[:]),
		"hmac_key":   hmacKeyID(w.keys.hmac),
		"sign_key":   KeyID(w.keys.public),
		DetailReason: reason,
	})
	size := w.encode(&r)
	if !w.st.fits(0, size+int64(len(fileMagic)), true) {
		return w.st.fullError()
	}
	seq := w.seq + 1
	h := w.ch.next(&w.head, kindHeader, seq, w.pbuf)
	mac := w.ch.sign(&h)
	data := appendFrame([]byte(fileMagic), kindHeader, seq, w.pbuf, &h, &mac)

	path := filepath.Join(w.dir, segName(n))
	tmp := filepath.Join(w.dir, "."+segName(n)+".tmp")
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return err
	}
	if _, err = f.Write(data); err == nil {
		err = f.Sync()
	}
	if err == nil {
		err = f.Close()
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err == nil {
		err = syncDir(w.dir)
	}
	if err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	nf, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	if w.f != nil {
		w.f.Close()
	}
	w.f, w.seg, w.segSize = nf, n, int64(len(data))
	w.st.used += int64(len(data))
	w.seq, w.head = seq, h
	w.durSeq, w.durHead = seq, h
	return nil
}

// checkpoint appends a signed checkpoint over the current head (buffered
// records included) and returns the statement to publish after the flush.
func (w *writer) checkpoint(now time.Time, reason string) (*Statement, bool) {
	s := &Statement{Gateway: w.gateway, Seq: w.seq, Head: hex.EncodeToString(w.head[:]), Time: now.UTC().Format(timeLayout)}
	signStatement(s, w.keys.signing)
	r := w.internal(now, ActionCheckpoint, "log", ResultSuccess, s.details(reason))
	if w.add(kindCheckpoint, r) == 0 {
		return nil, false
	}
	return s, true
}

func (w *writer) close() error {
	if w.f == nil {
		return nil
	}
	err := w.f.Close()
	w.f = nil
	return err
}
