// Package gateway is the zonegate daemon: it keeps the zone model's
// ruleset in the kernel (fail close at boot, island mode, drift repair),
// runs the proxies of the inspected conduits, and takes changes from
// the management API as transactions that undo themselves unless
// confirmed, each recorded in the audit log. The transactions (changes.go)
// reach the kernel through the Kernel interface and time through an
// injected clock, so they are tested without root. Subpackages hold the
// zone model (zone), the audit log (audit), local accounts (auth) and the
// model versions (versions).
package gateway

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/zonegate/zonegate/firewall"
	"github.com/zonegate/zonegate/gateway/audit"
	"github.com/zonegate/zonegate/gateway/auth"
	"github.com/zonegate/zonegate/gateway/events"
	"github.com/zonegate/zonegate/gateway/httpapi"
	"github.com/zonegate/zonegate/gateway/inspection"
	"github.com/zonegate/zonegate/gateway/internal/clock"
	"github.com/zonegate/zonegate/gateway/settings"
	"github.com/zonegate/zonegate/gateway/zone"
)

// Config is what the daemon needs to run.
type Config struct {
	Settings settings.Settings
	// SettingsPath is the settings file, re-read on SIGHUP; empty when the
	// settings came from flags only.
	SettingsPath string
	// Target is the network namespace of the ruleset; Kernel, when set,
	// is used instead.
	Target firewall.Target
	// Kernel is the kernel the ruleset goes to; default
	// firewall.NewKernel(Target).
	Kernel Kernel
	Logger *zap.Logger
	// ModbusListen overrides where the Modbus proxy listens; default
	// "[::]:PORT" with the ruleset's proxy port (dual stack).
	ModbusListen string
	// Clock is the time source (confirm deadline, drift polling, account
	// lockout); default the system clock.
	Clock clock.Clock
}

// Daemon applies a zone model and keeps it applied.
type Daemon struct {
	// changes holds the running configuration and its transactions
	// (Push, Confirm, Rollback, SetIsland, History, drift repair).
	*changes

	cfg      Config
	set      settings.Settings // as at the start
	settings *settings.Running // as now: SIGHUP changes some keys
	log      *zap.Logger

	rec        *audit.Recorder // the audit log, once open; without it changes are refused
	stopExport context.CancelFunc
	exported   sync.WaitGroup
	accounts   *auth.Manager

	proxies *inspection.Proxies // the proxies of the inspected protocols

	unauth   *httpapi.Unauthenticated // API calls refused with 401, aggregated for the log
	metrics  daemonMetrics            // the Prometheus endpoint (metrics.go)
	pipeline *events.Pipeline         // data-plane events (observe.go); nil before Run
	ifZones  ifaceZones               // ingress interface -> zone, for dropped packets
	nflog    *events.Nflog            // nil when NFLOG cannot be read
}

// New prepares a daemon; Run starts it.
func New(cfg Config) *Daemon {
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real()
	}
	if cfg.Kernel == nil {
		cfg.Kernel = firewall.NewKernel(cfg.Target)
	}
	d := &Daemon{cfg: cfg, set: cfg.Settings, log: cfg.Logger, rec: audit.NewRecorder(cfg.Logger.Sugar())}
	d.changes = newChanges(cfg.Logger, cfg.Clock, cfg.Kernel, d.rec, d.fwOptions(false), cfg.Settings.Model)
	d.settings = settings.NewRunning(cfg.Settings, cfg.SettingsPath, d.rec, cfg.Logger)
	d.changes.apply = d.applyLocked
	d.proxies = inspection.New(inspection.Config{
		ModbusPort:      cfg.Settings.Firewall.ModbusProxyPort,
		ModbusListen:    cfg.ModbusListen,
		ResponseTimeout: time.Duration(cfg.Settings.Modbus.ResponseTimeout),
		Log:             cfg.Logger,
	})
	d.unauth = httpapi.NewUnauthenticated(cfg.Clock, httpapi.UnauthInterval, d.rec.RecordBestEffort)
	return d
}

func (d *Daemon) fwOptions(island bool) firewall.Options {
	return firewall.Options{
		Island:   island,
		Proxies:  inspection.Ports(d.set.Firewall.ModbusProxyPort),
		LogGroup: d.set.Firewall.LogGroup,
	}
}

