// Package gateway is the zonegate daemon as wiring: it builds the parts
// from the settings and starts and stops them in order. The fail-close
// ruleset goes in first, then the audit log, the accounts, the event
// pipeline, the inspecting proxies, the boot of the zone model, the
// management API, the metrics and the web console; SIGHUP reloads the settings and the
// model file. What the parts do lives in their packages: the change
// transactions (changes) on the kernel's table (kernel, firewall), the
// model versions (versions), the proxies (inspection), the settings
// (settings), the audit log (audit), the accounts (auth), the events
// (events), the API (httpapi, api), the metrics (metrics) and the web
// console (console).
package gateway

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/zonegate/zonegate/firewall"
	"github.com/zonegate/zonegate/gateway/api"
	"github.com/zonegate/zonegate/gateway/audit"
	"github.com/zonegate/zonegate/gateway/auth"
	"github.com/zonegate/zonegate/gateway/changes"
	"github.com/zonegate/zonegate/gateway/events"
	"github.com/zonegate/zonegate/gateway/httpapi"
	"github.com/zonegate/zonegate/gateway/inspection"
	"github.com/zonegate/zonegate/gateway/internal/clock"
	"github.com/zonegate/zonegate/gateway/kernel"
	"github.com/zonegate/zonegate/gateway/settings"
	"github.com/zonegate/zonegate/gateway/versions"
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
	Kernel kernel.Netlink
	Logger *zap.Logger
	// ModbusListen overrides where the Modbus proxy listens; default
	// "[::]:PORT" with the ruleset's proxy port (dual stack).
	ModbusListen string
	// Clock is the time source (confirm deadline, drift polling, account
	// lockout); default the system clock.
	Clock clock.Clock
}

// Version is the daemon's version, set by the command at start.
var Version = "dev"

// Daemon applies a zone model and keeps it applied.
type Daemon struct {
	cfg      Config
	set      settings.Settings // as at the start
	settings *settings.Running // as now: SIGHUP changes some keys
	log      *zap.Logger

	table *kernel.Table         // table inet zonegate
	tx    *changes.Transactions // the change transactions; set by open

	rec        *audit.Recorder // the audit log, once open; without it changes are refused
	stopExport context.CancelFunc
	exported   sync.WaitGroup
	accounts   *auth.Manager

	proxies  *inspection.Proxies      // the proxies of the inspected protocols
	unauth   *httpapi.Unauthenticated // API calls refused with 401, aggregated for the log
	metrics  daemonMetrics            // the Prometheus endpoint (metrics.go)
	pipeline *events.Pipeline         // data-plane events (observe.go); nil before Run
	ifZones  events.InterfaceZones    // ingress interface -> zone, for dropped packets
	nflog    *events.Nflog            // nil when NFLOG cannot be read

	consoleStatus atomic.Pointer[api.ConsoleStatus] // the web console (console.go); nil while off
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
	s := cfg.Settings
	d := &Daemon{cfg: cfg, set: s, log: cfg.Logger, rec: audit.NewRecorder(cfg.Logger.Sugar())}
	d.settings = settings.NewRunning(s, cfg.SettingsPath, d.rec, cfg.Logger)
	d.table = kernel.New(cfg.Kernel, firewall.Options{
		Proxies:  inspection.Ports(s.Firewall.ModbusProxyPort),
		LogGroup: s.Firewall.LogGroup,
	})
	d.proxies = inspection.New(inspection.Config{
		ModbusPort:      s.Firewall.ModbusProxyPort,
		ModbusListen:    cfg.ModbusListen,
		ResponseTimeout: time.Duration(s.Modbus.ResponseTimeout),
		Log:             cfg.Logger,
	})
	d.unauth = httpapi.NewUnauthenticated(cfg.Clock, httpapi.UnauthInterval, d.rec.RecordBestEffort)
	return d
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
	// The proxies' events go to the pipeline, which counts each denial
	// once for the metrics too.
	if err := d.proxies.Start(d.pipeline); err != nil {
		return err
	}
	defer d.proxies.Stop()
	d.tx.Boot(ctx)
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
	stopConsole, err := d.serveConsole()
	if err != nil {
		return err
	}
	defer stopConsole()
	go d.tx.WatchDrift(ctx, time.Duration(d.set.Firewall.DriftCheck))
	for {
		select {
		case <-ctx.Done():
			d.log.Info("stopping; the ruleset stays in the kernel")
			d.tx.Stop() // a pending change rolls back at the next start
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
	store, err := versions.Open(d.set.StateDir, d.set.Changes.Keep)
	if err != nil {
		return err
	}
	d.tx, err = changes.New(changes.Config{
		Kernel:   d.table,
		Store:    store,
		Recorder: d.rec,
		// The proxies' policies and the interfaces' zones follow the model.
		Installers: []changes.Installer{d.proxies, &d.ifZones},
		Clock:      d.cfg.Clock,
		Log:        d.log.Sugar(),
		ModelFile:  d.set.Model,
	})
	if err != nil {
		return err
	}
	last := d.tx.LastKnown()
	if err := d.tx.FailClose(last); err != nil {
		return fmt.Errorf("cannot put the fail-close ruleset in place: %w", err)
	}
	d.openAudit(gatewayName(last))
	if err := d.openAccounts(gatewayName(last)); err != nil {
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
		d.tx.SetKeep(s.Changes.Keep)
	}
	return err
}

// reload re-reads the settings and the model file (SIGHUP).
func (d *Daemon) reload(ctx context.Context) {
	if err := d.ReloadSettings(ctx); err != nil {
		d.log.Error("settings reload failed; the running settings are unchanged", zap.Error(err))
	}
	if err := d.tx.ReloadModelFile(ctx); err != nil {
		d.log.Error("reload failed; the running ruleset is unchanged", zap.Error(err))
	}
	// Certificates, CAs and CRLs of Modbus/TCP Security are files: they
	// change without the model.
	if n, err := d.proxies.ReloadTLS(); err != nil {
		d.log.Error("Modbus/TCP Security files not reloaded; the running ones stay", zap.Error(err))
	} else if n > 0 {
		d.log.Info("Modbus/TCP Security sessions no longer allowed were closed", zap.Int("count", n))
	}
}

// gatewayName names the gateway in the audit log: the last known model's
// gateway, else the host.
func gatewayName(m *zone.Model) string {
	if m != nil {
		return m.Gateway.Name
	}
	if h, err := os.Hostname(); err == nil {
		return h
	}
	return "zonegate"
}
