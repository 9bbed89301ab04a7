package audit

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
)

// Log is an open audit log. Its methods are safe for concurrent use.
//
// One writer goroutine owns the files. Append hands it a record and waits
// until the record is on disk (fsync); Enqueue hands it a data-plane record
// without waiting. The writer group-commits whatever is queued: one write and
// one fsync for many records.
type Log struct {
	opts Options
	lock *os.File
	w    *writer
	st   *storage
	c    *committer

	reqs    chan *appendReq
	data    chan Record
	ctrl    chan func()
	closing chan struct{}
	done    chan struct{}

	mu     sync.RWMutex // guards closed against sends on the channels
	closed bool

	lost    atomic.Uint64 // data-plane records lost since the last lost record
	lostAll atomic.Uint64 // data-plane records lost since Open
	// Best-effort records (AppendBestEffort, the log's own notices) that
	// could not be written: since the last lost record, and since Open.
	lostBE    atomic.Uint64
	lostBEAll atomic.Uint64
	// Data-plane records dropped beyond the data-plane share: since the
	// last data-plane-dropped record, and since Open; bytes of data-plane
	// records written since Open.
	dpDropped    atomic.Uint64
	dpDroppedAll atomic.Uint64
	durable      atomic.Uint64

	statsMu sync.Mutex
	stats   Stats

	subsMu sync.Mutex
	subs   map[chan struct{}]struct{}

	closeErr error
}

type appendReq struct {
	rec  Record
	seq  uint64
	err  error
	done chan struct{}
}

// Stats is a snapshot of the log's state.
type Stats struct {
	Seq      uint64 // last durable sequence number
	Segment  uint64 // current segment number
	Used     int64  // bytes in segment files
	Capacity int64  // usable bytes (MaxBytes or less if the filesystem is smaller)
	Percent  int    // Used/Capacity in percent
	Full     bool   // configuration changes are being refused
	// FullReason says why (which limit, how much, what to do) while Full.
	FullReason string
	// Limit is the limit that bounds the log now: LimitMaxSize, or
	// LimitFilesystem when the filesystem has less free space than
	// audit.max_size still allows.
	Limit string
	// Room is how many more bytes callers' records may use before they are
	// refused, under whichever limit comes first.
	Room int64
	// StorageWarning is set while the storage warning is active (room left
	// at or below what WarnPercent of MaxBytes leaves), saying which limit.
	StorageWarning string
	Lost           uint64 // data-plane records lost since Open (queue or storage full, log closed)
	// LostBestEffort counts best-effort records that could not be written
	// since Open: AppendBestEffort calls that failed (service stop at
	// shutdown, refused-call records) and the log's own notices
	// (storage-warning, storage-full, storage-ok) that found no room.
	// Lost + LostBestEffort is every record lost.
	LostBestEffort uint64
	// DataPlaneDropped counts data-plane records dropped since Open
	// because the log reached its data-plane share (audit.data_plane_share
	// of the capacity); they are not in Lost.
	DataPlaneDropped uint64
	// DataPlaneUsed is the bytes of data-plane records in the segments
	// (counted at Open, less what Prune removes).
	DataPlaneUsed int64
	// DataPlaneLimit is the most bytes data-plane records may occupy:
	// audit.data_plane_share of the capacity less the reserve.
	DataPlaneLimit int64
	QueueLen       int    // data-plane records waiting
	Checkpoint     uint64 // sequence number covered by the latest signed checkpoint
}