// Run starts the daemon and serves until ctx ends. reload receives on
// SIGHUP. The first thing it does is put a fail-close ruleset in place; the
// ruleset stays in the kernel when Run returns.
func (d *Daemon) Run(ctx context.Context, reload <-chan struct{}) error {
	if err := d.open(ctx); err != nil {
		return err
	}
	defer d.closeAudit()
	defer d.startEvents(ctx)()
	// The proxies' events go to the pipeline, their denials are counted
	// for the metrics on the way.
	if err := d.proxies.Start(d.metrics.denials.Sink(inspection.PipelineSink(d.pipeline))); err != nil {
		return err
	}
	defer d.proxies.Stop()
	d.boot(ctx)
	api, err := d.serveAPI()
	if err != nil {
		return err
	}
	defer api.Close()
	stopMetrics, err := d.serveMetrics()
	if err != nil {
		return err
	}
	defer stopMetrics()
	go d.watchDrift(ctx, time.Duration(d.set.Firewall.DriftCheck))
	for {
		select {
		case <-ctx.Done():
			d.log.Info("stopping; the ruleset stays in the kernel")
			d.stop() // a pending change rolls back at the next start
			return nil
		case <-reload:
			d.reload(ctx)
		}
	}
}

// open does what Run does before the proxy and the API start: it reads
// the state directory, puts the fail-close ruleset in place, opens the
// audit log (closeAudit closes it) and the accounts, and records a
// settings change.
func (d *Daemon) open(ctx context.Context) error {
	if err := d.openStore(d.set.StateDir, d.set.Changes.Keep); err != nil {
		return err
	}
	last := d.lastKnownModel()
	if err := d.failClose(last); err != nil {
		return fmt.Errorf("cannot put the fail-close ruleset in place: %w", err)
	}
	d.openAudit(last)
	if err := d.openAccounts(last); err != nil {
		d.closeAudit()
		return err
	}
	if err := d.settings.AuditStart(ctx); err != nil {
		d.log.Error("settings change not recorded", zap.Error(err))
	}
	return nil
}

// ReloadSettings re-reads the settings file (SIGHUP). Changes are audited;
// the `changes` keys take effect at once, the others at the next start.
func (d *Daemon) ReloadSettings(ctx context.Context) error {
	s, err := d.settings.Reload(ctx)
	if err == nil {
		d.setKeep(s.Changes.Keep)
	}
	return err
}

// reload re-reads the settings and the model file (SIGHUP).
func (d *Daemon) reload(ctx context.Context) {
	if err := d.ReloadSettings(ctx); err != nil {
		d.log.Error("settings reload failed; the running settings are unchanged", zap.Error(err))
	}
	if err := d.ReloadModelFile(ctx); err != nil {
		d.log.Error("reload failed; the running ruleset is unchanged", zap.Error(err))
	}
}

// lastKnownModel is the running version from the state directory, or the
// model file of the settings; nil when neither loads.
func (d *Daemon) lastKnownModel() *zone.Model {
	if d.state.Current > 0 {
		if text, err := d.store.Model(d.state.Current); err == nil {
			if m, err := zone.Load(d.store.ModelPath(d.state.Current), text); err == nil {
				return m
			}
		}
	}
	if d.set.Model != "" {
		if m, err := zone.LoadFile(d.set.Model); err == nil {
			return m
		}
	}
	return nil
}

func (d *Daemon) gatewayName(m *zone.Model) string {
	if m != nil {
		return m.Gateway.Name
	}
	if h, err := os.Hostname(); err == nil {
		return h
	}
	return "zonegate"
}

// openAudit opens the audit log. A log that cannot be opened does not stop
// the gateway (forwarding is an essential service, IEC 62443 SR 2.10), but
// every change is refused until it works again.
func (d *Daemon) openAudit(last *zone.Model) {
	l, err := audit.Open(audit.Options{
		Dir:         d.set.AuditDir(),
		Gateway:     d.gatewayName(last),
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

// Version is the daemon's version, set by the command at start.
var Version = "dev"

func (d *Daemon) openAccounts(last *zone.Model) error {
	policy := d.set.PasswordPolicy()
	policy.ForbiddenWords = append(policy.ForbiddenWords, d.gatewayName(last))
	m, err := auth.Open(auth.Options{
		Path:   d.accountsPath(),
		Sink:   auth.SinkFunc(d.accountEvent),
		Policy: policy,
		Now:    d.clock.Now,
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

func (d *Daemon) accountsPath() string { return d.set.StateDir + "/accounts.json" }

// accountEvent records account events; the auth package refuses the change
// when this fails.
func (d *Daemon) accountEvent(ctx context.Context, ev auth.Event) error {
	return d.rec.Record(ctx, audit.Record{Time: ev.Time, Actor: ev.Actor, Category: audit.CategoryAccount,
		Action: audit.Action(ev.Action), Object: "user:" + ev.Target, Result: audit.Result(ev.Result), Details: ev.Detail})
}
