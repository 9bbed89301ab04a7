package audit

import (
	"fmt"
	"path/filepath"
	"strconv"
	"time"
)

// Batch limits of one group commit.
const (
	maxBatchReqs = 256
	maxBatchData = 1024
	lostInterval = time.Second // at most one "lost" record per second
)

// committer is the single goroutine that writes the log.
type committer struct {
	l   *Log
	w   *writer
	st  *storage
	o   *Options
	log Logger

	reqs []*appendReq // batch being collected
	data []Record

	acks        []*appendReq // in w.buf, waiting for the flush
	refused     []*appendReq // answered at the end of the commit
	bufData     uint64       // data-plane records in w.buf
	lostPending uint64       // count carried by a "lost" record in w.buf
	lostBEPend  uint64       // best-effort count carried by that record

	sinceCP  int // records since the last signed checkpoint
	lastCP   time.Time
	lastLost time.Time

	dpPending  uint64 // count carried by a data-plane-dropped record in w.buf
	bufDataLen int64  // bytes of data-plane records in w.buf
	lastDrop   time.Time
}

func newCommitter(l *Log) *committer {
	return &committer{l: l, w: l.w, st: l.st, o: &l.opts, log: l.opts.Logger, lastCP: l.opts.Now(), sinceCP: 1}
}

func (c *committer) run() {
	defer close(c.l.done)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	tick := c.o.CheckpointInterval / 4
	tick = min(max(tick, 100*time.Millisecond), 30*time.Second)
	ticker := time.NewTicker(tick)
	defer ticker.Stop()
	for {
		select {
		case r := <-c.l.reqs:
			c.reqs = append(c.reqs, r)
			c.drain()
			c.commit()
			timer.Stop()
		case rec := <-c.l.data:
			c.data = append(c.data, rec)
			if len(c.data) == 1 {
				timer.Reset(c.o.CommitDelay)
			}
			if len(c.data) >= maxBatchData {
				c.commit()
				timer.Stop()
			}
		case <-timer.C:
			c.drain()
			c.commit()
		case fn := <-c.l.ctrl:
			c.drainAll()
			timer.Stop()
			fn()
		case <-ticker.C:
			now := c.o.Now()
			c.checkStorage(now)
			if c.sinceCP > 0 && now.Sub(c.lastCP) >= c.o.CheckpointInterval {
				c.commit()
				c.checkpoint(now, "interval")
				c.l.updateStats(c)
			}
		case <-c.l.closing:
			c.finish()
			return
		}
	}
}

// drain takes what is already queued, without waiting, up to a batch.
func (c *committer) drain() {
	for len(c.reqs) < maxBatchReqs {
		select {
		case r := <-c.l.reqs:
			c.reqs = append(c.reqs, r)
			continue
		default:
		}
		break
	}
	for len(c.data) < maxBatchData {
		select {
		case r := <-c.l.data:
			c.data = append(c.data, r)
			continue
		default:
		}
		break
	}
}

// drainAll commits everything queued at the time of the call (after Close,
// everything: nothing can be added any more).
func (c *committer) drainAll() {
	rounds := len(c.l.data)/maxBatchData + len(c.l.reqs)/maxBatchReqs + 2
	for range rounds {
		c.drain()
		c.commit()
	}
}

