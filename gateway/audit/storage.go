package audit

import "errors"

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

	warned bool // a storage-warning was written for the current fill level
	full   bool // callers' records are being refused

	// After a write failed with ENOSPC although statfs promised room
	// (quotas, reserved blocks), the capacity stays capped at the bytes
	// used until the filesystem reports more room than it did then.
	enospc      bool
	enospcAvail int64

	ignoreFS bool // tests: pretend statfs is unavailable
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
	if avail >= 0 && s.used+avail < c {
		c = s.used + avail
	}
	if s.enospc {
		if avail > s.enospcAvail+s.reserve {
			s.enospc = false
		} else {
			c = min(c, s.used)
		}
	}
	s.capacity = c
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
	return &FullError{Used: s.used, Capacity: s.capacity, Dir: s.dir}
}