// Open opens or creates the audit log in opts.Dir. At first start it creates
// the directory and the keys. After an unclean shutdown it trims a torn tail
// and writes a "recovered" record; if it finds corruption in the middle it
// keeps the damaged segment, writes a "failure" record and continues in a
// new segment.
func Open(opts Options) (*Log, error) {
	if err := opts.setDefaults(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(opts.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("audit: create %s: %w", opts.Dir, err)
	}
	lock, err := os.OpenFile(filepath.Join(opts.Dir, "lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	if err := lockFile(lock); err != nil {
		lock.Close()
		return nil, fmt.Errorf("%w: %s is open in another process (is zonegate running?): %v", ErrLocked, opts.Dir, err)
	}
	l, err := open(opts, lock)
	if err != nil {
		lock.Close()
		return nil, err
	}
	return l, nil
}

func open(opts Options, lock *os.File) (*Log, error) {
	segs, err := listSegments(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	keys, err := loadOrCreateKeys(opts.KeyDir, len(segs) == 0)
	if err != nil {
		return nil, err
	}
	st := &storage{dir: opts.Dir, maxBytes: opts.MaxBytes, reserve: opts.Reserve, warnPct: opts.WarnPercent, segBytes: opts.SegmentBytes, share: opts.DataPlaneShare}
	w := &writer{dir: opts.Dir, gateway: opts.Gateway, bootID: opts.BootID, keys: keys, ch: newChainer(keys.hmac), st: st}
	ss, err := recoverLog(w)
	if err != nil {
		return nil, err
	}
	st.refresh()
	if err := st.countData(); err != nil {
		w.close()
		return nil, fmt.Errorf("audit: %w", err)
	}
	if err := writeStartRecords(w, ss, &opts); err != nil {
		w.close()
		if isNoSpace(err) || errors.Is(err, ErrFull) {
			return nil, fmt.Errorf("audit: cannot start the log in %s: %w; free space on the filesystem", opts.Dir, err)
		}
		return nil, fmt.Errorf("audit: %w", err)
	}
	l := &Log{
		opts: opts, lock: lock, w: w, st: st,
		reqs:    make(chan *appendReq, 64),
		data:    make(chan Record, opts.QueueSize),
		ctrl:    make(chan func()),
		closing: make(chan struct{}),
		done:    make(chan struct{}),
		subs:    map[chan struct{}]struct{}{},
	}
	l.durable.Store(w.durSeq)
	if cp, _ := readStatement(filepath.Join(opts.Dir, checkpointFile)); cp != nil {
		l.stats.Checkpoint = cp.Seq
	}
	l.c = newCommitter(l)
	l.updateStats(l.c)
	go l.c.run()
	return l, nil
}

// Dir returns the log's state directory.
func (l *Log) Dir() string { return l.opts.Dir }

// Append writes r and returns once it is durable (written and fsynced).
// Use it for account, configuration and service events: if it returns an
// error, the change must be refused. It returns an error wrapping ErrFull
// when the log is full, ErrSecret or ErrInvalid for bad records, ErrClosed
// after Close, ErrWrite for I/O errors.
//
// ctx bounds the wait for a place in the write queue; once the writer has
// the record, Append waits for the outcome so that a written record is never
// reported as refused.
func (l *Log) Append(ctx context.Context, r Record) (uint64, error) {
	if r.Time.IsZero() {
		r.Time = l.opts.Now()
	}
	if err := validate(&r); err != nil {
		return 0, err
	}
	r.Details = maps.Clone(r.Details)
	req := &appendReq{rec: r, done: make(chan struct{})}
	l.mu.RLock()
	if l.closed {
		l.mu.RUnlock()
		return 0, ErrClosed
	}
	select {
	case l.reqs <- req:
	case <-ctx.Done():
		l.mu.RUnlock()
		return 0, ctx.Err()
	}
	l.mu.RUnlock()
	<-req.done
	return req.seq, req.err
}

// Enqueue queues a data-plane record (Modbus writes and denials) without
// blocking. It returns false if the queue is full or the log closed; the
// record is then counted as lost and a later "lost" record says how many.
// Queued records are written within CommitDelay plus one fsync. Enqueue
// takes ownership of r.Details: do not modify the map afterwards. Details
// that look like secrets are redacted rather than refused.
func (l *Log) Enqueue(r Record) bool {
	if r.Time.IsZero() {
		r.Time = l.opts.Now()
	}
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		l.lostRecords(1)
		return false
	}
	if l.opts.blockingEnqueue {
		l.data <- r
		return true
	}
	select {
	case l.data <- r:
		return true
	default:
		l.lostRecords(1)
		return false
	}
}

// AppendBestEffort is Append for records whose loss must not stop
// anything (service stop at shutdown, records of refused calls): it
// returns Append's result, and when the record could not be written it
// counts it in Stats.LostBestEffort and in the next "lost" record (detail
// "best_effort"), which is written as soon as there is room again, at the
// latest by Close from the reserve. Log the error too.
func (l *Log) AppendBestEffort(ctx context.Context, r Record) (uint64, error) {
	seq, err := l.Append(ctx, r)
	if err != nil {
		l.lostBestEffort(1)
	}
	return seq, err
}

func (l *Log) lostBestEffort(n uint64) {
	l.lostBE.Add(n)
	l.lostBEAll.Add(n)
}

func (l *Log) droppedData(n uint64) {
	l.dpDropped.Add(n)
	l.dpDroppedAll.Add(n)
}

func (l *Log) lostRecords(n uint64) {
	l.lost.Add(n)
	l.lostAll.Add(n)
}

// Flush waits until every record enqueued before the call is durable.
func (l *Log) Flush(ctx context.Context) error {
	return l.control(ctx, func() {})
}

// control runs fn on the writer goroutine after committing what is queued.
func (l *Log) control(ctx context.Context, fn func()) error {
	done := make(chan struct{})
	l.mu.RLock()
	if l.closed {
		l.mu.RUnlock()
		return ErrClosed
	}
	select {
	case l.ctrl <- func() { fn(); close(done) }:
	case <-ctx.Done():
		l.mu.RUnlock()
		return ctx.Err()
	}
	l.mu.RUnlock()
	<-done
	return nil
}

// Stats returns a snapshot of the log's state.
func (l *Log) Stats() Stats {
	l.statsMu.Lock()
	s := l.stats
	l.statsMu.Unlock()
	s.Lost = l.lostAll.Load()
	s.LostBestEffort = l.lostBEAll.Load()
	s.DataPlaneDropped = l.dpDroppedAll.Load()
	s.QueueLen = len(l.data)
	return s
}

// DurableSeq is the highest sequence number known to be on disk.
func (l *Log) DurableSeq() uint64 { return l.durable.Load() }

// subscribe returns a channel that receives a signal after each commit.
func (l *Log) subscribe() (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	l.subsMu.Lock()
	l.subs[ch] = struct{}{}
	l.subsMu.Unlock()
	return ch, func() {
		l.subsMu.Lock()
		delete(l.subs, ch)
		l.subsMu.Unlock()
	}
}

func (l *Log) notify(seq uint64) {
	l.durable.Store(seq)
	l.subsMu.Lock()
	for ch := range l.subs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	l.subsMu.Unlock()
	if l.opts.OnCommit != nil {
		l.opts.OnCommit(seq)
	}
}

// Close writes what is queued, a "lost" record if records were lost, and a
// final signed checkpoint, then closes the files and releases the directory.
func (l *Log) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	l.mu.Unlock()
	close(l.closing)
	<-l.done
	if err := l.lock.Close(); err != nil && l.closeErr == nil {
		l.closeErr = err
	}
	return l.closeErr
}
