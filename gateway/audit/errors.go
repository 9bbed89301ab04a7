package audit

import (
	"errors"
	"fmt"
)

// Errors returned by the log. Test with errors.Is: the returned errors wrap
// these with details of what happened and what to do.
var (
	// ErrFull means the log has reached its size limit (or the filesystem
	// is full). Configuration and account changes must be refused until
	// space is freed; data-plane records are counted as lost meanwhile.
	ErrFull = errors.New("audit log full")
	// ErrSecret means a record carried a detail key that names a secret
	// (password, hash, token, key material) or a value that looks like one.
	// This is a programming error in the caller.
	ErrSecret = errors.New("audit record would store a secret")
	// ErrInvalid means a record is malformed (missing category or action,
	// bad detail key, too large).
	ErrInvalid = errors.New("invalid audit record")
	// ErrClosed means the log was closed.
	ErrClosed = errors.New("audit log closed")
	// ErrWrite means the record could not be made durable (I/O error).
	ErrWrite = errors.New("audit log write failed")
	// ErrLocked means another process holds the log directory.
	ErrLocked = errors.New("audit log directory in use")
	// ErrKeyMissing means the log has segments but a key file is gone.
	ErrKeyMissing = errors.New("audit key missing")
)

// FullError is the error returned by Append while the log is full. It wraps
// ErrFull and its message tells the operator what to do.
type FullError struct {
	Used, Capacity int64
	Dir            string
	// Limit is LimitFilesystem when the filesystem ran out of room before
	// audit.max_size was reached, else LimitMaxSize.
	Limit string
}

// Error says how full the log is and what to do.
func (e *FullError) Error() string {
	if e.Limit == LimitFilesystem {
		return fmt.Sprintf("audit log full: the filesystem holding %s has no room left (the log uses %d bytes, below its size limit): "+
			"configuration and account changes are refused until space is freed; free space on that filesystem, or archive the log "+
			"(syslog export or a copy of the directory) and run `zonegate audit prune %s --segments N`", e.Dir, e.Used, e.Dir)
	}
	return fmt.Sprintf("audit log full (%d of %d bytes usable in %s): configuration and account changes are refused "+
		"until space is freed; archive the log (syslog export or a copy of the directory), then run "+
		"`zonegate audit prune %s --segments N` or raise the audit size limit", e.Used, e.Capacity, e.Dir, e.Dir)
}

// Unwrap returns ErrFull.
func (e *FullError) Unwrap() error { return ErrFull }
