package audit

import (
	"context"
	"crypto/tls"
	"fmt"
	"sync"
	"time"
)

// ExportStats describe the syslog export.
type ExportStats struct {
	Cursor     uint64 // last sequence number delivered
	Delivered  uint64 // records delivered since the exporter started
	Connects   uint64 // successful connections
	Resent     uint64 // records sent again after a connection failure
	Gaps       uint64 // records that could not be exported (pruned or damaged)
	Connected  bool
	LastError  string
	LastChange time.Time
}

// Exporter sends every record of a Log to a syslog collector, in order,
// resuming after outages from a cursor persisted in Settings.CursorFile.
//
// Plain syslog over TCP or TLS has no application-level acknowledgement,
// so the exporter sends a batch, waits until the collector's TCP stack has
// acknowledged every byte of it (SIOCOUTQ), and counts the batch as
// delivered only if the connection then stays open for ConfirmDelay, or,
// over plain TCP, the collector closes it with a FIN (Linux sends a reset
// instead when the collector had not read everything). Otherwise the batch
// is sent again on the next connection, from the cursor. Consequences:
//
//   - No record is skipped, provided the collector reads what its TCP stack
//     acknowledged within ConfirmDelay (a collector that stops reading but
//     keeps accepting data for longer can lose it; no sender can tell).
//   - If the collector goes away while a batch is waiting for confirmation,
//     and the close does not prove the batch was read (any close over TLS,
//     a reset over TCP), that batch is sent again and may arrive twice.
//     Every message carries its sequence number and chain hash, so the
//     receiving side can drop duplicates.
//   - Otherwise (the usual case at audit rates: the exporter idles between
//     batches) every record arrives exactly once.
//
// Throughput is at most BatchRecords per ConfirmDelay (about 1700 records/s
// with the defaults) while a backlog is being sent.
type Exporter struct {
	l   *Log
	s   SyslogSettings
	tc  *tls.Config
	log Logger
	fmt *syslogFormatter

	tail *tail
	cur  cursor
	buf  []byte

	mu    sync.Mutex
	stats ExportStats
}

// NewExporter prepares an export of l with settings s. Start it with Run.
func NewExporter(l *Log, s SyslogSettings, logger Logger) (*Exporter, error) {
	s, err := s.withDefaults(l.Dir(), l.opts.Gateway)
	if err != nil {
		return nil, err
	}
	if logger == nil {
		logger = nopLogger{}
	}
	e := &Exporter{l: l, s: s, log: collectorLogger{logger, s.Address}, fmt: newSyslogFormatter(&s)}
	if s.Transport == "tls" {
		if e.tc, err = s.tlsConfig(); err != nil {
			return nil, err
		}
	}
	if e.cur, err = readCursor(s.CursorFile); err != nil {
		return nil, fmt.Errorf("syslog export: %w (delete the cursor file to export the whole log again)", err)
	}
	e.stats.Cursor = e.cur.Seq
	return e, nil
}

// Stats returns a snapshot of the export state.
func (e *Exporter) Stats() ExportStats {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.stats
}

func (e *Exporter) update(f func(*ExportStats)) {
	e.mu.Lock()
	f(&e.stats)
	e.stats.LastChange = time.Now()
	e.mu.Unlock()
}

