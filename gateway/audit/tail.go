package audit

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// tail reads a live log from a sequence number on, following new segments.
// It only returns complete frames and never blocks: when nothing more is
// on disk it reports so and the caller waits.
type tail struct {
	dir  string
	seg  uint64
	f    *os.File
	sc   *scanner
	buf  []byte
	next uint64 // the next sequence number wanted
	// skipped counts damaged places stepped over.
	skipped int
}

func newTail(dir string, next uint64) *tail {
	return &tail{dir: dir, next: next, buf: make([]byte, scanWindow)}
}

func (t *tail) close() {
	if t.f != nil {
		t.f.Close()
		t.f, t.sc = nil, nil
	}
}

// position opens the segment that holds t.next. It returns the first
// sequence number available if records before it were pruned.
func (t *tail) position() (uint64, error) {
	segs, err := listSegments(t.dir)
	if err != nil {
		return 0, err
	}
	if len(segs) == 0 {
		return 0, errors.New("no segments")
	}
	pick := segs[0]
	first, ok := firstSeq(pick.path)
	if !ok {
		first = 1
	}
	for _, s := range segs[1:] {
		fs, ok := firstSeq(s.path)
		if ok && fs <= t.next {
			pick = s
		}
	}
	if err := t.open(pick.num); err != nil {
		return 0, err
	}
	return first, nil
}

func (t *tail) open(num uint64) error {
	t.close()
	f, sc, err := openSegment(filepath.Join(t.dir, segName(num)), t.buf)
	if err != nil {
		return err
	}
	t.f, t.sc, t.seg = f, sc, num
	return nil
}

// frame returns the next frame with t.next <= seq <= upTo, or ok=false if
// there is none on disk yet. Frames beyond upTo are not durable yet (they
// may still be rolled back after a failed write), so they are left unread.
func (t *tail) frame(upTo uint64) (fr frame, ok bool, err error) {
	if t.sc == nil {
		if _, err := t.position(); err != nil {
			return frame{}, false, err
		}
	}
	for {
		sc := t.sc
		if sc.off+frameHeaderSize <= sc.size {
			b, err := sc.peek(sc.off, frameHeaderSize)
			if err != nil {
				return frame{}, false, t.refresh()
			}
			n, lerr := frameLen(b)
			if lerr != nil || sc.off+int64(n) <= sc.size {
				fr, err := sc.next()
				var ce *corruptError
				var te *tornError
				switch {
				case err == nil:
					if fr.seq < t.next {
						continue
					}
					if fr.seq > upTo {
						sc.off, sc.bufOff = fr.off, -1
						return frame{}, false, nil
					}
					return fr, true, nil
				case errors.As(err, &ce), errors.As(err, &te):
					t.skipped++
					continue
				case errors.Is(err, io.EOF):
				default:
					return frame{}, false, t.refresh()
				}
			}
		}
		// At the end of what we know: the next segment exists only once
		// this one is complete, so check for it before looking for growth.
		_, nerr := os.Stat(filepath.Join(t.dir, segName(t.seg+1)))
		st, err := t.f.Stat()
		if err != nil {
			return frame{}, false, err
		}
		if st.Size() > sc.size {
			sc.size = st.Size()
			continue
		}
		if nerr == nil {
			if err := t.open(t.seg + 1); err != nil {
				return frame{}, false, fmt.Errorf("follow %s: %w", segName(t.seg+1), err)
			}
			continue
		}
		return frame{}, false, nil
	}
}

// refresh re-reads the file size after a read error (the writer may have cut
// back a failed write) and drops the read window.
func (t *tail) refresh() error {
	st, err := t.f.Stat()
	if err != nil {
		return err
	}
	t.sc.size, t.sc.bufOff = st.Size(), -1
	return nil
}
