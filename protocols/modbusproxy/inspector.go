package modbusproxy

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"

	"github.com/zonegate/zonegate/protocols/inspect"
	"github.com/zonegate/zonegate/protocols/modbus"
	"github.com/zonegate/zonegate/protocols/proxy"
)

// Inspector runs the Modbus/TCP proxy under the protocol-neutral contract
// of package proxy; it is what the gateway daemon registers for
// `inspect: modbus`.
type Inspector struct{}

var _ proxy.Inspector = Inspector{}

// Protocol implements proxy.Inspector.
func (Inspector) Protocol() inspect.Protocol { return inspect.Modbus }

// Compile implements proxy.Inspector: rules is the conduit's *modbus.Spec.
func (Inspector) Compile(rules any) (proxy.Policy, error) {
	spec, ok := rules.(*modbus.Spec)
	if !ok || spec == nil {
		return nil, fmt.Errorf("modbus inspector: the conduit's rules are %T, not a *modbus.Spec: the conduit needs a `modbus:` block", rules)
	}
	p, err := modbus.Compile(*spec)
	if err != nil {
		return nil, err
	}
	return p, nil
}

// NewProxy implements proxy.Inspector.
func (Inspector) NewProxy(cfg proxy.Config) (proxy.Proxy, error) {
	if cfg.Route == nil {
		return nil, fmt.Errorf("modbus inspector: proxy config has no Route function: set one that returns the upstream and conduit of a connection")
	}
	a := &inspected{live: map[string]*modbus.LivePolicy{}}
	// With a Sink (the daemon's event pipeline) every event goes there,
	// and the pipeline logs them aggregated and rate-limited; without one
	// each event is logged.
	var sink modbus.EventSink = ZapSink{Log: cfg.Log}
	if cfg.Sink != nil {
		sink = neutralSink{out: cfg.Sink}
	}
	p, err := New(Config{
		Route: func(c net.Conn) (Route, error) {
			r, err := cfg.Route(c)
			if err != nil {
				return Route{Upstream: r.Upstream, Conduit: r.Conduit}, err
			}
			return Route{Upstream: r.Upstream, Conduit: r.Conduit, Policy: a.policy(r.Conduit)}, nil
		},
		Sink:            sink,
		Log:             cfg.Log,
		ResponseTimeout: cfg.ResponseTimeout,
	})
	if err != nil {
		return nil, err
	}
	a.Proxy = p
	return a, nil
}

// inspected is a Proxy with one live policy per conduit.
type inspected struct {
	*Proxy
	mu   sync.RWMutex
	live map[string]*modbus.LivePolicy
}

// policy returns the live policy of a conduit, nil when none was installed
// (the proxy then refuses the connection).
func (a *inspected) policy(conduit string) *modbus.LivePolicy {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.live[conduit]
}

// Install implements proxy.Proxy. Live policies are updated in place, so
// open connections use the new policy from their next request; a conduit
// that disappears keeps a live policy holding nil, which denies everything.
func (a *inspected) Install(policies map[string]proxy.Policy) error {
	compiled := make(map[string]*modbus.Policy, len(policies))
	for name, p := range policies {
		mp, ok := p.(*modbus.Policy)
		if !ok || mp == nil {
			return fmt.Errorf("modbus proxy: the policy of conduit %s is %T, not a *modbus.Policy from modbusproxy.Inspector.Compile", name, p)
		}
		compiled[name] = mp
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for name, live := range a.live {
		if _, kept := compiled[name]; !kept {
			live.Store(nil)
		}
	}
	for name, p := range compiled {
		if live, ok := a.live[name]; ok {
			live.Store(p)
		} else {
			a.live[name] = modbus.NewLivePolicy(p)
		}
	}
	return nil
}

// CloseConns implements proxy.Proxy.
func (a *inspected) CloseConns(match func(r proxy.Route, client netip.AddrPort) bool) int {
	return a.Proxy.CloseConns(func(r Route, client netip.AddrPort) bool {
		return match(proxy.Route{Upstream: r.Upstream, Conduit: r.Conduit}, client)
	})
}

// Requests implements proxy.Proxy.
func (a *inspected) Requests() []inspect.RequestCount {
	var out []inspect.RequestCount
	for _, rc := range a.Counters().Snapshot().Requests {
		out = append(out, inspect.RequestCount{Protocol: inspect.Modbus.Name, Conduit: rc.Conduit,
			Function: int(rc.Function), Verdict: rc.Verdict.String(), Count: rc.Count})
	}
	return out
}

// neutralSink passes every event on as an inspect.Event, and to another
// sink if set. Only allowed writes (recorded one by one) carry Details;
// the others carry a Summary, so that a flood of denied requests reports
// each one without allocating.
type neutralSink struct {
	out  inspect.Sink
	also modbus.EventSink
}

// maxValues bounds the written values copied into one event.
const maxValues = 64

// ModbusEvent implements modbus.EventSink.
func (s neutralSink) ModbusEvent(ev *modbus.Event) {
	if s.also != nil {
		s.also.ModbusEvent(ev)
	}
	var kind inspect.EventKind
	switch ev.Kind {
	case modbus.EventWrite:
		kind = inspect.Write
	case modbus.EventDenied:
		kind = inspect.Denied
	case modbus.EventMalformed:
		kind = inspect.Malformed
	case modbus.EventConnRefused:
		kind = inspect.Refused
	default:
		kind = inspect.Failure
	}
	out := inspect.Event{Protocol: inspect.Modbus.Name, Kind: kind, Time: ev.Time, Source: ev.Source,
		Destination: ev.Destination, Conduit: ev.Conduit, Monitor: ev.Mode == modbus.ModeMonitor && (kind == inspect.Denied || kind == inspect.Write)}
	if kind != inspect.Write {
		out.Reason = string(ev.Reason)
	}
	if ev.Function != 0 {
		out.Summary.Add("unit ").Uint(uint64(ev.Unit)).Add(" fc ").Uint(uint64(ev.Function))
		if ev.Request != nil && ev.Request.Table() != 0 {
			out.Summary.Add(" addr ").Uint(uint64(ev.Address))
			if ev.Quantity > 1 {
				out.Summary.Add("-").Uint(uint64(ev.Address) + uint64(ev.Quantity) - 1)
			}
		}
	}
	if kind == inspect.Write {
		d := map[string]string{
			"unit":      strconv.Itoa(int(ev.Unit)),
			"function":  strconv.Itoa(int(ev.Function)),
			"addresses": span(ev.Address, ev.Quantity),
		}
		if ev.Request != nil {
			d["addresses"] = span(ev.Request.WriteAddress, ev.Request.WriteQuantity)
			if vals := values(ev.Request); vals != "" {
				d["values"] = vals
			}
		}
		out.Details = d
	}
	s.out.InspectedEvent(out)
}

// values lists the written values: all of them, or the first maxValues
// followed by " (N values, 64 shown)" so that the cut is visible.
func values(r *modbus.Request) string {
	var b strings.Builder
	n := 0
	for _, v := range r.Values() {
		if n == maxValues {
			break
		}
		if n > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(int(v)))
		n++
	}
	if int(r.WriteQuantity) > n {
		b.WriteString(" (" + strconv.Itoa(int(r.WriteQuantity)) + " values, " + strconv.Itoa(n) + " shown)")
	}
	return b.String()
}

// span formats n addresses from first: "7" or "10-19".
func span(first, n uint16) string {
	if n <= 1 {
		return strconv.Itoa(int(first))
	}
	return fmt.Sprintf("%d-%d", first, int(first)+int(n)-1)
}
