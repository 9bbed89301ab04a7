package changes

import (
	"fmt"

	"github.com/zonegate/zonegate/gateway/audit"
	"github.com/zonegate/zonegate/gateway/zone"
)

// applyLocked applies m (in island mode or not) with everything that
// follows it: the installers prepare first, so a model they cannot take
// changes nothing; the installers that hold connections cut those m no
// longer allows (Cutter); then the ruleset goes to the kernel, the connections it
// no longer allows are removed, the installers install, and m runs.
// c.mu must be held.
func (c *Transactions) applyLocked(m *zone.Model, island bool) error {
	installs := make([]func(island bool), 0, len(c.installers))
	for _, in := range c.installers {
		install, err := in.Prepare(m)
		if err != nil {
			return err
		}
		installs = append(installs, install)
	}
	for _, in := range c.installers {
		if cut, ok := in.(Cutter); ok {
			cut.Cut(m, island)
		}
	}
	if err := c.applyRulesetLocked(m, island); err != nil {
		return err
	}
	for _, install := range installs {
		install(island)
	}
	c.setRunningLocked(m)
	return nil
}

// applyRulesetLocked applies the ruleset of m (in island mode or not) and
// removes the connections it no longer allows. c.mu must be held.
func (c *Transactions) applyRulesetLocked(m *zone.Model, island bool) error {
	res, err := c.kernel.Apply(m, island)
	if err != nil {
		return err
	}
	c.expected = res.Fingerprint
	c.noteGenerationLocked(res)
	if res.Changed {
		if n, err := c.kernel.FlushDisallowed(m, island); err != nil {
			c.log.Warnw("stale connections could not be removed", "error", err)
		} else if n > 0 {
			c.log.Infow("connections no longer allowed were removed", "count", n)
		}
	}
	return nil
}

// setRunningLocked makes m the running model after it was applied.
func (c *Transactions) setRunningLocked(m *zone.Model) {
	c.running, c.islandWhy = m, ""
	for _, w := range m.Lint() {
		c.log.Warnw("zone model lint", "rule", w.Rule, "warning", w.String())
	}
}

// noteGenerationLocked remembers the ruleset generation an apply verified
// its table at, so that the drift watcher reads the table only when it
// moves again. When it could not be read, the next drift check reads the
// table (and finds it intact).
func (c *Transactions) noteGenerationLocked(res Applied) {
	if res.GenerationErr != nil {
		c.log.Warnw("cannot read the ruleset generation after applying; the next drift check reads the whole table", "error", res.GenerationErr)
		c.drift.lastGen, c.drift.genKnown = 0, false
		return
	}
	c.drift.lastGen, c.drift.genKnown = res.Generation, true
}

// applyFallbackLocked applies a ruleset that belongs to no running model
// (fail close, lockdown): the island mode of m, or with m nil the lockdown
// ruleset; drift repair defends it, also when the apply failed.
func (c *Transactions) applyFallbackLocked(m *zone.Model) error {
	res, err := c.kernel.Apply(m, true)
	if err != nil {
		if res.Fingerprint != nil {
			// Drift repair keeps trying to put it in place.
			c.fallback, c.expected = m, res.Fingerprint
		}
		return err
	}
	c.fallback, c.expected = m, res.Fingerprint
	c.noteGenerationLocked(res)
	return nil
}

// restoreLocked puts prev back after a failed change (nil: lockdown).
func (c *Transactions) restoreLocked(prev *zone.Model) {
	if prev != nil {
		if err := c.applyLocked(prev, c.state.Island); err == nil {
			return
		}
	}
	if err := c.applyFallbackLocked(nil); err != nil {
		c.log.Errorw("cannot restore any ruleset", "error", err)
	}
	c.running = nil
	c.stayIsland("the previous model could not be restored")
}

// configChange is audit.ConfigChange on behalf of actor.
func configChange(actor Actor, action audit.Action, object string, result audit.Result, before, after, diff string) audit.Record {
	return actor.stamp(audit.ConfigChange(actor.User, action, object, result, before, after, diff))
}

// stamp names the actor's peer in r, when it is known.
func (a Actor) stamp(r audit.Record) audit.Record {
	if a.Peer != "" {
		if r.Details == nil {
			r.Details = map[string]string{}
		}
		r.Details[audit.DetailRemote] = a.Peer
	}
	return r
}

// digestOf is the digest of a kept version; "" when it is unknown.
func (c *Transactions) digestOf(version int) string {
	if version == 0 {
		return ""
	}
	v, err := c.store.Meta(version)
	if err != nil {
		return ""
	}
	return v.Digest
}

// markLocked records a version's new state in the history. A failure does
// not undo the change, which has taken effect, but it is logged, audited,
// and returned as a *HistoryError for the user who waits for the change.
func (c *Transactions) markLocked(actor Actor, version int, state string) error {
	err := c.store.SetState(version, state)
	if err == nil {
		return nil
	}
	c.log.Errorw("VERSION HISTORY NOT UPDATED: `zonegate history` shows a wrong state for this version",
		"version", version, "state", state, "error", err)
	c.rec.RecordBestEffort(actor.stamp(audit.Record{Actor: actor.User, Category: audit.CategoryConfig, Action: audit.ActionHistoryNotUpdated,
		Object: fmt.Sprintf("model v%d", version), Result: audit.ResultFailure,
		Details: map[string]string{audit.DetailState: state, audit.DetailReason: truncate(err.Error(), 400)}}))
	return &HistoryError{Version: version, State: state, Err: err}
}

// saveStateLocked writes the state file; a failure is logged with what
// it means.
func (c *Transactions) saveStateLocked(what string) error {
	err := c.store.SaveState(c.state)
	if err != nil {
		c.log.Errorw("cannot save state: "+what, "error", err)
		return fmt.Errorf("cannot save the state file (%s; check that the state directory is writable and not full): %w", what, err)
	}
	return nil
}
