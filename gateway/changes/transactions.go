package changes

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/zonegate/zonegate/gateway/audit"
	"github.com/zonegate/zonegate/gateway/zone"
)

// Push validates a model, applies it and, unless confirmWithin is zero,
// starts the timer after which it rolls back by itself.
func (c *Transactions) Push(ctx context.Context, actor Actor, text []byte, comment string, confirmWithin time.Duration) (PushResult, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state.Pending != nil {
		return PushResult{}, ErrPending
	}
	m, err := c.load("pushed model", text)
	if err != nil {
		var ds zone.Diagnostics
		if errors.As(err, &ds) {
			c.rec.RecordBestEffort(withComment(configChange(actor, audit.ActionModelRejected, "model", audit.ResultFailure, c.runningDigest(), "", firstLine(ds.Error())), comment))
			return PushResult{}, &ModelError{Diagnostics: ds}
		}
		return PushResult{}, err
	}
	res := PushResult{Digest: m.Digest()}
	for _, w := range m.Lint() {
		res.Warnings = append(res.Warnings, w.String())
	}
	changes := zone.Diff(c.running, m)
	for _, ch := range changes {
		res.Diff = append(res.Diff, ch.String())
	}
	if c.running != nil && c.running.Digest() == m.Digest() {
		res.Unchanged, res.Version = true, c.state.Current
		return res, nil
	}
	if err := c.rec.Writable(); err != nil {
		return res, err
	}
	prev, prevVersion := c.running, c.state.Current
	state := zone.VersionRunning
	if confirmWithin > 0 {
		state = zone.VersionPending
	}
	v, err := c.store.Add(text, zone.ModelVersion{Digest: m.Digest(), User: actor.User, Time: c.now(), Comment: comment, State: state})
	if err != nil {
		return res, fmt.Errorf("the model cannot be kept as a new version, so nothing was changed (check that the state directory is writable and not full): %w", err)
	}
	res.Version = v.Number
	if err := c.applyLocked(m, c.state.Island); err != nil {
		histErr := c.markLocked(actor, v.Number, zone.VersionRejected)
		c.restoreLocked(prev)
		c.rec.RecordBestEffort(withComment(configChange(actor, audit.ActionModelRejected, fmt.Sprintf("model v%d", v.Number), audit.ResultFailure, c.digestOf(prevVersion), m.Digest(), firstLine(err.Error())), comment))
		return res, errors.Join(fmt.Errorf("the model could not be applied; the previous one is back in place: %w", err), histErr)
	}
	summary := zone.DiffSummary(changes)
	if confirmWithin > 0 {
		res.Deadline = c.now().Add(confirmWithin)
		summary += fmt.Sprintf("; rolls back unless confirmed by %s", res.Deadline.UTC().Format(time.RFC3339))
	}
	if err := c.rec.Record(ctx, withComment(configChange(actor, audit.ActionModelApplied, fmt.Sprintf("model v%d", v.Number), audit.ResultSuccess, c.digestOf(prevVersion), m.Digest(), summary), comment)); err != nil {
		histErr := c.markLocked(actor, v.Number, zone.VersionRejected)
		c.restoreLocked(prev)
		return res, errors.Join(err, histErr)
	}
	c.state.Current = v.Number
	if confirmWithin > 0 {
		c.state.Pending = &zone.Pending{Version: v.Number, Previous: prevVersion, Deadline: res.Deadline, User: actor.User}
		c.startTimerLocked(confirmWithin)
	} else if prevVersion > 0 {
		if err := c.markLocked(actor, prevVersion, zone.VersionSuperseded); err != nil {
			res.Warnings = append(res.Warnings, err.Error())
		}
	}
	if err := c.saveStateLocked("a restart would bring back the previous model"); err != nil {
		res.Warnings = append(res.Warnings, err.Error())
	}
	if err := c.store.Prune(c.state.Current, prevVersion); err != nil {
		c.log.Warnw("cannot prune old model versions", "error", err)
	}
	c.log.Infow("model pushed", "user", actor.User, "version", v.Number, "digest", m.Digest(), "diff", zone.DiffSummary(changes), "confirm_within", confirmWithin)
	return res, nil
}

// maxCommentBytes bounds the push comment in an audit record (a record
// has at most audit.MaxPayloadBytes); the history keeps it whole.
const maxCommentBytes = 1024

