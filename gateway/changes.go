package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/zonegate/zonegate/firewall"
	"github.com/zonegate/zonegate/gateway/api"
	"github.com/zonegate/zonegate/gateway/audit"
	"github.com/zonegate/zonegate/gateway/zone"
)

// Errors of change requests; the API maps them to HTTP statuses.
var (
	// ErrPending: a pushed model waits for confirmation; confirm or roll
	// it back first.
	ErrPending = errors.New("a pushed model is waiting for confirmation: run `zonegate confirm` or `zonegate rollback` first")
	// ErrNothingPending: there is nothing to confirm.
	ErrNothingPending = errors.New("nothing to confirm: no pushed model is waiting")
	// ErrNoPrevious: there is no earlier model to go back to.
	ErrNoPrevious = errors.New("there is no earlier model to roll back to (see `zonegate history`)")
)

// ModelError is a rejected model with its FILE:LINE:COLUMN problems.
type ModelError struct{ Diagnostics zone.Diagnostics }

func (e *ModelError) Error() string {
	return fmt.Sprintf("the model has %d error(s); nothing was changed:\n%s", len(e.Diagnostics), e.Diagnostics.Error())
}

// PushResult says what a push did.
type PushResult = api.PushResult

// boot brings the model up after the fail-close ruleset: a change still
// pending from before the restart rolls back, then the running version (or
// the settings' model file on first start) is applied. When nothing can be
// applied the gateway stays in island mode and says so.
func (d *Daemon) boot(ctx context.Context) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if p := d.state.Pending; p != nil {
		d.log.Warn("a pushed model was still waiting for confirmation when zonegate stopped: rolling it back",
			zap.Int("version", p.Version), zap.Int("back_to", p.Previous))
		_ = d.store.setState(p.Version, "rolled-back")
		if p.Previous > 0 {
			_ = d.store.setState(p.Previous, "running")
		}
		d.state.Current, d.state.Pending = p.Previous, nil
		if err := d.store.saveState(d.state); err != nil {
			d.log.Error("cannot save state", zap.Error(err))
		}
		d.recordBestEffort(audit.ConfigChange("zonegate", audit.ActionModelRolledBack, fmt.Sprintf("model v%d", p.Version), audit.ResultSuccess,
			d.digestOf(p.Version), d.digestOf(p.Previous), "restart while the change waited for confirmation"))
	}
	var text []byte
	var name, comment string
	if d.set.Model != "" {
		// The model file wins when it was edited since it was last
		// imported; otherwise the running version (maybe pushed later)
		// stays.
		fileText, err := os.ReadFile(d.set.Model)
		if err != nil && d.state.Current == 0 {
			d.stayIsland(fmt.Sprintf("model file cannot be read: %v", err))
			return
		}
		if err == nil && fileDigest(fileText) != d.state.ModelFile {
			if _, lerr := zone.Load(d.set.Model, fileText); lerr != nil && d.state.Current > 0 {
				// A broken edit of the file must not take the plant down at
				// the next reboot: the last good version runs, loudly, and
				// the file is not tried again until it changes.
				d.log.Error("MODEL FILE REJECTED: it was edited and is invalid; the last good version keeps running",
					zap.String("file", d.set.Model), zap.Int("version", d.state.Current), zap.String("problems", lerr.Error()))
				d.recordBestEffort(audit.ConfigChange("zonegate", audit.ActionModelRejected, d.set.Model, audit.ResultFailure, d.digestOf(d.state.Current), "", firstLine(lerr.Error())))
				d.state.ModelFile = fileDigest(fileText)
				if err := d.store.saveState(d.state); err != nil {
					d.log.Error("cannot save state", zap.Error(err))
				}
			} else {
				text, name, comment = fileText, d.set.Model, "model file "+d.set.Model+" at start"
			}
		}
	}
	if text == nil {
		if d.state.Current == 0 {
			d.stayIsland("no zone model: give one with --model or push one with `zonegate push`")
			return
		}
		var err error
		if text, err = d.store.model(d.state.Current); err != nil {
			d.stayIsland(fmt.Sprintf("running model version %d cannot be read: %v", d.state.Current, err))
			return
		}
		name = d.store.modelPath(d.state.Current)
	}
	m, err := zone.Load(name, text)
	if err != nil {
		d.stayIsland(fmt.Sprintf("the zone model is invalid: %v", err))
		d.recordBestEffort(audit.ConfigChange("zonegate", audit.ActionModelRejected, "model", audit.ResultFailure, "", "", firstLine(err.Error())))
		return
	}
	if err := d.applyLocked(m, d.state.Island); err != nil {
		d.stayIsland(fmt.Sprintf("the zone model cannot be applied: %v", err))
		d.recordBestEffort(audit.ConfigChange("zonegate", audit.ActionModelRejected, "model", audit.ResultFailure, "", m.Digest(), firstLine(err.Error())))
		return
	}
	if comment != "" {
		prev := d.state.Current
		if prev == 0 || d.digestOf(prev) != m.Digest() {
			v, err := d.store.add(text, ModelVersion{Digest: m.Digest(), User: "zonegate", Time: d.now(), Comment: comment, State: "running"})
			if err != nil {
				d.log.Error("cannot keep the model version", zap.Error(err))
			} else {
				if prev > 0 {
					_ = d.store.setState(prev, "superseded")
				}
				d.state.Current = v.Number
			}
		}
		d.state.ModelFile = fileDigest(text)
		if err := d.store.saveState(d.state); err != nil {
			d.log.Error("cannot save state", zap.Error(err))
		}
	}
	d.recordBestEffort(audit.ConfigChange("zonegate", audit.ActionModelApplied, fmt.Sprintf("model v%d", d.state.Current), audit.ResultSuccess, "", m.Digest(), "applied at start"))
	d.log.Info("zone model applied", zap.String("gateway", m.Gateway.Name), zap.Int("version", d.state.Current), zap.String("digest", m.Digest()), zap.Bool("island", d.state.Island))
}

