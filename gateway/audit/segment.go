package audit

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Segment files are named audit-NNNNNNNN.log, numbered from 1 without gaps.
// Each starts with the 8-byte file magic and then frames; the first frame is
// the segment header (kind 2, action "rotate").
const (
	segPrefix = "audit-"
	segSuffix = ".log"
	fileMagic = "ZGAUDIT1"
)

func segName(n uint64) string { return fmt.Sprintf("%s%08d%s", segPrefix, n, segSuffix) }

type segInfo struct {
	num  uint64
	path string
	size int64
}

// listSegments returns the segment files of dir in order.
func listSegments(dir string) ([]segInfo, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var segs []segInfo
	for _, e := range ents {
		name := e.Name()
		if !strings.HasPrefix(name, segPrefix) || !strings.HasSuffix(name, segSuffix) {
			continue
		}
		n, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(name, segPrefix), segSuffix), 10, 64)
		if err != nil || n == 0 {
			continue
		}
		info, err := e.Info()
		if err != nil {
			return nil, err
		}
		segs = append(segs, segInfo{num: n, path: filepath.Join(dir, name), size: info.Size()})
	}
	sort.Slice(segs, func(i, j int) bool { return segs[i].num < segs[j].num })
	return segs, nil
}

// corruptError reports invalid bytes followed by at least one valid frame.
type corruptError struct {
	Off, Len int64
}

func (e *corruptError) Error() string {
	return fmt.Sprintf("checksum or framing error: %d bytes at offset %d are not a valid record", e.Len, e.Off)
}

// tornError reports invalid bytes at the end of a file with no valid frame
// after them: the tail of a write that a crash interrupted.
type tornError struct {
	Off, Len int64
}

func (e *tornError) Error() string {
	return fmt.Sprintf("torn tail: %d bytes at offset %d end the file without a complete record", e.Len, e.Off)
}

const scanWindow = 256 << 10

// scanner reads frames from a segment file through a window buffer.
type scanner struct {
	r      io.ReaderAt
	size   int64
	off    int64
	buf    []byte
	bufOff int64
	n      int
}

func newScanner(r io.ReaderAt, size int64, buf []byte) *scanner {
	if cap(buf) < scanWindow {
		buf = make([]byte, scanWindow)
	}
	return &scanner{r: r, size: size, off: int64(len(fileMagic)), buf: buf[:scanWindow], bufOff: -1}
}

// peek returns up to need bytes at off (fewer at the end of the file).
func (s *scanner) peek(off int64, need int) ([]byte, error) {
	if s.bufOff >= 0 && off >= s.bufOff && off+int64(need) <= s.bufOff+int64(s.n) {
		return s.buf[off-s.bufOff : off-s.bufOff+int64(need)], nil
	}
	if s.bufOff >= 0 && off >= s.bufOff && off <= s.bufOff+int64(s.n) && s.bufOff+int64(s.n) == s.size {
		return s.buf[off-s.bufOff : s.n], nil // the window already reaches the end of the file
	}
	want := len(s.buf)
	if rest := s.size - off; rest < int64(want) {
		want = int(rest)
	}
	n, err := s.r.ReadAt(s.buf[:want], off)
	if n < want && err != nil {
		return nil, err
	}
	s.bufOff, s.n = off, n
	if need > n {
		need = n
	}
	return s.buf[:need], nil
}

// next returns the next frame, io.EOF at the end, or a *corruptError /
// *tornError describing bad bytes (after a *corruptError, the following call
// returns the valid frame found after them).
func (s *scanner) next() (frame, error) {
	if s.off >= s.size {
		return frame{}, io.EOF
	}
	b, err := s.peek(s.off, maxFrameSize)
	if err != nil {
		return frame{}, err
	}
	f, perr := parseFrame(b)
	if perr == nil {
		f.off = s.off
		s.off += f.size
		return f, nil
	}
	start := s.off
	o, err := s.resync(start + 1)
	if err != nil {
		return frame{}, err
	}
	if o < 0 {
		s.off = s.size
		return frame{}, &tornError{Off: start, Len: s.size - start}
	}
	s.off = o
	return frame{}, &corruptError{Off: start, Len: o - start}
}

var magic3 = []byte{frameMagic[0], frameMagic[1], frameVersion}

// resync finds the offset of the next valid frame at or after off, or -1.
func (s *scanner) resync(off int64) (int64, error) {
	for off+frameHeaderSize <= s.size {
		w, err := s.peek(off, len(s.buf))
		if err != nil {
			return 0, err
		}
		i := bytes.Index(w, magic3)
		if i < 0 {
			if len(w) < len(magic3) {
				break
			}
			off += int64(len(w) - len(magic3) + 1)
			continue
		}
		cand := off + int64(i)
		fb, err := s.peek(cand, maxFrameSize)
		if err != nil {
			return 0, err
		}
		if _, perr := parseFrame(fb); perr == nil {
			return cand, nil
		}
		off = cand + 1
	}
	return -1, nil
}

// openSegment opens a segment file for scanning and checks its magic.
func openSegment(path string, buf []byte) (*os.File, *scanner, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	var m [len(fileMagic)]byte
	if _, err := f.ReadAt(m[:], 0); err != nil || string(m[:]) != fileMagic {
		f.Close()
		return nil, nil, fmt.Errorf("%s: not an audit segment (bad file magic)", filepath.Base(path))
	}
	return f, newScanner(f, st.Size(), buf), nil
}

// segHeader is the decoded segment header record.
type segHeader struct {
	seq      uint64
	segment  uint64
	prevSeq  uint64
	prevHash [32]byte
	entry    Entry
}

func parseHeader(f frame) (segHeader, error) {
	if f.kind != kindHeader {
		return segHeader{}, errors.New("first record is not a segment header")
	}
	e, err := decodePayload(f.payload, f.seq, f.hash)
	if err != nil {
		return segHeader{}, err
	}
	h := segHeader{seq: f.seq, entry: e}
	d := e.Details
	var err1, err2 error
	h.segment, err1 = strconv.ParseUint(d["segment"], 10, 64)
	h.prevSeq, err2 = strconv.ParseUint(d["prev_seq"], 10, 64)
	ph, err3 := hex.DecodeString(d["prev_hash"])
	if err1 != nil || err2 != nil || err3 != nil || len(ph) != 32 {
		return segHeader{}, errors.New("segment header lacks segment, prev_seq or prev_hash")
	}
	copy(h.prevHash[:], ph)
	return h, nil
}