// withComment puts the operator's push comment into r's details, cut to
// maxCommentBytes at a UTF-8 boundary with a note saying so.
func withComment(r audit.Record, comment string) audit.Record {
	comment = strings.TrimSpace(comment)
	if comment == "" {
		return r
	}
	if len(comment) > maxCommentBytes {
		comment = fmt.Sprintf("%s… [cut from %d bytes; the whole comment is in `zonegate history`]", cutAtRune(comment, maxCommentBytes), len(comment))
	}
	r.Details[audit.DetailComment] = comment
	return r
}

func (c *Transactions) runningDigest() string {
	if c.running == nil {
		return ""
	}
	return c.running.Digest()
}

// startTimerLocked starts the confirm deadline of the pending change.
func (c *Transactions) startTimerLocked(after time.Duration) {
	c.stopTimerLocked()
	version := c.state.Pending.Version
	c.timer = c.clock.AfterFunc(after, func() { c.deadline(version) })
}

// deadline rolls back the pending change version unless it was confirmed
// or rolled back in the meantime.
func (c *Transactions) deadline(version int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state.Pending == nil || c.state.Pending.Version != version {
		return
	}
	c.log.Warnw("the pushed model was not confirmed in time: rolling back", "version", version)
	if err := c.rollbackPendingLocked(context.Background(), daemonActor, "not confirmed before the deadline", false); err != nil {
		c.log.Errorw("automatic rollback failed", "error", err)
	}
}

func (c *Transactions) stopTimerLocked() {
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
}

// Stop ends the confirm timer when the daemon stops; a pending change
// rolls back at the next start.
func (c *Transactions) Stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stopTimerLocked()
}

// Confirm makes the pending model permanent.
func (c *Transactions) Confirm(ctx context.Context, actor Actor) (zone.ModelVersion, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.state.Pending
	if p == nil {
		return zone.ModelVersion{}, ErrNothingPending
	}
	if err := c.rec.Record(ctx, configChange(actor, audit.ActionModelConfirmed, fmt.Sprintf("model v%d", p.Version), audit.ResultSuccess,
		c.digestOf(p.Previous), c.digestOf(p.Version), fmt.Sprintf("pushed by %s", p.User))); err != nil {
		return zone.ModelVersion{}, err
	}
	c.stopTimerLocked()
	c.state.Pending = nil
	histErr := c.markLocked(actor, p.Version, zone.VersionRunning)
	if p.Previous > 0 {
		histErr = errors.Join(histErr, c.markLocked(actor, p.Previous, zone.VersionSuperseded))
	}
	if err := c.saveStateLocked("a restart would roll the confirmed model back"); err != nil {
		return zone.ModelVersion{}, errors.Join(err, histErr)
	}
	v, err := c.store.Meta(p.Version)
	if err != nil {
		return v, errors.Join(err, histErr)
	}
	v.State = zone.VersionRunning // what runs, even when the history could not record it
	return v, histErr
}

// rollbackPendingLocked undoes the pending change. A user's rollback is
// refused when it cannot be audited; the automatic one happens anyway.
func (c *Transactions) rollbackPendingLocked(ctx context.Context, actor Actor, reason string, mustAudit bool) error {
	p := c.state.Pending
	var prev *zone.Model
	if p.Previous > 0 {
		text, err := c.store.Model(p.Previous)
		if err != nil {
			return err
		}
		if prev, err = c.load(c.store.ModelPath(p.Previous), text); err != nil {
			return err
		}
	}
	rec := configChange(actor, audit.ActionModelRolledBack, fmt.Sprintf("model v%d", p.Version), audit.ResultSuccess, c.digestOf(p.Version), c.digestOf(p.Previous), reason)
	if mustAudit {
		if err := c.rec.Record(ctx, rec); err != nil {
			return err
		}
	}
	if prev != nil {
		if err := c.applyLocked(prev, c.state.Island); err != nil {
			return fmt.Errorf("cannot re-apply version %d: %w", p.Previous, err)
		}
	} else {
		c.restoreLocked(nil)
		c.islandWhy = "the first pushed model was rolled back and there is no earlier one"
	}
	if !mustAudit {
		c.rec.RecordBestEffort(rec)
	}
	c.stopTimerLocked()
	histErr := c.markLocked(actor, p.Version, zone.VersionRolledBack)
	if p.Previous > 0 {
		histErr = errors.Join(histErr, c.markLocked(actor, p.Previous, zone.VersionRunning))
	}
	c.state.Current, c.state.Pending = p.Previous, nil
	return errors.Join(c.saveStateLocked("a restart would bring back the rolled-back model"), histErr)
}

