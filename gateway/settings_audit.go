package gateway

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

	"go.uber.org/zap"
	"go.yaml.in/yaml/v3"

	"github.com/zonegate/zonegate/gateway/audit"
	"github.com/zonegate/zonegate/gateway/internal/atomicfile"
	"github.com/zonegate/zonegate/gateway/settings"
)

// Daemon settings changes are audited like model changes: the effective
// settings are kept in the state directory, and a start or SIGHUP with
// different settings writes a settings-changed record naming the keys that
// changed and the digests before and after.

func (d *Daemon) settingsCopyPath() string {
	return filepath.Join(d.set.StateDir, "settings.effective.yaml")
}

func settingsYAML(s settings.Settings) []byte {
	b, err := yaml.Marshal(s)
	if err != nil {
		panic("gateway: settings cannot be marshalled: " + err.Error()) // plain data: cannot happen
	}
	return b
}

func digestOfBytes(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// auditSettings records a change of the effective settings since the last
// start (or reload) and keeps the new copy.
func (d *Daemon) auditSettings(ctx context.Context, actor, note string) error {
	now := settingsYAML(d.set)
	old, err := os.ReadFile(d.settingsCopyPath())
	if err == nil && string(old) == string(now) {
		return nil
	}
	var before settings.Settings
	changed := "first start"
	if err == nil {
		if yaml.Unmarshal(old, &before) == nil {
			changed = strings.Join(changedKeys("", reflect.ValueOf(before), reflect.ValueOf(d.set)), ", ")
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
	if err := d.rec.Record(ctx, rec); err != nil {
		return err
	}
	d.log.Info("daemon settings changed", zap.String("keys", changed))
	return atomicfile.Write(d.settingsCopyPath(), now, 0o600, atomicfile.Options{})
}

// changedKeys lists the YAML keys whose values differ between a and b.
func changedKeys(prefix string, a, b reflect.Value) []string {
	if a.Kind() != reflect.Struct {
		if !reflect.DeepEqual(a.Interface(), b.Interface()) {
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

// ReloadSettings re-reads the settings file (SIGHUP). Changes are audited;
// the `changes` keys take effect at once, the others at the next start.
func (d *Daemon) ReloadSettings(ctx context.Context) error {
	if d.cfg.SettingsPath == "" {
		return nil
	}
	s, err := settings.Load(d.cfg.SettingsPath)
	if err != nil {
		d.rec.RecordBestEffort(audit.ConfigChange("local:SIGHUP", audit.ActionSettingsRejected, "settings", audit.ResultFailure, "", "", firstLine(err.Error())))
		return fmt.Errorf("settings not reloaded: %w", err)
	}
	// Keep what the command line overrode.
	s.Model, s.StateDir, s.API, s.Firewall = d.set.Model, d.set.StateDir, d.set.API, d.set.Firewall
	d.mu.Lock()
	defer d.mu.Unlock()
	prev := d.set
	d.set.Changes, d.set.Audit, d.set.Passwords = s.Changes, s.Audit, s.Passwords
	d.set.Metrics = s.Metrics // audited; the server keeps its address until the next start
	if err := d.auditSettings(ctx, "local:SIGHUP", "changes.* apply now; audit.*, passwords.* and metrics.* at the next start"); err != nil {
		d.set = prev
		return err
	}
	d.store.SetKeep(d.set.Changes.Keep)
	return nil
}
