package gateway

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/zonegate/zonegate/firewall"
	"github.com/zonegate/zonegate/gateway/audit"
)

// driftStats describes the drift watcher for status.
type driftStats struct {
	lastGen  uint32
	Checks   uint64    `json:"checks"`
	Detected uint64    `json:"detected"`
	Last     time.Time `json:"last_detected,omitempty"`
}

// watchDrift notices when table inet zonegate is changed by anything but
// zonegate (nft by hand, another program): it polls the kernel's ruleset
// generation, reads the table only when the generation moved, and when the
// table differs from what zonegate installed it records a security event
// and restores the expected ruleset.
func (d *Daemon) watchDrift(ctx context.Context) {
	every := time.Duration(d.set.Firewall.DriftCheck)
	if every <= 0 {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			d.checkDrift()
		}
	}
}

// checkDrift runs one drift check.
func (d *Daemon) checkDrift() {
	gen, err := firewall.Generation(d.cfg.Target)
	if err != nil {
		d.log.Warn("drift check: cannot read the ruleset generation", zap.Error(err))
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.drift.Checks++
	if gen == d.drift.lastGen || d.expected == nil {
		return
	}
	cur, err := firewall.Current(d.cfg.Target)
	if err != nil {
		d.log.Warn("drift check: cannot read table inet zonegate", zap.Error(err))
		return
	}
	if cur.Equal(d.expected) {
		d.drift.lastGen = gen // another table changed; ours is intact
		return
	}
	d.drift.Detected++
	d.drift.Last = d.now()
	summary := d.expected.Summary(cur)
	d.log.Warn("DRIFT: table inet zonegate was changed outside zonegate; restoring it",
		zap.String("summary", summary), zap.String("differences", d.expected.Diff(cur, 6)))
	d.recordBestEffort(audit.Record{Actor: "zonegate", Category: audit.CategoryConfig, Action: audit.ActionDriftDetected,
		Object: "table inet zonegate", Result: audit.ResultFailure, Details: map[string]string{
			audit.DetailDiff: truncate(summary, 900), audit.DetailDigestAfter: d.runningDigest()}})
	var restoreErr error
	if d.running != nil {
		restoreErr = d.applyLocked(d.running, d.state.Island)
	} else {
		rs := d.fallback
		if rs == nil {
			rs = firewall.Lockdown(d.fwOptions(true))
		}
		_, restoreErr = firewall.Apply(d.cfg.Target, rs)
		d.drift.lastGen, _ = firewall.Generation(d.cfg.Target)
	}
	result := audit.ResultSuccess
	if restoreErr != nil {
		result = audit.ResultFailure
		d.log.Error("drift: restoring the ruleset failed", zap.Error(restoreErr))
	}
	d.recordBestEffort(audit.Record{Actor: "zonegate", Category: audit.CategoryConfig, Action: audit.ActionDriftRestored,
		Object: "table inet zonegate", Result: result, Details: map[string]string{audit.DetailDigestAfter: d.runningDigest()}})
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-3] + "..."
}