// Rollback undoes a pending change, or goes back to an earlier version
// (version 0: the one before the running one).
func (c *Transactions) Rollback(ctx context.Context, actor Actor, version int) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if p := c.state.Pending; p != nil && (version == 0 || version == p.Previous) {
		return p.Previous, c.rollbackPendingLocked(ctx, actor, "rolled back by "+actor.User, true)
	}
	if c.state.Pending != nil {
		return 0, ErrPending
	}
	if version == 0 {
		vs, err := c.store.Versions()
		if err != nil {
			return 0, err
		}
		for i := len(vs) - 1; i >= 0; i-- {
			if vs[i].Number < c.state.Current && (vs[i].State == zone.VersionSuperseded || vs[i].State == zone.VersionRunning) {
				version = vs[i].Number
				break
			}
		}
		if version == 0 {
			return 0, ErrNoPrevious
		}
	}
	if version == c.state.Current {
		return version, fmt.Errorf("version %d is already running", version)
	}
	text, err := c.store.Model(version)
	if err != nil {
		return 0, err
	}
	m, err := c.load(c.store.ModelPath(version), text)
	if err != nil {
		return 0, fmt.Errorf("kept version %d no longer loads: %w", version, err)
	}
	if err := c.rec.Writable(); err != nil {
		return 0, err
	}
	prev, prevVersion := c.running, c.state.Current
	if err := c.applyLocked(m, c.state.Island); err != nil {
		c.restoreLocked(prev)
		return 0, err
	}
	if err := c.rec.Record(ctx, configChange(actor, audit.ActionModelRolledBack, fmt.Sprintf("model v%d", prevVersion), audit.ResultSuccess,
		c.digestOf(prevVersion), m.Digest(), fmt.Sprintf("back to version %d; %s", version, zone.DiffSummary(zone.Diff(prev, m))))); err != nil {
		c.restoreLocked(prev)
		return 0, err
	}
	var histErr error
	if prevVersion > 0 {
		histErr = c.markLocked(actor, prevVersion, zone.VersionSuperseded)
	}
	histErr = errors.Join(histErr, c.markLocked(actor, version, zone.VersionRunning))
	c.state.Current = version
	return version, errors.Join(c.saveStateLocked(fmt.Sprintf("a restart would bring back version %d", prevVersion)), histErr)
}

// SetIsland turns island mode on or off: no forwarding between zones,
// management access stays (IEC 62443 SR 5.2).
func (c *Transactions) SetIsland(ctx context.Context, actor Actor, on bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state.Island == on {
		return nil
	}
	if err := c.rec.Writable(); err != nil {
		return err
	}
	state := map[bool]string{true: "on", false: "off"}[on]
	if c.running == nil {
		if !on {
			return fmt.Errorf("no model is running, so the gateway stays in island mode: push a model first")
		}
	} else if err := c.applyLocked(c.running, on); err != nil {
		return err
	}
	rec := actor.stamp(audit.Record{Actor: actor.User, Category: audit.CategoryConfig, Action: audit.ActionIslandMode, Object: "forwarding",
		Result: audit.ResultSuccess, Details: map[string]string{audit.DetailState: state}})
	if err := c.rec.Record(ctx, rec); err != nil {
		if c.running != nil {
			if rerr := c.applyLocked(c.running, !on); rerr != nil {
				c.log.Errorw("cannot undo the island mode change that could not be audited", "error", rerr)
				return errors.Join(err, fmt.Errorf("and the previous mode could not be restored (see `zonegate status`; set island mode again once the audit log works): %w", rerr))
			}
		}
		return err
	}
	c.state.Island = on
	c.log.Warnw("island mode "+state, "user", actor.User)
	return c.saveStateLocked("a restart would bring back the previous island mode")
}

// load reads a model that may not come from the model file (a push, a
// stored version) with the model file's directory as the one its relative
// file names (TLS certificates, CAs) are relative to, so that they name
// the same files whichever way the model arrives; without a model file
// they are relative to the directory of name.
func (c *Transactions) load(name string, text []byte) (*zone.Model, error) {
	opt := zone.Options{}
	if c.modelFile != "" {
		opt.Dir = filepath.Dir(c.modelFile)
	}
	return zone.LoadWith(name, text, opt)
}
