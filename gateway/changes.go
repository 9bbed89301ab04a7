package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/zonegate/zonegate/firewall"
	"github.com/zonegate/zonegate/gateway/api"
	"github.com/zonegate/zonegate/gateway/audit"
	"github.com/zonegate/zonegate/gateway/internal/clock"
	"github.com/zonegate/zonegate/gateway/versions"
	"github.com/zonegate/zonegate/gateway/zone"
)

// ModelVersion is one model version kept in the state directory.
type ModelVersion = zone.ModelVersion

// Pending is a pushed model that undoes itself unless confirmed in time.
type Pending = zone.Pending

// recorder writes audit records for the change transactions.
type recorder interface {
	// Record writes a record durably; the change is refused when it fails.
	Record(ctx context.Context, r audit.Record) error
	// RecordBestEffort writes a record of something that happens anyway.
	RecordBestEffort(r audit.Record)
	// Writable refuses a change early when its record could not be
	// written anyway.
	Writable() error
}

// changes runs the change transactions on the running configuration:
// boot, push, confirm, rollback (by hand and at the confirm deadline),
// island mode, model file reload and drift repair. It knows the kernel,
// the version store, the clock and the audit trail, and nothing of how
// the requests arrive.
type changes struct {
	log    *zap.Logger
	clock  clock.Clock
	kernel Kernel
	rec    recorder
	// opts are the firewall options (island mode is set per apply).
	opts firewall.Options
	// modelFile is the settings' model file; empty when models are only
	// pushed.
	modelFile string
	// apply compiles and applies a model (in island mode or not) with
	// everything that goes with it (the proxy's policies); it ends by
	// calling setRunningLocked. Default: the ruleset alone.
	apply func(m *zone.Model, island bool) error

	store *versions.Store // set by open

	// mu serialises changes to the running configuration.
	mu        sync.Mutex
	state     versions.State
	running   *zone.Model // nil while no model could be applied
	islandWhy string      // why the gateway is in island mode without being asked to
	expected  firewall.Fingerprint
	fallback  *firewall.Ruleset // what drift repair restores while no model runs
	timer     clock.Timer       // pending confirm deadline
	drift     driftStats
}

func newChanges(log *zap.Logger, clk clock.Clock, k Kernel, rec recorder, opts firewall.Options, modelFile string) *changes {
	c := &changes{log: log, clock: clk, kernel: k, rec: rec, opts: opts, modelFile: modelFile}
	c.apply = func(m *zone.Model, island bool) error {
		if err := c.applyRulesetLocked(m, island); err != nil {
			return err
		}
		c.setRunningLocked(m)
		return nil
	}
	return c
}

// openStore reads the version store in dir.
func (c *changes) openStore(dir string, keep int) error {
	st, err := versions.Open(dir, keep)
	if err != nil {
		return err
	}
	state, err := st.LoadState()
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.store, c.state = st, state
	return nil
}

// setKeep changes how many model versions stay on disk.
func (c *changes) setKeep(keep int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.store.SetKeep(keep)
}

func (c *changes) options(island bool) firewall.Options {
	o := c.opts
	o.Island = island
	return o
}

func (c *changes) now() time.Time { return c.clock.Now() }

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

// HistoryError says that a change took effect but the model version
// history could not be updated to show it: `zonegate history` shows a
// wrong state for the version until it is fixed.
type HistoryError struct {
	Version int
	State   string // the state the version should have
	Err     error
}

func (e *HistoryError) Error() string {
	return fmt.Sprintf("the change took effect, but the version history could not record model version %d as %s (check that the state directory is writable and not full): %v", e.Version, e.State, e.Err)
}

func (e *HistoryError) Unwrap() error { return e.Err }

// PushResult says what a push did.
type PushResult = api.PushResult

