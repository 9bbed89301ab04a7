package audit

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// PruneResult says what Prune removed.
type PruneResult struct {
	Removed []string // segment file names
	Bytes   int64
	// Statement is the signed prune statement now in pruned.json and in the
	// log's "prune" record: the log starts after Statement.Seq.
	Statement Statement
}

// Prune removes the oldest closed segments, at most n of them, to free
// space. Archive them first (syslog export, or a copy of the directory):
// their records are gone from the gateway afterwards.
//
// Pruning is the only way segments leave a tamper-evident log. Before
// removing anything, the log signs a statement "the log now starts after
// record S whose chain hash is H; the first segment is N", writes it as a
// "prune" record in the log and to pruned.json. Verify accepts the missing
// segments only with that statement.
func (l *Log) Prune(ctx context.Context, n int) (PruneResult, error) {
	var res PruneResult
	var err error
	if cerr := l.control(ctx, func() { res, err = l.c.prune(n) }); cerr != nil {
		return res, cerr
	}
	return res, err
}

func (c *committer) prune(n int) (PruneResult, error) {
	var res PruneResult
	dir := c.w.dir
	segs, err := listSegments(dir)
	if err != nil {
		return res, err
	}
	// Finish an earlier prune that a crash interrupted.
	if old, _ := readStatement(filepath.Join(dir, prunedFile)); old != nil {
		for len(segs) > 0 && segs[0].num < old.NextSegment && segs[0].num < c.w.seg {
			c.removeSegment(segs[0], &res)
			segs = segs[1:]
		}
	}
	closed := 0
	for _, s := range segs {
		if s.num < c.w.seg {
			closed++
		}
	}
	if n > closed {
		n = closed
	}
	if n <= 0 {
		if len(res.Removed) > 0 {
			return res, syncDir(dir)
		}
		return res, errors.New("audit: nothing to prune: only the current segment is left")
	}
	next := segs[n]
	f, sc, err := openSegment(next.path, nil)
	if err != nil {
		return res, err
	}
	fr, err := sc.next()
	f.Close()
	if err != nil {
		return res, fmt.Errorf("audit: %s: cannot read its header (%v); run `zonegate audit verify`", filepath.Base(next.path), err)
	}
	h, err := parseHeader(fr)
	if err != nil || h.segment != next.num {
		return res, fmt.Errorf("audit: %s: bad segment header; run `zonegate audit verify`", filepath.Base(next.path))
	}
	now := c.o.Now()
	s := Statement{Gateway: c.w.gateway, Seq: h.prevSeq, Head: hex.EncodeToString(h.prevHash[:]), NextSegment: next.num, Time: now.UTC().Format(timeLayout)}
	signStatement(&s, c.w.keys.signing)
	d := s.details("operator request")
	d["removed_segments"] = strconv.Itoa(n)
	if c.w.add(kindRecord, c.w.internal(now, ActionPrune, "log", ResultSuccess, d)) == 0 {
		return res, c.st.fullError()
	}
	if err := c.flush(); err != nil {
		return res, err
	}
	if err := writeStatement(filepath.Join(dir, prunedFile), &s); err != nil {
		return res, fmt.Errorf("audit: write %s: %w", prunedFile, err)
	}
	for _, sg := range segs[:n] {
		c.removeSegment(sg, &res)
	}
	res.Statement = s
	c.st.refresh()
	c.l.updateStats(c)
	return res, syncDir(dir)
}

func (c *committer) removeSegment(s segInfo, res *PruneResult) {
	if err := os.Remove(s.path); err != nil {
		return
	}
	c.st.used -= s.size
	c.st.removeData(s.num)
	res.Removed = append(res.Removed, filepath.Base(s.path))
	res.Bytes += s.size
}

// PruneDir prunes the log in dir while zonegate is not running: it opens
// the log (with the keys in keyDir, default DIR/keys), removes up to n of
// the oldest segments as Log.Prune does, and closes it. It fails with
// ErrLocked while the daemon holds the log; prune through the daemon then.
func PruneDir(dir, keyDir string, n int) (PruneResult, error) {
	gw, err := gatewayOf(dir)
	if err != nil {
		return PruneResult{}, err
	}
	l, err := Open(Options{Dir: dir, KeyDir: keyDir, Gateway: gw})
	if err != nil {
		return PruneResult{}, err
	}
	res, err := l.Prune(context.Background(), n)
	if cerr := l.Close(); err == nil {
		err = cerr
	}
	return res, err
}

// gatewayOf reads the gateway name from the newest segment's header.
func gatewayOf(dir string) (string, error) {
	segs, err := listSegments(dir)
	if err != nil {
		return "", err
	}
	for i := len(segs) - 1; i >= 0; i-- {
		f, sc, err := openSegment(segs[i].path, nil)
		if err != nil {
			continue
		}
		fr, err := sc.next()
		f.Close()
		if err != nil {
			continue
		}
		if h, err := parseHeader(fr); err == nil && h.entry.Gateway != "" {
			return h.entry.Gateway, nil
		}
	}
	return "", fmt.Errorf("no readable audit segment in %s", dir)
}
