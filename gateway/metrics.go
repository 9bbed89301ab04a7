package gateway

import (
	"runtime"

	"go.uber.org/zap"

	"github.com/zonegate/zonegate/gateway/events"
	"github.com/zonegate/zonegate/gateway/metrics"
)

// The Prometheus endpoint (settings metrics.listen) is package metrics;
// this file gives it the daemon's counters. It starts after the API and,
// like every setting but changes.*, its address applies at the next start:
// a SIGHUP that changes metrics.listen is audited but does not re-bind.

// Commit is the daemon's commit, set by the command at start.
var Commit = "unknown"

// daemonMetrics is the daemon's part of the metrics: the running server.
type daemonMetrics struct {
	server *metrics.Server
}

// serveMetrics starts the metrics endpoint when metrics.listen is set. A
// address that cannot be bound is a settings error: Run returns it.
func (d *Daemon) serveMetrics() (stop func(), err error) {
	addr := d.set.Metrics.Listen
	if addr == "" {
		return func() {}, nil
	}
	ln, err := metrics.Listen(addr)
	if err != nil {
		return nil, err
	}
	d.metrics.server = metrics.Serve(ln, metrics.Config{
		Source: d.metricsSnapshot,
		Build:  metrics.Build{Version: Version, Commit: Commit, GoVersion: runtime.Version()},
		Log:    d.log.Named("metrics"),
	})
	d.log.Info("metrics listening", zap.String("address", "http://"+ln.Addr().String()+metrics.Path))
	return func() {
		if err := d.metrics.server.Close(); err != nil {
			d.log.Warn("metrics server closed with scrapes in progress", zap.Error(err))
		}
	}, nil
}

// metricsSnapshot is the Source of the metrics: the status, plus the
// running conduits' zones, the proxies' open connections and the denials
// the event pipeline counted (each denial once).
func (d *Daemon) metricsSnapshot() (metrics.Snapshot, error) {
	st, err := d.Status()
	s := metrics.Snapshot{Status: st}
	if d.pipeline != nil {
		for _, t := range d.pipeline.Totals(events.Denied) {
			s.Denials = append(s.Denials, metrics.Denial{Protocol: t.Protocol, Conduit: t.Scope, Reason: t.Reason, Monitor: t.Monitor, Count: t.Count})
		}
		s.EventsDropped = d.pipeline.Stats().Dropped
	}
	if m := d.tx.Running(); m != nil {
		for _, c := range m.Conduits {
			s.Conduits = append(s.Conduits, metrics.Conduit{Name: c.Name, From: c.From, To: c.To})
		}
	}
	for _, c := range d.proxies.ActiveConns() {
		s.Connections = append(s.Connections, metrics.Connections(c))
	}
	return s, err
}