// Run exports until ctx is cancelled, reconnecting with exponential backoff
// after failures. It returns nil when ctx ends.
func (e *Exporter) Run(ctx context.Context) error {
	wake, unsub := e.l.subscribe()
	defer unsub()
	e.checkCursor()
	defer func() {
		if e.tail != nil {
			e.tail.close()
		}
	}()
	backoff := e.s.MinBackoff
	for ctx.Err() == nil {
		cc, err := dialCollector(ctx, &e.s, e.tc)
		if err != nil {
			e.failed(err, false)
		} else {
			e.update(func(s *ExportStats) { s.Connects++; s.Connected = true })
			e.log.Infow("audit: connected to syslog collector", "resume_after", e.cur.Seq)
			delivered, err := e.stream(ctx, cc, wake)
			cc.Close()
			e.update(func(s *ExportStats) { s.Connected = false })
			if ctx.Err() != nil {
				return nil
			}
			e.failed(err, true)
			if delivered {
				backoff = e.s.MinBackoff
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, e.s.MaxBackoff)
	}
	return nil
}

func (e *Exporter) failed(err error, wasConnected bool) {
	if err == nil {
		return
	}
	msg := "audit: syslog collector unreachable; records wait in the log and are sent after reconnecting"
	if wasConnected {
		msg = "audit: syslog connection lost; resending from the last delivered record after reconnecting"
	}
	e.log.Warnw(msg, "error", err, "cursor", e.cur.Seq)
	e.update(func(s *ExportStats) { s.LastError = err.Error() })
}

// checkCursor makes sure the cursor belongs to this log.
func (e *Exporter) checkCursor() {
	if e.cur.Seq == 0 {
		return
	}
	t := newTail(e.l.Dir(), e.cur.Seq)
	defer t.close()
	first, err := t.position()
	if err != nil || first > e.cur.Seq {
		return // pruned: the cursor cannot be checked, go on after it
	}
	fr, ok, err := t.frame(e.cur.Seq)
	if err == nil && ok && fr.seq == e.cur.Seq && fr.hash == e.cur.Hash {
		return
	}
	e.log.Warnw("audit: the syslog cursor does not match this log (was the log re-created?); exporting the whole log again",
		"cursor", e.cur.Seq)
	e.cur = cursor{}
}

const maxBatchBytes = 512 << 10

// stream sends batches on cc until it fails or ctx ends. It reports
// whether at least one batch was delivered.
func (e *Exporter) stream(ctx context.Context, cc *collectorConn, wake <-chan struct{}) (bool, error) {
	e.rewind()
	delivered := false
	for {
		n, last, err := e.fill()
		if err != nil {
			return delivered, err
		}
		if n == 0 {
			select {
			case <-ctx.Done():
				return delivered, nil
			case <-cc.done:
				return delivered, cc.closeErr()
			case <-wake:
			case <-time.After(time.Second):
			}
			continue
		}
		cc.c.SetWriteDeadline(time.Now().Add(e.s.Timeout))
		if _, err := cc.c.Write(e.buf); err != nil {
			e.lostBatch(n)
			return delivered, err
		}
		if err := cc.waitAcked(context.WithoutCancel(ctx), e.s.Timeout); err != nil {
			e.lostBatch(n)
			return delivered, err
		}
		select {
		case <-time.After(e.s.ConfirmDelay):
		case <-ctx.Done():
		case <-cc.done:
			if !cc.closedCleanly() {
				e.lostBatch(n)
				return delivered, cc.closeErr()
			}
		}
		if err := e.advance(last, n); err != nil {
			return delivered, err
		}
		delivered = true
		if cc.closedCleanly() {
			return delivered, cc.closeErr()
		}
		if ctx.Err() != nil {
			return delivered, nil
		}
	}
}

// rewind positions the reader just after the cursor.
func (e *Exporter) rewind() {
	if e.tail != nil {
		e.tail.close()
	}
	e.tail = newTail(e.l.Dir(), e.cur.Seq+1)
}

// fill formats the next batch of durable records into e.buf.
func (e *Exporter) fill() (int, cursor, error) {
	e.buf = e.buf[:0]
	var last cursor
	n := 0
	upTo := e.l.DurableSeq()
	for n < e.s.BatchRecords && len(e.buf) < maxBatchBytes {
		fr, ok, err := e.tail.frame(upTo)
		if err != nil {
			return 0, last, err
		}
		if !ok {
			break
		}
		if fr.seq > e.tail.next {
			gap := fr.seq - e.tail.next
			e.log.Warnw("audit: records could not be exported (pruned or damaged before delivery)",
				"from", e.tail.next, "to", fr.seq-1)
			e.update(func(s *ExportStats) { s.Gaps += gap })
		}
		e.tail.next = fr.seq + 1
		ent, err := decodePayload(fr.payload, fr.seq, fr.hash)
		if err != nil {
			e.update(func(s *ExportStats) { s.Gaps++ })
			continue
		}
		e.buf = e.fmt.appendFrame(e.buf, &ent)
		last = cursor{Seq: fr.seq, Hash: fr.hash}
		n++
	}
	return n, last, nil
}

func (e *Exporter) lostBatch(n int) {
	e.update(func(s *ExportStats) { s.Resent += uint64(n) })
}

// advance persists the cursor after a delivered batch.
func (e *Exporter) advance(c cursor, n int) error {
	if err := writeCursor(e.s.CursorFile, c); err != nil {
		return fmt.Errorf("write cursor %s: %w", e.s.CursorFile, err)
	}
	e.cur = c
	e.update(func(s *ExportStats) { s.Cursor = c.Seq; s.Delivered += uint64(n); s.LastError = "" })
	return nil
}
