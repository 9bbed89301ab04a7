package audit

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"
)

// ErrUnavailable refuses a change while no audit record can be written at
// all: the log could not be opened.
var ErrUnavailable = errors.New("the audit log is unavailable, so changes are refused: see the daemon log for why it cannot be opened")

// Recorder is how the gateway's parts write their records, under one rule:
// a change whose record cannot be written is refused (Record, Writable),
// while something that happens anyway (a drift repair, an automatic
// rollback, a refused call) is recorded best effort and, when that fails,
// counted by the log and reported to the Logger. A Recorder without a log
// (SetLog(nil): the log could not be opened) refuses every change with
// ErrUnavailable, so the gateway keeps forwarding but changes nothing
// unaudited. It is safe for concurrent use.
type Recorder struct {
	logger Logger
	log    atomic.Pointer[Log]
}

// NewRecorder returns a Recorder without a log; logger (nil: none) hears
// of lost records.
func NewRecorder(logger Logger) *Recorder {
	if logger == nil {
		logger = nopLogger{}
	}
	return &Recorder{logger: logger}
}

// SetLog makes l the log records go to; nil: none (unavailable).
func (r *Recorder) SetLog(l *Log) { r.log.Store(l) }

// Log is the log records go to; nil while there is none.
func (r *Recorder) Log() *Log { return r.log.Load() }

// Record writes rec durably; the change it records must be refused when it
// fails.
func (r *Recorder) Record(ctx context.Context, rec Record) error {
	l := r.Log()
	if l == nil {
		return ErrUnavailable
	}
	if _, err := l.Append(ctx, rec); err != nil {
		return fmt.Errorf("audit record not written, so the change is refused: %w", err)
	}
	return nil
}

// RecordBestEffort writes a record of something that happens anyway with
// AppendBestEffort: a record that cannot be written is counted in the
// log's LostBestEffort and its next "lost" record, and logged.
func (r *Recorder) RecordBestEffort(rec Record) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := ErrUnavailable
	if l := r.Log(); l != nil {
		_, err = l.AppendBestEffort(ctx, rec)
	}
	if err != nil {
		r.logger.Errorw("audit record lost", "action", string(rec.Action), "error", err)
	}
}

// Writable refuses a change early when its record could not be written
// anyway (no log, or the log is full).
func (r *Recorder) Writable() error {
	l := r.Log()
	if l == nil {
		return ErrUnavailable
	}
	if l.Stats().Full {
		return fmt.Errorf("the audit log is full, so changes are refused: %w", ErrFull)
	}
	return nil
}