// commit writes the collected batch with one write and one fsync.
func (c *committer) commit() {
	now := c.o.Now()
	if len(c.reqs) == 0 && len(c.data) == 0 && (c.l.lost.Load()+c.l.lostBE.Load() == 0 || c.st.full) {
		return
	}
	c.st.refresh()
	c.checkSpaceBack(now)
	c.checkWarning(now) // before any refusal: the warning comes first
	c.maybeLost(now, false)
	for _, r := range c.reqs {
		n := c.w.encode(&r.rec)
		if n-frameOverhead > MaxPayloadBytes {
			c.finishReq(r, fmt.Errorf("%w: record is %d bytes encoded, at most %d; shorten the diff summary", ErrInvalid, n-frameOverhead, MaxPayloadBytes))
			continue
		}
		if !c.st.fits(int64(len(c.w.buf)), n, false) {
			c.enterFull(now)
			r.err = c.st.fullError()
			c.refused = append(c.refused, r)
			continue
		}
		if c.w.needRotate(n) {
			c.rotate(now)
			c.w.encode(&r.rec) // again: rotating reused the payload buffer
		}
		r.seq = c.w.push(kindRecord)
		c.acks = append(c.acks, r)
	}
	for i := range c.data {
		rec := sanitize(c.data[i])
		fitData(&rec, func(r *Record) int { return int(c.w.encode(r) - frameOverhead) })
		n := c.w.encode(&rec)
		if !c.st.fits(int64(len(c.w.buf)), n, false) {
			c.enterFull(now) // the management plane's own volume filled the log
			c.l.lostRecords(1)
			continue
		}
		if !c.st.fitsData(c.bufDataLen, n, false) {
			// Beyond the data-plane share: dropped and counted, never
			// filling the room of configuration and account changes.
			c.l.droppedData(1)
			continue
		}
		if c.w.needRotate(n) {
			c.rotate(now)
			n = c.w.encode(&rec)
		}
		c.w.push(kindRecord)
		c.bufData++
		c.bufDataLen += n
	}
	c.maybeDropped(now)
	c.checkWarning(now)
	c.flush()
	if c.sinceCP >= c.o.CheckpointEvery {
		c.checkpoint(now, "interval")
	}
	c.l.updateStats(c)
	// Refusals are answered last, once the storage-full record is on disk.
	for _, r := range c.refused {
		close(r.done)
	}
	clear(c.refused)
	clear(c.reqs)
	clear(c.data)
	c.reqs, c.data, c.refused = c.reqs[:0], c.data[:0], c.refused[:0]
}

func (c *committer) finishReq(r *appendReq, err error) {
	r.err = err
	close(r.done)
}

// flush makes w.buf durable and answers the waiting Append calls.
func (c *committer) flush() error {
	n := c.w.pending
	err := c.w.flush()
	if err != nil {
		var e error
		if isNoSpace(err) {
			c.st.noSpace()
			c.st.refresh()
			c.enterFull(c.o.Now())
			e = c.st.fullError()
		} else {
			e = fmt.Errorf("%w: %v: the change is refused; check the storage (kernel log), then restart zonegate", ErrWrite, err)
			c.log.Errorw("audit: write failed", "error", err)
		}
		for _, a := range c.acks {
			c.finishReq(a, e)
		}
		c.l.lostRecords(c.bufData)
		c.l.lost.Add(c.lostPending)
		c.l.lostBE.Add(c.lostBEPend)
		c.l.dpDropped.Add(c.dpPending)
	} else {
		c.l.updateStats(c) // before answering, so callers see their own effect
		for _, a := range c.acks {
			close(a.done)
		}
		c.sinceCP += n
		if n > 0 {
			c.l.notify(c.w.durSeq)
		}
	}
	if err == nil && c.bufDataLen > 0 {
		c.st.addData(c.w.seg, c.bufDataLen) // flushed before any rotation
	}
	clear(c.acks)
	c.acks, c.bufData, c.lostPending, c.lostBEPend = c.acks[:0], 0, 0, 0
	c.dpPending, c.bufDataLen = 0, 0
	return err
}

// checkpoint signs the current head and publishes checkpoint.json.
func (c *committer) checkpoint(now time.Time, reason string) {
	s, ok := c.w.checkpoint(now, reason)
	if c.flush() != nil || !ok {
		return
	}
	c.sinceCP, c.lastCP = 0, now
	if err := writeStatement(filepath.Join(c.w.dir, checkpointFile), s); err != nil {
		c.log.Warnw("audit: could not update checkpoint.json", "error", err)
		return
	}
	c.l.statsMu.Lock()
	c.l.stats.Checkpoint = s.Seq
	c.l.statsMu.Unlock()
}

