package gateway

import (
	"context"
	"time"
	"unicode/utf8"

	"go.uber.org/zap"

	"github.com/zonegate/zonegate/firewall"
	"github.com/zonegate/zonegate/gateway/audit"
)

// driftStats describes the drift watcher for status.
type driftStats struct {
	lastGen  uint32
	genKnown bool      // false: lastGen could not be read, the next check reads the table
	Checks   uint64    `json:"checks"`
	Detected uint64    `json:"detected"`
	Last     time.Time `json:"last_detected,omitempty"`
}

// watchDrift notices when table inet zonegate is changed by anything but
// zonegate (nft by hand, another program): every interval it polls the
// kernel's ruleset generation, reads the table only when the generation
// moved, and when the table differs from what zonegate installed it
// records a security event and restores the expected ruleset. An interval
// of zero or less turns the watcher off.
func (c *changes) watchDrift(ctx context.Context, every time.Duration) {
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
			c.checkDrift()
		}
	}
}

// checkDrift runs one drift check.
func (c *changes) checkDrift() {
	gen, err := c.kernel.Generation()
	if err != nil {
		c.log.Warn("drift check: cannot read the ruleset generation", zap.Error(err))
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.drift.Checks++
	if (c.drift.genKnown && gen == c.drift.lastGen) || c.expected == nil {
		return
	}
	cur, err := c.kernel.Current()
	if err != nil {
		c.log.Warn("drift check: cannot read table inet zonegate", zap.Error(err))
		return
	}
	if cur.Equal(c.expected) {
		c.drift.lastGen, c.drift.genKnown = gen, true // another table changed; ours is intact
		return
	}
	c.drift.Detected++
	c.drift.Last = c.now()
	summary := c.expected.Summary(cur)
	c.log.Warn("DRIFT: table inet zonegate was changed outside zonegate; restoring it",
		zap.String("summary", summary), zap.String("differences", c.expected.Diff(cur, 6)))
	c.rec.RecordBestEffort(audit.Record{Actor: "zonegate", Category: audit.CategoryConfig, Action: audit.ActionDriftDetected,
		Object: "table inet zonegate", Result: audit.ResultFailure, Details: map[string]string{
			audit.DetailDiff: truncate(summary, 900), audit.DetailDigestAfter: c.runningDigest()}})
	var restoreErr error
	if c.running != nil {
		restoreErr = c.apply(c.running, c.state.Island)
	} else {
		rs := c.fallback
		if rs == nil {
			rs = firewall.Lockdown(c.options(true))
		}
		restoreErr = c.applyFallbackLocked(rs)
	}
	result := audit.ResultSuccess
	if restoreErr != nil {
		result = audit.ResultFailure
		c.log.Error("drift: restoring the ruleset failed", zap.Error(restoreErr))
	}
	c.rec.RecordBestEffort(audit.Record{Actor: "zonegate", Category: audit.CategoryConfig, Action: audit.ActionDriftRestored,
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