// boot brings the model up after the fail-close ruleset: a change still
// pending from before the restart rolls back, then the running version (or
// the settings' model file on first start) is applied. When nothing can be
// applied the gateway stays in island mode and says so.
func (c *changes) boot(ctx context.Context) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if p := c.state.Pending; p != nil {
		c.log.Warn("a pushed model was still waiting for confirmation when zonegate stopped: rolling it back",
			zap.Int("version", p.Version), zap.Int("back_to", p.Previous))
		_ = c.markLocked("zonegate", p.Version, zone.VersionRolledBack) // logged and audited
		if p.Previous > 0 {
			_ = c.markLocked("zonegate", p.Previous, zone.VersionRunning) // logged and audited
		}
		c.state.Current, c.state.Pending = p.Previous, nil
		if err := c.store.SaveState(c.state); err != nil {
			c.log.Error("cannot save state", zap.Error(err))
		}
		c.rec.RecordBestEffort(audit.ConfigChange("zonegate", audit.ActionModelRolledBack, fmt.Sprintf("model v%d", p.Version), audit.ResultSuccess,
			c.digestOf(p.Version), c.digestOf(p.Previous), "restart while the change waited for confirmation"))
	}
	var text []byte
	var name, comment string
	if c.modelFile != "" {
		// The model file wins when it was edited since it was last
		// imported; otherwise the running version (maybe pushed later)
		// stays.
		fileText, err := os.ReadFile(c.modelFile)
		if err != nil && c.state.Current == 0 {
			c.stayIsland(fmt.Sprintf("model file cannot be read: %v", err))
			return
		}
		if err == nil && fileDigest(fileText) != c.state.ModelFile {
			if _, lerr := zone.Load(c.modelFile, fileText); lerr != nil && c.state.Current > 0 {
				// A broken edit of the file must not take the plant down at
				// the next reboot: the last good version runs, loudly, and
				// the file is not tried again until it changes.
				c.log.Error("MODEL FILE REJECTED: it was edited and is invalid; the last good version keeps running",
					zap.String("file", c.modelFile), zap.Int("version", c.state.Current), zap.String("problems", lerr.Error()))
				c.rec.RecordBestEffort(audit.ConfigChange("zonegate", audit.ActionModelRejected, c.modelFile, audit.ResultFailure, c.digestOf(c.state.Current), "", firstLine(lerr.Error())))
				c.state.ModelFile = fileDigest(fileText)
				if err := c.store.SaveState(c.state); err != nil {
					c.log.Error("cannot save state", zap.Error(err))
				}
			} else {
				text, name, comment = fileText, c.modelFile, "model file "+c.modelFile+" at start"
			}
		}
	}
	if text == nil {
		if c.state.Current == 0 {
			c.stayIsland("no zone model: give one with --model or push one with `zonegate push`")
			return
		}
		var err error
		if text, err = c.store.Model(c.state.Current); err != nil {
			c.stayIsland(fmt.Sprintf("running model version %d cannot be read: %v", c.state.Current, err))
			return
		}
		name = c.store.ModelPath(c.state.Current)
	}
	m, err := zone.Load(name, text)
	if err != nil {
		c.stayIsland(fmt.Sprintf("the zone model is invalid: %v", err))
		c.rec.RecordBestEffort(audit.ConfigChange("zonegate", audit.ActionModelRejected, "model", audit.ResultFailure, "", "", firstLine(err.Error())))
		return
	}
	if err := c.apply(m, c.state.Island); err != nil {
		c.stayIsland(fmt.Sprintf("the zone model cannot be applied: %v", err))
		c.rec.RecordBestEffort(audit.ConfigChange("zonegate", audit.ActionModelRejected, "model", audit.ResultFailure, "", m.Digest(), firstLine(err.Error())))
		return
	}
	if comment != "" {
		prev := c.state.Current
		if prev == 0 || c.digestOf(prev) != m.Digest() {
			v, err := c.store.Add(text, ModelVersion{Digest: m.Digest(), User: "zonegate", Time: c.now(), Comment: comment, State: zone.VersionRunning})
			if err != nil {
				c.log.Error("cannot keep the model version", zap.Error(err))
			} else {
				if prev > 0 {
					_ = c.markLocked("zonegate", prev, zone.VersionSuperseded) // logged and audited
				}
				c.state.Current = v.Number
			}
		}
		c.state.ModelFile = fileDigest(text)
		if err := c.store.SaveState(c.state); err != nil {
			c.log.Error("cannot save state", zap.Error(err))
		}
	}
	c.rec.RecordBestEffort(audit.ConfigChange("zonegate", audit.ActionModelApplied, fmt.Sprintf("model v%d", c.state.Current), audit.ResultSuccess, "", m.Digest(), "applied at start"))
	c.log.Info("zone model applied", zap.String("gateway", m.Gateway.Name), zap.Int("version", c.state.Current), zap.String("digest", m.Digest()), zap.Bool("island", c.state.Island))
}