// stayIsland keeps the fail-close ruleset and says why, loudly.
func (d *Daemon) stayIsland(why string) {
	d.islandWhy = why
	d.log.Error("GATEWAY IN ISLAND MODE: nothing is forwarded between zones", zap.String("reason", why))
}

// fileDigest identifies a model file's exact content.
func fileDigest(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

func (d *Daemon) digestOf(version int) string {
	if version == 0 {
		return ""
	}
	v, err := d.store.meta(version)
	if err != nil {
		return ""
	}
	return v.Digest
}

// applyLocked compiles and applies m (in island mode or not), removes
// connections it no longer allows and hands the Modbus policies to the
// proxy. d.mu must be held.
func (d *Daemon) applyLocked(m *zone.Model, island bool) error {
	policies, err := compilePolicies(m)
	if err != nil {
		return err
	}
	opt := d.fwOptions(island)
	rs := firewall.Compile(m, opt)
	res, err := firewall.Apply(d.cfg.Target, rs)
	if err != nil {
		return err
	}
	d.expected = firewall.Expected(rs)
	d.drift.lastGen, _ = firewall.Generation(d.cfg.Target)
	if res.Changed {
		if n, err := firewall.FlushDisallowed(d.cfg.Target, m, opt); err != nil {
			d.log.Warn("stale connections could not be removed", zap.Error(err))
		} else if n > 0 {
			d.log.Info("connections no longer allowed were removed", zap.Uint("count", n))
		}
	}
	if island {
		// No conduit in island mode: the proxy takes no connection and
		// drops the ones it has.
		d.policies.install(nil, nil)
	} else {
		d.policies.install(m, policies)
	}
	if d.proxy != nil {
		if n := d.proxy.CloseConns(d.policies.disallowed); n > 0 {
			d.log.Info("Modbus connections no longer allowed were closed", zap.Int("count", n))
		}
	}
	d.running, d.islandWhy = m, ""
	for _, w := range m.Lint() {
		d.log.Warn("zone model lint", zap.String("rule", w.Rule), zap.String("warning", w.String()))
	}
	return nil
}

// restoreLocked puts prev back after a failed change (nil: lockdown).
func (d *Daemon) restoreLocked(prev *zone.Model) {
	if prev != nil {
		if err := d.applyLocked(prev, d.state.Island); err == nil {
			return
		}
	}
	rs := firewall.Lockdown(d.fwOptions(true))
	if _, err := firewall.Apply(d.cfg.Target, rs); err != nil {
		d.log.Error("cannot restore any ruleset", zap.Error(err))
	}
	d.expected, d.running, d.fallback = firewall.Expected(rs), nil, rs
	d.stayIsland("the previous model could not be restored")
}

// auditWritable refuses a change early when its record could not be
// written anyway.
func (d *Daemon) auditWritable() error {
	if d.audit == nil {
		return errAuditUnavailable
	}
	if d.audit.Stats().Full {
		return fmt.Errorf("the audit log is full, so changes are refused: %w", audit.ErrFull)
	}
	return nil
}

// Push validates a model, applies it and, unless confirmWithin is zero,
// starts the timer after which it rolls back by itself.
func (d *Daemon) Push(ctx context.Context, actor string, text []byte, comment string, confirmWithin time.Duration) (PushResult, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.state.Pending != nil {
		return PushResult{}, ErrPending
	}
	m, err := zone.Load("pushed model", text)
	if err != nil {
		var ds zone.Diagnostics
		if errors.As(err, &ds) {
			d.recordBestEffort(audit.ConfigChange(actor, audit.ActionModelRejected, "model", audit.ResultFailure, d.runningDigest(), "", firstLine(ds.Error())))
			return PushResult{}, &ModelError{Diagnostics: ds}
		}
		return PushResult{}, err
	}
	res := PushResult{Digest: m.Digest()}
	for _, w := range m.Lint() {
		res.Warnings = append(res.Warnings, w.String())
	}
	changes := zone.Diff(d.running, m)
	for _, c := range changes {
		res.Diff = append(res.Diff, c.String())
	}
	if d.running != nil && d.running.Digest() == m.Digest() {
		res.Unchanged, res.Version = true, d.state.Current
		return res, nil
	}
	if err := d.auditWritable(); err != nil {
		return res, err
	}
	prev, prevVersion := d.running, d.state.Current
	state := "running"
	if confirmWithin > 0 {
		state = "pending"
	}
	v, err := d.store.add(text, ModelVersion{Digest: m.Digest(), User: actor, Time: d.now(), Comment: comment, State: state})
	if err != nil {
		return res, err
	}
	res.Version = v.Number
	if err := d.applyLocked(m, d.state.Island); err != nil {
		_ = d.store.setState(v.Number, "rejected")
		d.restoreLocked(prev)
		d.recordBestEffort(audit.ConfigChange(actor, audit.ActionModelRejected, fmt.Sprintf("model v%d", v.Number), audit.ResultFailure, d.digestOf(prevVersion), m.Digest(), firstLine(err.Error())))
		return res, fmt.Errorf("the model could not be applied; the previous one is back in place: %w", err)
	}
	summary := zone.DiffSummary(changes)
	if confirmWithin > 0 {
		res.Deadline = d.now().Add(confirmWithin)
		summary += fmt.Sprintf("; rolls back unless confirmed by %s", res.Deadline.UTC().Format(time.RFC3339))
	}
	if err := d.record(ctx, audit.ConfigChange(actor, audit.ActionModelApplied, fmt.Sprintf("model v%d", v.Number), audit.ResultSuccess, d.digestOf(prevVersion), m.Digest(), summary)); err != nil {
		_ = d.store.setState(v.Number, "rejected")
		d.restoreLocked(prev)
		return res, err
	}
	d.state.Current = v.Number
	if confirmWithin > 0 {
		d.state.Pending = &Pending{Version: v.Number, Previous: prevVersion, Deadline: res.Deadline, User: actor}
		d.startTimerLocked(confirmWithin)
	} else if prevVersion > 0 {
		_ = d.store.setState(prevVersion, "superseded")
	}
	if err := d.store.saveState(d.state); err != nil {
		d.log.Error("cannot save state: a restart would bring back the previous model", zap.Error(err))
	}
	if err := d.store.prune(d.state.Current, prevVersion); err != nil {
		d.log.Warn("cannot prune old model versions", zap.Error(err))
	}
	d.log.Info("model pushed", zap.String("user", actor), zap.Int("version", v.Number), zap.String("digest", m.Digest()), zap.String("diff", zone.DiffSummary(changes)), zap.Duration("confirm_within", confirmWithin))
	return res, nil
}

func (d *Daemon) runningDigest() string {
	if d.running == nil {
		return ""
	}
	return d.running.Digest()
}

func (d *Daemon) startTimerLocked(after time.Duration) {
	if d.timer != nil {
		d.timer.Stop()
	}
	version := d.state.Pending.Version
	d.timer = time.AfterFunc(after, func() {
		d.mu.Lock()
		defer d.mu.Unlock()
		if d.state.Pending == nil || d.state.Pending.Version != version {
			return
		}
		d.log.Warn("the pushed model was not confirmed in time: rolling back", zap.Int("version", version))
		if err := d.rollbackPendingLocked(context.Background(), "zonegate", "not confirmed before the deadline", false); err != nil {
			d.log.Error("automatic rollback failed", zap.Error(err))
		}
	})
}

// Confirm makes the pending model permanent.
func (d *Daemon) Confirm(ctx context.Context, actor string) (ModelVersion, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	p := d.state.Pending
	if p == nil {
		return ModelVersion{}, ErrNothingPending
	}
	if err := d.record(ctx, audit.ConfigChange(actor, audit.ActionModelConfirmed, fmt.Sprintf("model v%d", p.Version), audit.ResultSuccess,
		d.digestOf(p.Previous), d.digestOf(p.Version), fmt.Sprintf("pushed by %s", p.User))); err != nil {
		return ModelVersion{}, err
	}
	if d.timer != nil {
		d.timer.Stop()
	}
	d.state.Pending = nil
	_ = d.store.setState(p.Version, "running")
	if p.Previous > 0 {
		_ = d.store.setState(p.Previous, "superseded")
	}
	if err := d.store.saveState(d.state); err != nil {
		return ModelVersion{}, err
	}
	return d.store.meta(p.Version)
}

// rollbackPendingLocked undoes the pending change. A user's rollback is
// refused when it cannot be audited; the automatic one happens anyway.
func (d *Daemon) rollbackPendingLocked(ctx context.Context, actor, reason string, mustAudit bool) error {
	p := d.state.Pending
	var prev *zone.Model
	if p.Previous > 0 {
		text, err := d.store.model(p.Previous)
		if err != nil {
			return err
		}
		if prev, err = zone.Load(d.store.modelPath(p.Previous), text); err != nil {
			return err
		}
	}
	rec := audit.ConfigChange(actor, audit.ActionModelRolledBack, fmt.Sprintf("model v%d", p.Version), audit.ResultSuccess, d.digestOf(p.Version), d.digestOf(p.Previous), reason)
	if mustAudit {
		if err := d.record(ctx, rec); err != nil {
			return err
		}
	}
	if prev != nil {
		if err := d.applyLocked(prev, d.state.Island); err != nil {
			return fmt.Errorf("cannot re-apply version %d: %w", p.Previous, err)
		}
	} else {
		d.restoreLocked(nil)
		d.islandWhy = "the first pushed model was rolled back and there is no earlier one"
	}
	if !mustAudit {
		d.recordBestEffort(rec)
	}
	if d.timer != nil {
		d.timer.Stop()
	}
	_ = d.store.setState(p.Version, "rolled-back")
	if p.Previous > 0 {
		_ = d.store.setState(p.Previous, "running")
	}
	d.state.Current, d.state.Pending = p.Previous, nil
	return d.store.saveState(d.state)
}

// Rollback undoes a pending change, or goes back to an earlier version
// (version 0: the one before the running one).
func (d *Daemon) Rollback(ctx context.Context, actor string, version int) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if p := d.state.Pending; p != nil && (version == 0 || version == p.Previous) {
		return p.Previous, d.rollbackPendingLocked(ctx, actor, "rolled back by "+actor, true)
	}
	if d.state.Pending != nil {
		return 0, ErrPending
	}
	if version == 0 {
		vs, err := d.store.versions()
		if err != nil {
			return 0, err
		}
		for i := len(vs) - 1; i >= 0; i-- {
			if vs[i].Number < d.state.Current && (vs[i].State == "superseded" || vs[i].State == "running") {
				version = vs[i].Number
				break
			}
		}
		if version == 0 {
			return 0, ErrNoPrevious
		}
	}
	if version == d.state.Current {
		return version, fmt.Errorf("version %d is already running", version)
	}
	text, err := d.store.model(version)
	if err != nil {
		return 0, err
	}
	m, err := zone.Load(d.store.modelPath(version), text)
	if err != nil {
		return 0, fmt.Errorf("kept version %d no longer loads: %w", version, err)
	}
	if err := d.auditWritable(); err != nil {
		return 0, err
	}
	prev, prevVersion := d.running, d.state.Current
	if err := d.applyLocked(m, d.state.Island); err != nil {
		d.restoreLocked(prev)
		return 0, err
	}
	if err := d.record(ctx, audit.ConfigChange(actor, audit.ActionModelRolledBack, fmt.Sprintf("model v%d", prevVersion), audit.ResultSuccess,
		d.digestOf(prevVersion), m.Digest(), fmt.Sprintf("back to version %d; %s", version, zone.DiffSummary(zone.Diff(prev, m))))); err != nil {
		d.restoreLocked(prev)
		return 0, err
	}
	if prevVersion > 0 {
		_ = d.store.setState(prevVersion, "superseded")
	}
	_ = d.store.setState(version, "running")
	d.state.Current = version
	return version, d.store.saveState(d.state)
}

