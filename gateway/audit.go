package gateway

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"go.uber.org/zap"

	"github.com/zonegate/zonegate/gateway/audit"
	"github.com/zonegate/zonegate/gateway/auth"
)

// openAudit opens the audit log and starts its syslog exports. A log that
// cannot be opened does not stop the gateway (forwarding is an essential
// service, IEC 62443 SR 2.10), but every change is refused until it works
// again.
func (d *Daemon) openAudit(gateway string) {
	l, err := audit.Open(audit.Options{
		Dir:         d.set.AuditDir(),
		Gateway:     gateway,
		MaxBytes:    int64(d.set.Audit.MaxSize),
		WarnPercent: d.set.Audit.WarnPercent,
		Logger:      d.log.Named("audit").Sugar(),
		// Traffic fills at most this share: changes always have room.
		DataPlaneShare:  d.set.Audit.DataPlaneShare,
		DataPlaneReport: time.Duration(d.set.Events.Interval),
	})
	if err != nil {
		d.log.Error("AUDIT LOG UNAVAILABLE: forwarding continues, but every configuration and account change is refused until it can be opened", zap.String("dir", d.set.AuditDir()), zap.Error(err))
		return
	}
	d.rec.SetLog(l)
	ctx, cancel := context.WithCancel(context.Background())
	d.stopExport = cancel
	for _, s := range d.set.Audit.Syslog {
		if s.Address == "" {
			continue
		}
		exp, err := audit.NewExporter(l, s, d.log.Named("syslog").Sugar())
		if err != nil {
			d.log.Error("syslog export not started", zap.String("collector", s.Address), zap.Error(err))
			continue
		}
		d.exported.Add(1)
		go func(collector string) {
			defer d.exported.Done()
			if err := exp.Run(ctx); err != nil {
				d.log.Error("syslog export stopped: the records stay in the audit log; restart zonegate to resume the export", zap.String("collector", collector), zap.Error(err))
			}
		}(s.Address)
	}
	d.rec.RecordBestEffort(audit.Record{Actor: "zonegate", Category: audit.CategoryService, Action: audit.ActionServiceStart,
		Object: "zonegate", Result: audit.ResultSuccess, Details: map[string]string{"version": Version}})
}

// closeAudit writes what is left (refused calls, the stop record), stops
// the exports and closes the log.
func (d *Daemon) closeAudit() {
	d.unauth.Close() // its records go before the stop record
	l := d.rec.Log()
	if l == nil {
		return
	}
	d.rec.RecordBestEffort(audit.Record{Actor: "zonegate", Category: audit.CategoryService, Action: audit.ActionServiceStop,
		Object: "zonegate", Result: audit.ResultSuccess})
	d.stopExport()
	d.exported.Wait()
	if err := l.Close(); err != nil {
		d.log.Error("close audit log", zap.Error(err))
	}
}

// openAccounts opens the local accounts; their events are audited, and
// the gateway's name is no password.
func (d *Daemon) openAccounts(gateway string) error {
	policy := d.set.PasswordPolicy()
	policy.ForbiddenWords = append(policy.ForbiddenWords, gateway)
	m, err := auth.Open(auth.Options{
		Path: filepath.Join(d.set.StateDir, "accounts.json"),
		// The auth package refuses a change whose record fails.
		Sink: auth.SinkFunc(func(ctx context.Context, ev auth.Event) error {
			return d.rec.Record(ctx, audit.Record{Time: ev.Time, Actor: ev.Actor, Category: audit.CategoryAccount,
				Action: audit.Action(ev.Action), Object: "user:" + ev.Target, Result: audit.Result(ev.Result), Details: ev.Detail})
		}),
		Policy: policy,
		Now:    d.cfg.Clock.Now,
	})
	if err != nil {
		return fmt.Errorf("open accounts: %w", err)
	}
	d.accounts = m
	if !m.Initialized() {
		d.log.Warn("no accounts yet: create the first administrator with `zonegate user init`")
	}
	return nil
}
