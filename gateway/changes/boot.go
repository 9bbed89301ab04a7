package changes

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/zonegate/zonegate/gateway/audit"
	"github.com/zonegate/zonegate/gateway/zone"
)

// LastKnown is the model the gateway ran last: the running version of the
// state directory, or else the settings' model file; nil when neither
// loads. Its island mode is the fail-close ruleset, its gateway name names
// the audit log.
func (c *Transactions) LastKnown() *zone.Model {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state.Current > 0 {
		if text, err := c.store.Model(c.state.Current); err == nil {
			if m, err := c.load(c.store.ModelPath(c.state.Current), text); err == nil {
				return m
			}
		}
	}
	if c.modelFile != "" {
		if m, err := zone.LoadFile(c.modelFile); err == nil {
			return m
		}
	}
	return nil
}

// FailClose installs the boot ruleset: island mode of last, the last known
// model (management zones keep access), or with no model at all a ruleset
// that forwards nothing.
func (c *Transactions) FailClose(last *zone.Model) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	// Drift repair defends the fail-close ruleset too while no model can
	// be applied.
	if err := c.applyFallbackLocked(last); err != nil {
		return err
	}
	c.log.Infow("fail-close ruleset in place: nothing is forwarded between zones until the model is applied")
	return nil
}

// Boot brings the model up after the fail-close ruleset: a change still
// pending from before the restart rolls back, then the running version (or
// the settings' model file on first start) is applied. When nothing can be
// applied the gateway stays in island mode and says so.
func (c *Transactions) Boot(ctx context.Context) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if p := c.state.Pending; p != nil {
		c.log.Warnw("a pushed model was still waiting for confirmation when zonegate stopped: rolling it back",
			"version", p.Version, "back_to", p.Previous)
		_ = c.markLocked(daemonActor, p.Version, zone.VersionRolledBack) // logged and audited
		if p.Previous > 0 {
			_ = c.markLocked(daemonActor, p.Previous, zone.VersionRunning) // logged and audited
		}
		c.state.Current, c.state.Pending = p.Previous, nil
		if err := c.store.SaveState(c.state); err != nil {
			c.log.Errorw("cannot save state", "error", err)
		}
		c.rec.RecordBestEffort(configChange(daemonActor, audit.ActionModelRolledBack, fmt.Sprintf("model v%d", p.Version), audit.ResultSuccess,
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
				c.log.Errorw("MODEL FILE REJECTED: it was edited and is invalid; the last good version keeps running",
					"file", c.modelFile, "version", c.state.Current, "problems", lerr.Error())
				c.rec.RecordBestEffort(configChange(daemonActor, audit.ActionModelRejected, c.modelFile, audit.ResultFailure, c.digestOf(c.state.Current), "", firstLine(lerr.Error())))
				c.state.ModelFile = fileDigest(fileText)
				if err := c.store.SaveState(c.state); err != nil {
					c.log.Errorw("cannot save state", "error", err)
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
	m, err := c.load(name, text)
	if err != nil {
		c.stayIsland(fmt.Sprintf("the zone model is invalid: %v", err))
		c.rec.RecordBestEffort(configChange(daemonActor, audit.ActionModelRejected, "model", audit.ResultFailure, "", "", firstLine(err.Error())))
		return
	}
	if err := c.applyLocked(m, c.state.Island); err != nil {
		c.stayIsland(fmt.Sprintf("the zone model cannot be applied: %v", err))
		c.rec.RecordBestEffort(configChange(daemonActor, audit.ActionModelRejected, "model", audit.ResultFailure, "", m.Digest(), firstLine(err.Error())))
		return
	}
	if comment != "" {
		prev := c.state.Current
		if prev == 0 || c.digestOf(prev) != m.Digest() {
			v, err := c.store.Add(text, zone.ModelVersion{Digest: m.Digest(), User: daemonActor.User, Time: c.now(), Comment: comment, State: zone.VersionRunning})
			if err != nil {
				c.log.Errorw("cannot keep the model version", "error", err)
			} else {
				if prev > 0 {
					_ = c.markLocked(daemonActor, prev, zone.VersionSuperseded) // logged and audited
				}
				c.state.Current = v.Number
			}
		}
		c.state.ModelFile = fileDigest(text)
		if err := c.store.SaveState(c.state); err != nil {
			c.log.Errorw("cannot save state", "error", err)
		}
	}
	c.rec.RecordBestEffort(configChange(daemonActor, audit.ActionModelApplied, fmt.Sprintf("model v%d", c.state.Current), audit.ResultSuccess, "", m.Digest(), "applied at start"))
	c.log.Infow("zone model applied", "gateway", m.Gateway.Name, "version", c.state.Current, "digest", m.Digest(), "island", c.state.Island)
}

// stayIsland keeps the fail-close ruleset and says why, loudly.
func (c *Transactions) stayIsland(why string) {
	c.islandWhy = why
	c.log.Errorw("GATEWAY IN ISLAND MODE: nothing is forwarded between zones", "reason", why)
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

// ReloadModelFile re-reads the settings' model file (SIGHUP) and applies
// it as a new, confirmed version when it changed.
func (c *Transactions) ReloadModelFile(ctx context.Context) error {
	if c.modelFile == "" {
		return errors.New("no model file in the settings; push models with `zonegate push`")
	}
	text, err := os.ReadFile(c.modelFile)
	if err != nil {
		return err
	}
	res, err := c.Push(ctx, sighupActor, text, "model file "+c.modelFile+" re-read on SIGHUP", 0)
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
		c.log.Infow("model file unchanged", "digest", res.Digest)
	}
	return nil
}