// SetIsland turns island mode on or off: no forwarding between zones,
// management access stays (IEC 62443 SR 5.2).
func (d *Daemon) SetIsland(ctx context.Context, actor string, on bool) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.state.Island == on {
		return nil
	}
	if err := d.auditWritable(); err != nil {
		return err
	}
	state := map[bool]string{true: "on", false: "off"}[on]
	if d.running == nil {
		if !on {
			return fmt.Errorf("no model is running, so the gateway stays in island mode: push a model first")
		}
	} else if err := d.applyLocked(d.running, on); err != nil {
		return err
	}
	rec := audit.Record{Actor: actor, Category: audit.CategoryConfig, Action: audit.ActionIslandMode, Object: "forwarding",
		Result: audit.ResultSuccess, Details: map[string]string{audit.DetailState: state}}
	if err := d.record(ctx, rec); err != nil {
		if d.running != nil {
			_ = d.applyLocked(d.running, !on)
		}
		return err
	}
	d.state.Island = on
	d.log.Warn("island mode "+state, zap.String("user", actor))
	return d.store.saveState(d.state)
}

// ReloadModelFile re-reads the settings' model file (SIGHUP) and applies
// it as a new, confirmed version when it changed.
func (d *Daemon) ReloadModelFile(ctx context.Context) error {
	if d.set.Model == "" {
		return errors.New("no model file in the settings; push models with `zonegate push`")
	}
	text, err := os.ReadFile(d.set.Model)
	if err != nil {
		return err
	}
	res, err := d.Push(ctx, "local:SIGHUP", text, "model file "+d.set.Model+" re-read on SIGHUP", 0)
	if err != nil {
		return err
	}
	d.mu.Lock()
	d.state.ModelFile = fileDigest(text)
	err = d.store.saveState(d.state)
	d.mu.Unlock()
	if err != nil {
		return err
	}
	if res.Unchanged {
		d.log.Info("model file unchanged", zap.String("digest", res.Digest))
	}
	return nil
}

// History lists the kept model versions, oldest first.
func (d *Daemon) History() ([]ModelVersion, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.store.versions()
}
