// Package gateway is the zonegate daemon: it loads the zone model, applies
// its ruleset, reloads it on request and keeps the gateway's services
// running. Subpackages hold the zone model (zone), the audit log (audit)
// and local accounts (auth).
package gateway

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/zonegate/zonegate/firewall"
	"github.com/zonegate/zonegate/gateway/zone"
	"github.com/zonegate/zonegate/protocols/modbus"
)

// Config is what the daemon needs to run.
type Config struct {
	ModelPath string
	Firewall  firewall.Options
	Target    firewall.Target
	Logger    *zap.Logger
	// ModbusListen is where the Modbus proxy listens for the connections
	// the ruleset redirects; default "[::]:PORT" with the ruleset's proxy
	// port (dual stack, so IPv4 and IPv6 clients both arrive).
	ModbusListen string
	// ModbusSink receives the proxy's security events and device writes;
	// nil: structured logs.
	ModbusSink modbus.EventSink
}

// Daemon applies a zone model and keeps it applied, and runs the Modbus
// proxy of its inspected conduits.
type Daemon struct {
	cfg Config
	log *zap.Logger

	mu       sync.Mutex
	model    *zone.Model // the model whose ruleset is in the kernel; nil before the first apply
	policies *modbusPolicies
	proxy    *modbus.Proxy
}

// New returns a daemon for cfg.
func New(cfg Config) *Daemon {
	log := cfg.Logger
	if log == nil {
		log = zap.NewNop()
	}
	if cfg.Firewall.ModbusProxyPort == 0 {
		cfg.Firewall.ModbusProxyPort = firewall.DefaultModbusProxyPort
	}
	if cfg.ModbusListen == "" {
		cfg.ModbusListen = fmt.Sprintf("[::]:%d", cfg.Firewall.ModbusProxyPort)
	}
	if cfg.ModbusSink == nil {
		cfg.ModbusSink = modbus.ZapSink{Log: log.Named("modbus")}
	}
	return &Daemon{cfg: cfg, log: log, policies: newModbusPolicies()}
}

// ModbusCounters returns the proxy's counters, or nil before Run.
func (d *Daemon) ModbusCounters() *modbus.Counters {
	if d.proxy == nil {
		return nil
	}
	return d.proxy.Counters()
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
	// The proxy listens before the ruleset redirects anything to it.
	ln, err := net.Listen("tcp", d.cfg.ModbusListen)
	if err != nil {
		return fmt.Errorf("Modbus proxy cannot listen on %s: %w (is another zonegate running? pick another port with --modbus-proxy-port)", d.cfg.ModbusListen, err)
	}
	proxy, err := modbus.New(modbus.Config{Route: d.policies.route, Sink: d.cfg.ModbusSink, Log: d.log.Named("modbus")})
	if err != nil {
		ln.Close()
		return err
	}
	d.proxy = proxy
	go func() {
		if err := proxy.Serve(ln); err != nil && !errors.Is(err, modbus.ErrProxyClosed) {
			d.log.Error("Modbus proxy stopped", zap.Error(err))
		}
	}()
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = proxy.Shutdown(sctx)
	}()
	d.log.Info("Modbus proxy listening", zap.String("address", ln.Addr().String()))
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
	policies, err := compilePolicies(m)
	if err != nil {
		return err
	}
	rs := firewall.Compile(m, d.cfg.Firewall)
	res, err := firewall.Apply(d.cfg.Target, rs)
	if err != nil {
		return err
	}
	d.policies.install(m, policies)
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