// rotate closes the current segment with a checkpoint and starts the next.
// On failure the log stays in the current segment.
func (c *committer) rotate(now time.Time) {
	c.checkpoint(now, "rotation")
	if len(c.w.buf) > 0 {
		return // the flush failed; stay put
	}
	if err := c.w.startSegment(c.w.seg+1, "size", now); err != nil {
		c.log.Errorw("audit: could not start a new segment; continuing in the current one", "error", err)
		return
	}
	c.sinceCP++
	c.l.notify(c.w.durSeq)
}

// enterFull switches to refusing callers' records and says so once.
func (c *committer) enterFull(now time.Time) {
	if c.st.full {
		return
	}
	c.st.full = true
	c.log.Errorw("audit log full: configuration and account changes are refused and data-plane records are lost until space is freed",
		"used", c.st.used, "capacity", c.st.capacity, "dir", c.st.dir)
	c.addNotice(c.w.internal(now, ActionStorageFull, "log", ResultFailure, map[string]string{
		"used": strconv.FormatInt(c.st.used, 10), "capacity": strconv.FormatInt(c.st.capacity, 10),
		DetailReason: "configuration changes are refused until space is freed",
	}))
}

// checkSpaceBack leaves the full state once there is room again.
func (c *committer) checkSpaceBack(now time.Time) {
	if !c.st.full || !c.st.fits(int64(len(c.w.buf)), 4*MaxPayloadBytes, false) {
		return
	}
	c.st.full = false
	c.log.Infow("audit log has space again; configuration changes are accepted", "used", c.st.used, "capacity", c.st.capacity)
	c.addNotice(c.w.internal(now, ActionStorageOK, "log", ResultSuccess, map[string]string{
		"used": strconv.FormatInt(c.st.used, 10), "capacity": strconv.FormatInt(c.st.capacity, 10),
	}))
	c.maybeLost(now, true)
}

// maybeLost writes a "lost" record for data-plane records that were
// dropped, at most once per second (force: now, even from the reserve).
//
// DetailCount counts data-plane records; "best_effort" (only when not zero)
// counts best-effort records (AppendBestEffort, the log's own notices).
func (c *committer) maybeLost(now time.Time, force bool) {
	n, m := c.l.lost.Load(), c.l.lostBE.Load()
	if n+m == 0 || c.lostPending+c.lostBEPend > 0 || (!force && (c.st.full || now.Sub(c.lastLost) < lostInterval)) {
		return
	}
	object, d := "data-plane records", map[string]string{
		DetailCount:  strconv.FormatUint(n, 10),
		DetailReason: "queue or storage full",
	}
	if m > 0 {
		object = "records"
		d["best_effort"] = strconv.FormatUint(m, 10)
		d[DetailReason] = "queue or storage full, or log closed"
	}
	if c.w.add(kindRecord, c.w.internal(now, ActionLost, object, ResultFailure, d)) == 0 {
		return
	}
	c.l.lost.Add(-n)
	c.l.lostBE.Add(-m)
	c.lostPending, c.lostBEPend = n, m
	c.lastLost = now
	c.log.Warnw("audit: records lost", "data_plane", n, "best_effort", m)
}

// maybeDropped writes a "data-plane-dropped" record saying how many
// data-plane records were dropped beyond the data-plane share, at most once
// per DataPlaneReport, from the share's reserve. Without room even there
// the count waits (it stays in Stats.DataPlaneDropped).
func (c *committer) maybeDropped(now time.Time) {
	n := c.l.dpDropped.Load()
	if n == 0 || c.dpPending > 0 || now.Sub(c.lastDrop) < c.o.DataPlaneReport {
		return
	}
	r := c.w.internal(now, ActionDataPlaneDropped, "data-plane records", ResultFailure, map[string]string{
		DetailCount:  strconv.FormatUint(n, 10),
		"limit":      strconv.FormatInt(c.st.dataLimit(), 10),
		DetailReason: "the log reached audit.data_plane_share; configuration and account changes keep their room",
	})
	size := c.w.encode(&r)
	if !c.st.fitsData(c.bufDataLen, size, true) {
		return // no room even in the share's reserve: the count waits
	}
	if c.w.add(kindRecord, r) == 0 {
		return
	}
	c.bufDataLen += size
	c.l.dpDropped.Add(-n)
	c.dpPending = n
	c.lastDrop = now
	c.log.Warnw("audit: data-plane records dropped beyond the data-plane share", "count", n, "limit", c.st.dataLimit())
}

