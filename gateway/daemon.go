// Package gateway is the zonegate daemon: it loads the zone model, applies
// its ruleset, reloads it on request and keeps the gateway's services
// running. Subpackages hold the zone model (zone), the audit log (audit)
// and local accounts (auth).
package gateway

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"go.uber.org/zap"

	"github.com/zonegate/zonegate/firewall"
	"github.com/zonegate/zonegate/gateway/zone"
)

// Config is what the daemon needs to run.
type Config struct {
	ModelPath string
	Firewall  firewall.Options
	Target    firewall.Target
	Logger    *zap.Logger
}

// Daemon applies a zone model and keeps it applied.
type Daemon struct {
	cfg Config
	log *zap.Logger

	mu    sync.Mutex
	model *zone.Model // the model whose ruleset is in the kernel; nil before the first apply
}

// New returns a daemon for cfg.
func New(cfg Config) *Daemon {
	log := cfg.Logger
	if log == nil {
		log = zap.NewNop()
	}
	return &Daemon{cfg: cfg, log: log}
}

// Model returns the model currently applied, or nil.
func (d *Daemon) Model() *zone.Model {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.model
}

// Run applies the model, then re-reads and re-applies it whenever reload
// receives, until ctx is done. On return the ruleset stays in the kernel:
// a stopped gateway keeps enforcing its last model (fail close).
func (d *Daemon) Run(ctx context.Context, reload <-chan struct{}) error {
	if err := d.Reload(); err != nil {
		return err
	}
	for {
		select {
		case <-ctx.Done():
			d.log.Info("stopping; the ruleset stays in the kernel")
			return nil
		case <-reload:
			if err := d.Reload(); err != nil {
				d.log.Error("reload failed; the running ruleset is unchanged", zap.Error(err))
			}
		}
	}
}

// Reload loads the model file and applies it. An invalid model leaves the
// running ruleset untouched.
func (d *Daemon) Reload() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	m, err := zone.LoadFile(d.cfg.ModelPath)
	if err != nil {
		var ds zone.Diagnostics
		if errors.As(err, &ds) {
			for _, diag := range ds {
				d.log.Error("zone model rejected", zap.String("problem", diag.String()))
			}
			return fmt.Errorf("zone model %s has %d error(s); nothing was applied", d.cfg.ModelPath, len(ds))
		}
		return err
	}
	for _, w := range m.Lint() {
		d.log.Warn("zone model lint", zap.String("rule", w.Rule), zap.String("warning", w.String()))
	}
	rs := firewall.Compile(m, d.cfg.Firewall)
	res, err := firewall.Apply(d.cfg.Target, rs)
	if err != nil {
		return err
	}
	var removed uint
	if res.Changed {
		removed, err = firewall.FlushDisallowed(d.cfg.Target, m, d.cfg.Firewall)
		if err != nil {
			d.log.Warn("stale connections could not be removed", zap.Error(err))
		}
	}
	prev := "none"
	if d.model != nil {
		prev = d.model.Digest()
	}
	d.model = m
	d.log.Info("zone model applied",
		zap.String("gateway", m.Gateway.Name),
		zap.String("digest", m.Digest()),
		zap.String("previous", prev),
		zap.Bool("changed", res.Changed),
		zap.Int("rules", res.Rules),
		zap.Uint("connections_removed", removed))
	return nil
}
