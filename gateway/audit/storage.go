package audit

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

var errorsIs = errors.Is

// storage tracks how full the log is. It belongs to the writer goroutine.
//
// The usable capacity is MaxBytes, or less when the filesystem has less room:
// capacity = min(MaxBytes, used + available on the filesystem). Callers'
// records may fill it up to capacity-Reserve; the log's own records
// (storage-full, lost, checkpoints, rotation) may use the reserve too.
type storage struct {
	dir      string
	maxBytes int64
	reserve  int64
	warnPct  int
	segBytes int64

	used     int64 // bytes in all segment files
	capacity int64
	// fsLimited: the filesystem (its free space, or an ENOSPC) limits the
	// capacity, not maxBytes. fsAvail is its free space at the last
	// refresh (-1 if unknown).
	fsLimited bool
	fsAvail   int64

	warned bool // a storage-warning was written for the current fill level
	full   bool // callers' records are being refused

	// After a write failed with ENOSPC although statfs promised room
	// (quotas, reserved blocks), the capacity stays capped at the bytes
	// used until the filesystem reports more room than it did then.
	enospc      bool
	enospcAvail int64

	ignoreFS bool // tests: pretend statfs is unavailable

	share float64 // DataPlaneShare
	// dataUsed is the bytes of data-plane records (and data-plane-dropped
	// records) in the segments, dataBySeg the same per segment (for
	// Prune).
	dataUsed  int64
	dataBySeg map[uint64]int64
}

// addData counts n bytes of data-plane records written to segment seg.
func (s *storage) addData(seg uint64, n int64) {
	if s.dataBySeg == nil {
		s.dataBySeg = map[uint64]int64{}
	}
	s.dataBySeg[seg] += n
	s.dataUsed += n
}

// removeData forgets the data-plane bytes of a removed segment.
func (s *storage) removeData(seg uint64) {
	s.dataUsed -= s.dataBySeg[seg]
	delete(s.dataBySeg, seg)
}

// dataLimit is the most bytes data-plane records may occupy:
// DataPlaneShare of what callers may use.
func (s *storage) dataLimit() int64 {
	return int64(s.share * float64(max(s.capacity-s.reserve, 0)))
}

// dataReserve is the last part of the data-plane share, kept for the
// "data-plane-dropped" records: an eighth of it, at most 16 KiB.
func (s *storage) dataReserve() int64 {
	return min(s.dataLimit()/8, 16<<10)
}

// fitsData reports whether a data-plane record of n bytes (on top of
// pendingData unwritten data-plane bytes) stays within the data-plane
// share; report: a "data-plane-dropped" record, which may use the share's
// reserve. The caller checks the log's own room (fits) too.
func (s *storage) fitsData(pendingData, n int64, report bool) bool {
	limit := s.dataLimit()
	if !report {
		limit -= s.dataReserve()
	}
	return s.dataUsed+pendingData+n <= limit
}

// noSpace notes that a write failed for lack of space.
func (s *storage) noSpace() {
	s.enospc, s.enospcAvail = true, s.avail()
}

func (s *storage) avail() int64 {
	if s.ignoreFS {
		return -1
	}
	return fsAvailable(s.dir)
}

func (s *storage) segmentBytes() int64 { return s.segBytes }

// refresh recomputes the capacity. It runs at every commit: one statfs
// call costs about a microsecond, far less than the fsync that follows.
func (s *storage) refresh() {
	c := s.maxBytes
	avail := s.avail()
	s.fsAvail, s.fsLimited = avail, false
	if avail >= 0 && s.used+avail < c {
		c, s.fsLimited = s.used+avail, true
	}
	if s.enospc {
		if avail > s.enospcAvail+s.reserve {
			s.enospc = false
		} else {
			c, s.fsLimited = min(c, s.used), true
		}
	}
	s.capacity = c
}

// Names of the limit that bounds the log (Stats.Limit).
const (
	LimitMaxSize    = "max_size"   // audit.max_size (Options.MaxBytes)
	LimitFilesystem = "filesystem" // the free space of the filesystem holding the log
)

func (s *storage) limit() string {
	if s.fsLimited {
		return LimitFilesystem
	}
	return LimitMaxSize
}