// addNotice writes one of the log's own notices; if even the reserve has
// no room for it, it is counted as a lost best-effort record.
func (c *committer) addNotice(r Record) {
	if c.w.add(kindRecord, r) == 0 {
		c.l.lostBestEffort(1)
	}
}

// checkWarning writes a storage-warning record when the fill level crosses
// WarnPercent, and re-arms when it falls 5 points below.
//
// The warning is given when the room left for callers' records is no more
// than it is at WarnPercent of MaxBytes, whichever limit is nearer: MaxBytes
// or the free space of the filesystem (details "limit": max_size or
// filesystem). It re-arms when the room grows by 5% of MaxBytes.
func (c *committer) checkWarning(now time.Time) {
	if c.st.capacity <= 0 {
		return
	}
	pending := int64(len(c.w.buf))
	room, warnRoom := c.st.room(pending), c.st.warnRoom()
	if c.st.warned {
		if room > warnRoom+c.st.maxBytes*5/100 {
			c.st.warned = false
		}
		return
	}
	if room > warnRoom {
		return
	}
	c.st.warned = true
	pct := int((c.st.used + pending) * 100 / c.st.capacity)
	msg := "audit log is filling up; archive and prune it before it is full, or configuration changes will be refused"
	if c.st.fsLimited {
		msg = "audit log is filling up: the filesystem holding it is running out of space before the audit size limit; " +
			"free space on it, or archive and prune the log, before configuration changes are refused"
	}
	c.log.Warnw(msg, "percent", pct, "used", c.st.used, "capacity", c.st.capacity,
		"room", room, "limit", c.st.limit())
	c.addNotice(c.w.internal(now, ActionStorageWarning, "log", ResultSuccess, map[string]string{
		"percent": strconv.Itoa(pct), "used": strconv.FormatInt(c.st.used, 10), "capacity": strconv.FormatInt(c.st.capacity, 10),
		"room": strconv.FormatInt(room, 10), "limit": c.st.limit(), "max_bytes": strconv.FormatInt(c.st.maxBytes, 10),
	}))
}

// checkStorage runs between commits: it notices a filesystem filling up
// (other writers) while the log is idle, and warns in time.
func (c *committer) checkStorage(now time.Time) {
	c.st.refresh()
	c.checkWarning(now)
	c.maybeDropped(now)
	if len(c.w.buf) > 0 {
		c.flush()
	}
	c.l.updateStats(c)
}

// finish commits everything, records losses and closes with a checkpoint.
func (c *committer) finish() {
	c.drainAll()
	now := c.o.Now()
	c.maybeLost(now, true)
	c.lastDrop = time.Time{}
	c.maybeDropped(now)
	c.checkpoint(now, "close")
	if err := c.w.close(); err != nil {
		c.l.closeErr = err
	}
}

func (l *Log) updateStats(c *committer) {
	l.statsMu.Lock()
	s := &l.stats
	s.Seq, s.Segment, s.Used, s.Capacity, s.Full = c.w.durSeq, c.w.seg, c.st.used, c.st.capacity, c.st.full
	s.Percent = c.st.percent()
	s.Limit, s.Room, s.FullReason, s.StorageWarning = c.st.limit(), c.st.room(0), c.st.fullReason(), c.st.warning()
	s.DataPlaneLimit, s.DataPlaneUsed = c.st.dataLimit(), c.st.dataUsed
	l.statsMu.Unlock()
}
