package audit

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"time"
)

// Filter selects records for Read. Zero fields select everything.
type Filter struct {
	Since    time.Time // records at or after this time
	Until    time.Time // records before this time
	Category Category
	Action   Action
	FromSeq  uint64 // records with at least this sequence number
}

func (f *Filter) match(e *Entry) bool {
	return (f.Since.IsZero() || !e.Time.Before(f.Since)) &&
		(f.Until.IsZero() || e.Time.Before(f.Until)) &&
		(f.Category == "" || e.Category == f.Category) &&
		(f.Action == "" || e.Action == f.Action)
}

// ErrDamaged is returned by Read after it delivered every readable record
// when some bytes could not be read. Run Verify for the full picture.
var ErrDamaged = errors.New("audit log has damaged records")

// Read calls fn for every record in dir that matches f, in log order. It
// does not check the chain (use Verify): it skips damaged bytes and returns
// an error wrapping ErrDamaged at the end if there were any. An error from
// fn stops the walk and is returned. Read may run while the log is open;
// it then sees the records durable at the time each segment is reached.
func Read(dir string, f Filter, fn func(Entry) error) error {
	segs, err := listSegments(dir)
	if err != nil {
		return err
	}
	buf := make([]byte, scanWindow)
	damaged := 0
	for i, s := range segs {
		if f.FromSeq > 0 && i+1 < len(segs) {
			if first, ok := firstSeq(segs[i+1].path); ok && first <= f.FromSeq {
				continue // every record of s is older than FromSeq
			}
		}
		n, err := readSegment(s.path, buf, f, fn, i == len(segs)-1)
		damaged += n
		if err != nil {
			return err
		}
	}
	if damaged > 0 {
		return fmt.Errorf("%w: %d damaged places skipped; run `zonegate audit verify %s`", ErrDamaged, damaged, dir)
	}
	return nil
}

func readSegment(path string, buf []byte, f Filter, fn func(Entry) error, last bool) (int, error) {
	fh, sc, err := openSegment(path, buf)
	if err != nil {
		return 1, nil
	}
	defer fh.Close()
	damaged := 0
	for {
		fr, err := sc.next()
		var te *tornError
		switch {
		case err == nil:
		case errors.Is(err, io.EOF):
			return damaged, nil
		case errors.As(err, &te) && last:
			return damaged, nil // an unfinished write: not damage
		default:
			var ce *corruptError
			if errors.As(err, &ce) || errors.As(err, &te) {
				damaged++
				continue
			}
			return damaged, fmt.Errorf("%s: %w", filepath.Base(path), err)
		}
		if fr.seq < f.FromSeq {
			continue
		}
		e, err := decodePayload(fr.payload, fr.seq, fr.hash)
		if err != nil {
			damaged++
			continue
		}
		if !f.match(&e) {
			continue
		}
		if err := fn(e); err != nil {
			return damaged, err
		}
	}
}

// firstSeq returns the sequence number of a segment's header.
func firstSeq(path string) (uint64, bool) {
	fh, sc, err := openSegment(path, make([]byte, 0))
	if err != nil {
		return 0, false
	}
	defer fh.Close()
	fr, err := sc.next()
	if err != nil {
		return 0, false
	}
	return fr.seq, true
}