// room is what callers' records may still use (pending bytes not yet
// written are counted as used).
func (s *storage) room(pending int64) int64 {
	return max(s.capacity-s.reserve-s.used-pending, 0)
}

// warnRoom is the room left at which the storage warning is given: as much
// as is left at WarnPercent of MaxBytes. The same rule holds whichever
// limit comes first, so a filesystem that fills up before MaxBytes (a
// small partition, other writers) is warned about as early.
func (s *storage) warnRoom() int64 {
	return s.maxBytes * int64(100-s.warnPct) / 100
}

// fullReason says why callers' records are refused ("" when they are not).
func (s *storage) fullReason() string {
	if !s.full {
		return ""
	}
	if s.fsLimited {
		return fmt.Sprintf("the filesystem holding %s is full (%d bytes free, the log uses %d; audit.max_size %d not reached): free space on it, or archive and prune the log",
			s.dir, max(s.fsAvail, 0), s.used, s.maxBytes)
	}
	return fmt.Sprintf("audit.max_size reached (%d of %d bytes): archive and prune the log, or raise audit.max_size", s.used, s.maxBytes)
}

// warning says why the storage warning is active ("" when it is not).
func (s *storage) warning() string {
	if !s.warned {
		return ""
	}
	if s.fsLimited {
		return fmt.Sprintf("the filesystem holding %s is filling up: %d bytes left for the log before changes are refused", s.dir, s.room(0))
	}
	return fmt.Sprintf("the log is filling up: %d bytes left before audit.max_size", s.room(0))
}

// fits reports whether n more bytes (on top of pending unwritten bytes) may
// be written by a caller (internal=false) or by the log itself.
func (s *storage) fits(pending, n int64, internal bool) bool {
	limit := s.capacity
	if !internal {
		limit -= s.reserve
	}
	return s.used+pending+n <= limit
}

// percent is the fill level of the usable capacity.
func (s *storage) percent() int {
	if s.capacity <= 0 {
		return 100
	}
	return int(s.used * 100 / s.capacity)
}

func (s *storage) fullError() error {
	return &FullError{Used: s.used, Capacity: s.capacity, Dir: s.dir, Limit: s.limit()}
}

// countData counts the data-plane records already in the segments (at
// Open, after recovery): one pass over the frames, no JSON decoding.
// Damaged stretches are skipped; Verify reports them.
func (s *storage) countData() error {
	segs, err := listSegments(s.dir)
	if err != nil {
		return err
	}
	s.dataUsed, s.dataBySeg = 0, map[uint64]int64{}
	buf := make([]byte, scanWindow)
	for _, sg := range segs {
		f, sc, err := openSegment(sg.path, buf)
		if err != nil {
			continue
		}
		for {
			fr, err := sc.next()
			if err == io.EOF {
				break
			}
			var ce *corruptError
			if errors.As(err, &ce) {
				continue
			}
			if err != nil {
				break
			}
			if fr.kind == kindRecord && isDataPayload(fr.payload) {
				s.addData(sg.num, fr.size)
			}
		}
		f.Close()
	}
	return nil
}

// Categories and the action that count against the data-plane share, as
// they appear in an encoded payload. The record's own category field is
// the first `,"category":` of the payload (the fields before it are
// JSON strings, whose quotes are escaped).
var (
	categoryField    = []byte(`,"category":`)
	dataCategories   = [][]byte{[]byte(`"inspection"`), []byte(`"network"`), []byte(`"modbus"`)}
	dataDroppedField = []byte(`,"action":"` + string(ActionDataPlaneDropped) + `"`)
)

// isDataPayload reports whether an encoded record is a data-plane record.
func isDataPayload(p []byte) bool {
	i := bytes.Index(p, categoryField)
	if i < 0 {
		return false
	}
	rest := p[i+len(categoryField):]
	for _, c := range dataCategories {
		if bytes.HasPrefix(rest, c) {
			return true
		}
	}
	return bytes.HasPrefix(rest, []byte(`"audit"`)) && bytes.HasPrefix(rest[len(`"audit"`):], dataDroppedField)
}
