package changes

import (
	"context"
	"time"
	"unicode/utf8"

	"github.com/zonegate/zonegate/gateway/audit"
)

// driftState is the drift watcher's memory.
type driftState struct {
	lastGen  uint32
	genKnown bool // false: lastGen could not be read, the next check reads the table
	checks   uint64
	detected uint64
	last     time.Time
}

// WatchDrift notices when table inet zonegate is changed by anything but
// zonegate (nft by hand, another program): every interval it polls the
// kernel's ruleset generation, reads the table only when the generation
// moved, and when the table differs from what zonegate installed it
// records a security event and restores the expected ruleset. An interval
// of zero or less turns the watcher off.
func (c *Transactions) WatchDrift(ctx context.Context, every time.Duration) {
	if every <= 0 {
		return
	}
	t := c.clock.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
			c.CheckDrift()
		}
	}
}

// CheckDrift runs one drift check.
func (c *Transactions) CheckDrift() {
	gen, err := c.kernel.Generation()
	if err != nil {
		c.log.Warnw("drift check: cannot read the ruleset generation", "error", err)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.drift.checks++
	if (c.drift.genKnown && gen == c.drift.lastGen) || c.expected == nil {
		return
	}
	cur, err := c.kernel.Current()
	if err != nil {
		c.log.Warnw("drift check: cannot read table inet zonegate", "error", err)
		return
	}
	if c.expected.Equal(cur) {
		c.drift.lastGen, c.drift.genKnown = gen, true // another table changed; ours is intact
		return
	}
	c.drift.detected++
	c.drift.last = c.now()
	summary := c.expected.Summary(cur)
	c.log.Warnw("DRIFT: table inet zonegate was changed outside zonegate; restoring it",
		"summary", summary, "differences", c.expected.Diff(cur, 6))
	c.rec.RecordBestEffort(audit.Record{Actor: daemonActor.User, Category: audit.CategoryConfig, Action: audit.ActionDriftDetected,
		Object: "table inet zonegate", Result: audit.ResultFailure, Details: map[string]string{
			audit.DetailDiff: truncate(summary, 900), audit.DetailDigestAfter: c.runningDigest()}})
	var restoreErr error
	if c.running != nil {
		restoreErr = c.applyLocked(c.running, c.state.Island)
	} else {
		restoreErr = c.applyFallbackLocked(c.fallback)
	}
	result := audit.ResultSuccess
	if restoreErr != nil {
		result = audit.ResultFailure
		c.log.Errorw("drift: restoring the ruleset failed", "error", restoreErr)
	}
	c.rec.RecordBestEffort(audit.Record{Actor: daemonActor.User, Category: audit.CategoryConfig, Action: audit.ActionDriftRestored,
		Object: "table inet zonegate", Result: result, Details: map[string]string{audit.DetailDigestAfter: c.runningDigest()}})
}

// truncate shortens s to at most n bytes, ending in "...".
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return cutAtRune(s, n-3) + "..."
}

// cutAtRune is the longest prefix of s of at most n bytes that does not
// split a UTF-8 sequence.
func cutAtRune(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
