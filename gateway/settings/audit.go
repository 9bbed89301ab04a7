package settings

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"

	"go.uber.org/zap"
	"go.yaml.in/yaml/v3"

	"github.com/zonegate/zonegate/gateway/audit"
	"github.com/zonegate/zonegate/gateway/internal/atomicfile"
)

// Daemon settings changes are audited like model changes: the effective
// settings are kept in the state directory, and a start or SIGHUP with
// different settings writes a settings-changed record naming the keys that
// changed and the digests before and after.

// Recorder writes the audit records of settings changes; *audit.Recorder
// implements it.
type Recorder interface {
	// Record writes a record durably; the change is not made when it fails.
	Record(ctx context.Context, r audit.Record) error
	// RecordBestEffort writes a record of something that happens anyway.
	RecordBestEffort(r audit.Record)
}

// Running are the daemon's running settings: those it started with, and
// the keys a reload (SIGHUP) changes. Every change of the effective
// settings is audited against the copy kept in the state directory; a
// change that cannot be audited is not made.
type Running struct {
	path string // the settings file; "" when the settings came from flags only
	rec  Recorder
	log  *zap.Logger

	mu  sync.Mutex
	set Settings
}

// NewRunning holds s, read from path ("" when the settings came from flags
// only).
func NewRunning(s Settings, path string, rec Recorder, log *zap.Logger) *Running {
	return &Running{path: path, rec: rec, log: log, set: s}
}

// Get returns the running settings.
func (r *Running) Get() Settings {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.set
}

// AuditStart records, at the daemon's start, how the settings differ from
// those of the previous start.
func (r *Running) AuditStart(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.auditLocked(ctx, "zonegate", "at start")
}

func (r *Running) copyPath() string {
	return filepath.Join(r.set.StateDir, "settings.effective.yaml")
}

func settingsYAML(s Settings) []byte {
	b, err := yaml.Marshal(s)
	if err != nil {
		panic("settings cannot be marshalled: " + err.Error()) // plain data: cannot happen
	}
	return b
}

func digestOfBytes(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// auditLocked records a change of the effective settings since the last
// start (or reload) and keeps the new copy.
func (r *Running) auditLocked(ctx context.Context, actor, note string) error {
	now := settingsYAML(r.set)
	old, err := os.ReadFile(r.copyPath())
	if err == nil && string(old) == string(now) {
		return nil
	}
	var before Settings
	changed := "first start"
	if err == nil {
		if yaml.Unmarshal(old, &before) == nil {
			changed = strings.Join(changedKeys("", reflect.ValueOf(before), reflect.ValueOf(r.set)), ", ")
		}
	}
	digestBefore := ""
	if len(old) > 0 {
		digestBefore = digestOfBytes(old)
	}
	summary := changed
	if note != "" {
		summary += "; " + note
	}
	rec := audit.ConfigChange(actor, audit.ActionSettingsChanged, "settings", audit.ResultSuccess, digestBefore, digestOfBytes(now), summary)
	if err := r.rec.Record(ctx, rec); err != nil {
		return err
	}
	r.log.Info("daemon settings changed", zap.String("keys", changed))
	return atomicfile.Write(r.copyPath(), now, 0o600, atomicfile.Options{})
}

// changedKeys lists the YAML keys whose values differ between a and b.
// An empty list and none are the same (the kept copy writes none as []).
func changedKeys(prefix string, a, b reflect.Value) []string {
	if a.Kind() != reflect.Struct {
		empty := a.Kind() == reflect.Slice && a.Len() == 0 && b.Len() == 0
		if !empty && !reflect.DeepEqual(a.Interface(), b.Interface()) {
			return []string{strings.TrimSuffix(prefix, ".")}
		}
		return nil
	}
	var out []string
	for i := 0; i < a.NumField(); i++ {
		name := strings.Split(a.Type().Field(i).Tag.Get("yaml"), ",")[0]
		out = append(out, changedKeys(prefix+name+".", a.Field(i), b.Field(i))...)
	}
	sort.Strings(out)
	return out
}

// Reload re-reads the settings file (SIGHUP) and returns the running
// settings. Changes are audited; the `changes` keys take effect at once
// (the caller applies them), audit.*, passwords.*, console.* and
// metrics.* at the next start, and what the command line set (model, state directory, API
// socket, firewall) stays.
func (r *Running) Reload(ctx context.Context) (Settings, error) {
	if r.path == "" {
		return r.Get(), nil
	}
	s, err := Load(r.path)
	if err != nil {
		line, _, _ := strings.Cut(err.Error(), "\n")
		r.rec.RecordBestEffort(audit.ConfigChange("local:SIGHUP", audit.ActionSettingsRejected, "settings", audit.ResultFailure, "", "", line))
		return r.Get(), fmt.Errorf("settings not reloaded: %w", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	// Keep what the command line overrode.
	s.Model, s.StateDir, s.API, s.Firewall = r.set.Model, r.set.StateDir, r.set.API, r.set.Firewall
	prev := r.set
	r.set.Changes, r.set.Audit, r.set.Passwords = s.Changes, s.Audit, s.Passwords
	r.set.Metrics = s.Metrics // audited; the server keeps its address until the next start
	r.set.Console = s.Console // likewise
	if err := r.auditLocked(ctx, "local:SIGHUP", "changes.* apply now; audit.*, passwords.*, console.* and metrics.* at the next start"); err != nil {
		r.set = prev
		return prev, err
	}
	return r.set, nil
}
