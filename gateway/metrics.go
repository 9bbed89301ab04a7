package gateway

import (
	"runtime"
	"sync"
	"sync/atomic"

	"go.uber.org/zap"

	"github.com/zonegate/zonegate/gateway/metrics"
	"github.com/zonegate/zonegate/protocols/inspect"
)

// The Prometheus endpoint (settings metrics.listen) is package metrics;
// this file gives it the daemon's counters. It starts after the API and,
// like every setting but changes.*, its address applies at the next start:
// a SIGHUP that changes metrics.listen is audited but does not re-bind.

// Commit is the daemon's commit, set by the command at start.
var Commit = "unknown"

// daemonMetrics is the daemon's part of the metrics: the denial counter
// the proxies' sink feeds, and the running server.
type daemonMetrics struct {
	denials denialCounter
	server  *metrics.Server
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
// running conduits' zones, the proxies' open connections and denials.
func (d *Daemon) metricsSnapshot() (metrics.Snapshot, error) {
	st, err := d.Status()
	s := metrics.Snapshot{Status: st, Denials: d.metrics.denials.snapshot()}
	d.mu.Lock()
	if m := d.running; m != nil {
		for _, c := range m.Conduits {
			s.Conduits = append(s.Conduits, metrics.Conduit{Name: c.Name, From: c.From, To: c.To})
		}
	}
	d.mu.Unlock()
	for _, c := range d.proxies.ActiveConns() {
		s.Connections = append(s.Connections, metrics.Connections(c))
	}
	return s, err
}

// denialCounter counts the denied requests of the inspecting proxies by
// protocol, conduit and reason, from the events they hand the daemon's
// sink. Counting is a read-locked map lookup and an atomic add; only the
// first denial of a key allocates. Keys are bounded: conduits of the
// models run since the start times the protocols' fixed reasons.
type denialCounter struct {
	mu sync.RWMutex
	m  map[denialKey]*atomic.Uint64
}

type denialKey struct {
	protocol, conduit, reason string
	monitor                   bool
}

func (c *denialCounter) count(ev inspect.Event) {
	k := denialKey{ev.Protocol, ev.Conduit, ev.Reason, ev.Monitor}
	c.mu.RLock()
	n := c.m[k]
	c.mu.RUnlock()
	if n == nil {
		c.mu.Lock()
		if c.m == nil {
			c.m = map[denialKey]*atomic.Uint64{}
		}
		if n = c.m[k]; n == nil {
			n = new(atomic.Uint64)
			c.m[k] = n
		}
		c.mu.Unlock()
	}
	n.Add(1)
}

func (c *denialCounter) snapshot() []metrics.Denial {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]metrics.Denial, 0, len(c.m))
	for k, n := range c.m {
		out = append(out, metrics.Denial{Protocol: k.protocol, Conduit: k.conduit, Reason: k.reason, Monitor: k.monitor, Count: n.Load()})
	}
	return out
}

// sink wraps the proxies' sink (nil: none) so that denials are counted
// before they go on.
func (c *denialCounter) sink(next inspect.Sink) inspect.Sink {
	return inspect.SinkFunc(func(ev inspect.Event) {
		if ev.Kind == inspect.Denied {
			c.count(ev)
		}
		if next != nil {
			next.InspectedEvent(ev)
		}
	})
}