// stayIsland keeps the fail-close ruleset and says why, loudly.
func (c *changes) stayIsland(why string) {
	c.islandWhy = why
	c.log.Error("GATEWAY IN ISLAND MODE: nothing is forwarded between zones", zap.String("reason", why))
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

func (c *changes) digestOf(version int) string {
	if version == 0 {
		return ""
	}
	v, err := c.store.Meta(version)
	if err != nil {
		return ""
	}
	return v.Digest
}

// applyLocked compiles and applies m (in island mode or not), removes
// connections it no longer allows and hands the policies of the inspected
// conduits to their proxies. d.mu must be held.
func (d *Daemon) applyLocked(m *zone.Model, island bool) error {
	install, err := d.proxies.Prepare(m)
	if err != nil {
		return err
	}
	if err := d.applyRulesetLocked(m, island); err != nil {
		return err
	}
	install(island)
	d.ifZones.set(m) // dropped packets name the zone of their ingress interface
	d.setRunningLocked(m)
	return nil
}

// applyRulesetLocked compiles m (in island mode or not), applies it and
// removes the connections it no longer allows. c.mu must be held.
func (c *changes) applyRulesetLocked(m *zone.Model, island bool) error {
	opt := c.options(island)
	rs := firewall.Compile(m, opt)
	res, err := c.kernel.Apply(rs)
	if err != nil {
		return err
	}
	c.expected = res.Fingerprint
	c.noteGenerationLocked(res)
	if res.Changed {
		if n, err := c.kernel.FlushDisallowed(m, opt); err != nil {
			c.log.Warn("stale connections could not be removed", zap.Error(err))
		} else if n > 0 {
			c.log.Info("connections no longer allowed were removed", zap.Uint("count", n))
		}
	}
	return nil
}

// setRunningLocked makes m the running model after it was applied.
func (c *changes) setRunningLocked(m *zone.Model) {
	c.running, c.islandWhy = m, ""
	for _, w := range m.Lint() {
		c.log.Warn("zone model lint", zap.String("rule", w.Rule), zap.String("warning", w.String()))
	}
}

// noteGenerationLocked remembers the ruleset generation an apply verified
// its table at, so that the drift watcher reads the table only when it
// moves again. When it could not be read, the next drift check reads the
// table (and finds it intact).
func (c *changes) noteGenerationLocked(res firewall.Result) {
	if res.GenerationErr != nil {
		c.log.Warn("cannot read the ruleset generation after applying; the next drift check reads the whole table", zap.Error(res.GenerationErr))
		c.drift.lastGen, c.drift.genKnown = 0, false
		return
	}
	c.drift.lastGen, c.drift.genKnown = res.Generation, true
}

// applyFallbackLocked applies a ruleset that belongs to no model (fail
// close, lockdown) and makes drift repair defend it.
func (c *changes) applyFallbackLocked(rs *firewall.Ruleset) error {
	res, err := c.kernel.Apply(rs)
	if err != nil {
		if res.Fingerprint != nil {
			// Drift repair keeps trying to put it in place.
			c.fallback, c.expected = rs, res.Fingerprint
		}
		return err
	}
	c.fallback, c.expected = rs, res.Fingerprint
	c.noteGenerationLocked(res)
	return nil
}

// failClose installs the boot ruleset: island mode of the last known model
// (management zones keep access), or with no model at all a ruleset that
// forwards nothing.
func (c *changes) failClose(last *zone.Model) error {
	rs := firewall.Lockdown(c.options(true))
	if last != nil {
		rs = firewall.Compile(last, c.options(true))
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	// Drift repair defends the fail-close ruleset too while no model can
	// be applied.
	if err := c.applyFallbackLocked(rs); err != nil {
		return err
	}
	c.log.Info("fail-close ruleset in place: nothing is forwarded between zones until the model is applied")
	return nil
}

// restoreLocked puts prev back after a failed change (nil: lockdown).
func (c *changes) restoreLocked(prev *zone.Model) {
	if prev != nil {
		if err := c.apply(prev, c.state.Island); err == nil {
			return
		}
	}
	rs := firewall.Lockdown(c.options(true))
	if err := c.applyFallbackLocked(rs); err != nil {
		c.log.Error("cannot restore any ruleset", zap.Error(err))
	}
	c.running = nil
	c.stayIsland("the previous model could not be restored")
}

// markLocked records a version's new state in the history. A failure does
// not undo the change, which has taken effect, but it is logged, audited,
// and returned as a *HistoryError for the user who waits for the change.
func (c *changes) markLocked(actor string, version int, state string) error {
	err := c.store.SetState(version, state)
	if err == nil {
		return nil
	}
	c.log.Error("VERSION HISTORY NOT UPDATED: `zonegate history` shows a wrong state for this version",
		zap.Int("version", version), zap.String("state", state), zap.Error(err))
	c.rec.RecordBestEffort(audit.Record{Actor: actor, Category: audit.CategoryConfig, Action: audit.ActionHistoryNotUpdated,
		Object: fmt.Sprintf("model v%d", version), Result: audit.ResultFailure,
		Details: map[string]string{audit.DetailState: state, audit.DetailReason: truncate(err.Error(), 400)}})
	return &HistoryError{Version: version, State: state, Err: err}
}

// saveStateLocked writes the state file; a failure is logged with what
// it means.
func (c *changes) saveStateLocked(what string) error {
	err := c.store.SaveState(c.state)
	if err != nil {
		c.log.Error("cannot save state: "+what, zap.Error(err))
		return fmt.Errorf("cannot save the state file (%s; check that the state directory is writable and not full): %w", what, err)
	}
	return nil
}

// Push validates a model, applies it and, unless confirmWithin is zero,
// starts the timer after which it rolls back by itself.
func (c *changes) Push(ctx context.Context, actor string, text []byte, comment string, confirmWithin time.Duration) (PushResult, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state.Pending != nil {
		return PushResult{}, ErrPending
	}
	m, err := zone.Load("pushed model", text)
	if err != nil {
		var ds zone.Diagnostics
		if errors.As(err, &ds) {
			c.rec.RecordBestEffort(withComment(audit.ConfigChange(actor, audit.ActionModelRejected, "model", audit.ResultFailure, c.runningDigest(), "", firstLine(ds.Error())), comment))
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
	v, err := c.store.Add(text, ModelVersion{Digest: m.Digest(), User: actor, Time: c.now(), Comment: comment, State: state})
	if err != nil {
		return res, fmt.Errorf("the model cannot be kept as a new version, so nothing was changed (check that the state directory is writable and not full): %w", err)
	}
	res.Version = v.Number
	if err := c.apply(m, c.state.Island); err != nil {
		histErr := c.markLocked(actor, v.Number, zone.VersionRejected)
		c.restoreLocked(prev)
		c.rec.RecordBestEffort(withComment(audit.ConfigChange(actor, audit.ActionModelRejected, fmt.Sprintf("model v%d", v.Number), audit.ResultFailure, c.digestOf(prevVersion), m.Digest(), firstLine(err.Error())), comment))
		return res, errors.Join(fmt.Errorf("the model could not be applied; the previous one is back in place: %w", err), histErr)
	}
	summary := zone.DiffSummary(changes)
	if confirmWithin > 0 {
		res.Deadline = c.now().Add(confirmWithin)
		summary += fmt.Sprintf("; rolls back unless confirmed by %s", res.Deadline.UTC().Format(time.RFC3339))
	}
	if err := c.rec.Record(ctx, withComment(audit.ConfigChange(actor, audit.ActionModelApplied, fmt.Sprintf("model v%d", v.Number), audit.ResultSuccess, c.digestOf(prevVersion), m.Digest(), summary), comment)); err != nil {
		histErr := c.markLocked(actor, v.Number, zone.VersionRejected)
		c.restoreLocked(prev)
		return res, errors.Join(err, histErr)
	}
	c.state.Current = v.Number
	if confirmWithin > 0 {
		c.state.Pending = &Pending{Version: v.Number, Previous: prevVersion, Deadline: res.Deadline, User: actor}
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
		c.log.Warn("cannot prune old model versions", zap.Error(err))
	}
	c.log.Info("model pushed", zap.String("user", actor), zap.Int("version", v.Number), zap.String("digest", m.Digest()), zap.String("diff", zone.DiffSummary(changes)), zap.Duration("confirm_within", confirmWithin))
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

func (c *changes) runningDigest() string {
	if c.running == nil {
		return ""
	}
	return c.running.Digest()
}

// startTimerLocked starts the confirm deadline of the pending change.
func (c *changes) startTimerLocked(after time.Duration) {
	c.stopTimerLocked()
	version := c.state.Pending.Version
	c.timer = c.clock.AfterFunc(after, func() { c.deadline(version) })
}

// deadline rolls back the pending change version unless it was confirmed
// or rolled back in the meantime.
func (c *changes) deadline(version int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state.Pending == nil || c.state.Pending.Version != version {
		return
	}
	c.log.Warn("the pushed model was not confirmed in time: rolling back", zap.Int("version", version))
	if err := c.rollbackPendingLocked(context.Background(), "zonegate", "not confirmed before the deadline", false); err != nil {
		c.log.Error("automatic rollback failed", zap.Error(err))
	}
}

func (c *changes) stopTimerLocked() {
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
}

// stop ends the confirm timer; a pending change rolls back at the next
// start.
func (c *changes) stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stopTimerLocked()
}

// Confirm makes the pending model permanent.
func (c *changes) Confirm(ctx context.Context, actor string) (ModelVersion, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.state.Pending
	if p == nil {
		return ModelVersion{}, ErrNothingPending
	}
	if err := c.rec.Record(ctx, audit.ConfigChange(actor, audit.ActionModelConfirmed, fmt.Sprintf("model v%d", p.Version), audit.ResultSuccess,
		c.digestOf(p.Previous), c.digestOf(p.Version), fmt.Sprintf("pushed by %s", p.User))); err != nil {
		return ModelVersion{}, err
	}
	c.stopTimerLocked()
	c.state.Pending = nil
	histErr := c.markLocked(actor, p.Version, zone.VersionRunning)
	if p.Previous > 0 {
		histErr = errors.Join(histErr, c.markLocked(actor, p.Previous, zone.VersionSuperseded))
	}
	if err := c.saveStateLocked("a restart would roll the confirmed model back"); err != nil {
		return ModelVersion{}, errors.Join(err, histErr)
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
func (c *changes) rollbackPendingLocked(ctx context.Context, actor, reason string, mustAudit bool) error {
	p := c.state.Pending
	var prev *zone.Model
	if p.Previous > 0 {
		text, err := c.store.Model(p.Previous)
		if err != nil {
			return err
		}
		if prev, err = zone.Load(c.store.ModelPath(p.Previous), text); err != nil {
			return err
		}
	}
	rec := audit.ConfigChange(actor, audit.ActionModelRolledBack, fmt.Sprintf("model v%d", p.Version), audit.ResultSuccess, c.digestOf(p.Version), c.digestOf(p.Previous), reason)
	if mustAudit {
		if err := c.rec.Record(ctx, rec); err != nil {
			return err
		}
	}
	if prev != nil {
		if err := c.apply(prev, c.state.Island); err != nil {
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
func (c *changes) Rollback(ctx context.Context, actor string, version int) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if p := c.state.Pending; p != nil && (version == 0 || version == p.Previous) {
		return p.Previous, c.rollbackPendingLocked(ctx, actor, "rolled back by "+actor, true)
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
	m, err := zone.Load(c.store.ModelPath(version), text)
	if err != nil {
		return 0, fmt.Errorf("kept version %d no longer loads: %w", version, err)
	}
	if err := c.rec.Writable(); err != nil {
		return 0, err
	}
	prev, prevVersion := c.running, c.state.Current
	if err := c.apply(m, c.state.Island); err != nil {
		c.restoreLocked(prev)
		return 0, err
	}
	if err := c.rec.Record(ctx, audit.ConfigChange(actor, audit.ActionModelRolledBack, fmt.Sprintf("model v%d", prevVersion), audit.ResultSuccess,
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
func (c *changes) SetIsland(ctx context.Context, actor string, on bool) error {
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
	} else if err := c.apply(c.running, on); err != nil {
		return err
	}
	rec := audit.Record{Actor: actor, Category: audit.CategoryConfig, Action: audit.ActionIslandMode, Object: "forwarding",
		Result: audit.ResultSuccess, Details: map[string]string{audit.DetailState: state}}
	if err := c.rec.Record(ctx, rec); err != nil {
		if c.running != nil {
			if rerr := c.apply(c.running, !on); rerr != nil {
				c.log.Error("cannot undo the island mode change that could not be audited", zap.Error(rerr))
				return errors.Join(err, fmt.Errorf("and the previous mode could not be restored (see `zonegate status`; set island mode again once the audit log works): %w", rerr))
			}
		}
		return err
	}
	c.state.Island = on
	c.log.Warn("island mode "+state, zap.String("user", actor))
	return c.saveStateLocked("a restart would bring back the previous island mode")
}

// ReloadModelFile re-reads the settings' model file (SIGHUP) and applies
// it as a new, confirmed version when it changed.
func (c *changes) ReloadModelFile(ctx context.Context) error {
	if c.modelFile == "" {
		return errors.New("no model file in the settings; push models with `zonegate push`")
	}
	text, err := os.ReadFile(c.modelFile)
	if err != nil {
		return err
	}
	res, err := c.Push(ctx, "local:SIGHUP", text, "model file "+c.modelFile+" re-read on SIGHUP", 0)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.state.ModelFile = fileDigest(text)
	err = c.saveStateLocked("the model file is imported again at the next start")
	c.mu.Unlock()
	if err != nil {
		return err
	}
	if res.Unchanged {
		c.log.Info("model file unchanged", zap.String("digest", res.Digest))
	}
	return nil
}

// History lists the kept model versions, oldest first.
func (c *changes) History() ([]ModelVersion, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.store.Versions()
}
