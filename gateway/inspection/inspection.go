// Package inspection runs the deep-inspection proxies of the daemon: one
// proxy per inspector of package protocols/registry (Modbus/TCP today),
// started and stopped with the daemon; it routes each connection the
// ruleset redirects to a proxy by the applied model (original destination
// -> conduit), installs the compiled policies of the inspected conduits
// with every apply, and closes the connections a change no longer allows.
package inspection

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/zonegate/zonegate/firewall"
	"github.com/zonegate/zonegate/gateway/events"
	"github.com/zonegate/zonegate/gateway/zone"
	"github.com/zonegate/zonegate/protocols/inspect"
	"github.com/zonegate/zonegate/protocols/modbus"
	"github.com/zonegate/zonegate/protocols/modbus/modbusrules"
	"github.com/zonegate/zonegate/protocols/origdst"
	"github.com/zonegate/zonegate/protocols/proxy"
	"github.com/zonegate/zonegate/protocols/registry"
)

// inspectors are the inspected protocols this daemon runs, one proxy each:
// the inspectors of package protocols/registry, in its order.
func inspectors() []proxy.Inspector {
	var out []proxy.Inspector
	for _, p := range registry.All() {
		if p.Inspector != nil {
			out = append(out, p.Inspector)
		}
	}
	return out
}

// Config is what the proxies need from the daemon's settings and parts.
type Config struct {
	// ModbusPort is the local port of the Modbus proxy (settings
	// firewall.modbus_proxy_port); 0: the protocol's default port.
	ModbusPort uint16
	// ModbusListen overrides where the Modbus proxy listens; default
	// "[::]:PORT" (dual stack). On port 0 the other protocols' proxies
	// listen on its host, port 0, too (tests).
	ModbusListen string
	// ResponseTimeout is the devices' default time to answer (settings
	// modbus.response_timeout).
	ResponseTimeout time.Duration
	Log             *zap.Logger
}

// Proxies runs the proxy of every inspector, routes the connections the
// ruleset redirects to them by the applied model, installs the policies of
// the inspected conduits on every apply and closes the connections a
// change no longer allows.
type Proxies struct {
	cfg     Config
	mu      sync.RWMutex
	model   *zone.Model       // nil while no conduit is active (island mode, nothing applied)
	proxies []*inspectorProxy // started by Start
	// secure terminates Modbus/TCP Security (tcp/802 of conduits with
	// modbus.tls) before the Modbus proxy; secure.go.
	secure secureState
}

// New prepares the proxies; Start starts them. Policies installed before
// Start (Prepare) are the ones the proxies start with.
func New(cfg Config) *Proxies {
	if cfg.Log == nil {
		cfg.Log = zap.NewNop()
	}
	return &Proxies{cfg: cfg}
}

// running returns the running proxies.
func (in *Proxies) running() []*inspectorProxy {
	in.mu.RLock()
	defer in.mu.RUnlock()
	return in.proxies
}

// inspectorProxy is the running proxy of one inspector.
type inspectorProxy struct {
	name  string // proxy.Inspector.Protocol().Name
	proxy proxy.Proxy
}

// inspectionPolicies are compiled policies: inspector name -> conduit ->
// policy.
type inspectionPolicies map[string]map[string]proxy.Policy

// inspectorFor returns the registered inspector called name.
func inspectorFor(name string) (proxy.Inspector, bool) {
	p, ok := registry.Lookup(name)
	return p.Inspector, ok && p.Inspector != nil
}

// compilePolicies builds the policies of every inspected conduit of m
// without installing them, so a bad model fails before anything changes.
func compilePolicies(m *zone.Model) (inspectionPolicies, error) {
	out := inspectionPolicies{}
	for _, in := range inspectors() {
		out[in.Protocol().Name] = map[string]proxy.Policy{}
	}
	for _, c := range m.Conduits {
		if !c.Inspected() {
			continue
		}
		in, ok := inspectorFor(c.Inspect)
		if !ok {
			return nil, fmt.Errorf("conduit %s: `inspect: %s` has no inspector in this build of zonegate: remove the inspection or install a build that has it", c.Name, c.Inspect)
		}
		p, err := in.Compile(c.InspectRules())
		if err != nil {
			return nil, fmt.Errorf("conduit %s: %s policy: %w", c.Name, c.Inspect, err)
		}
		out[c.Inspect][c.Name] = p
	}
	return out, nil
}

// Ports returns the local port of every inspector's proxy, with the Modbus
// proxy on modbusPort (settings firewall.modbus_proxy_port; 0: its default
// port): where the ruleset redirects the inspected conduits.
func Ports(modbusPort uint16) []firewall.ProxyPort {
	var out []firewall.ProxyPort
	for _, in := range inspectors() {
		out = append(out, proxyPort(modbusPort, in.Protocol()))
	}
	return out
}

// proxyPort is the local port of a protocol's proxy: the settings'
// firewall.modbus_proxy_port for Modbus, the protocol's default port for
// the others.
func proxyPort(modbusPort uint16, p inspect.Protocol) firewall.ProxyPort {
	port := p.DefaultPort
	if p.Name == modbusrules.Name && modbusPort != 0 {
		port = modbusPort
	}
	return firewall.ProxyPort{Inspector: p.Name, Port: port}
}

// listenAddress is where the proxy of an inspector listens: dual stack on
// its port, or Config.ModbusListen for Modbus when set.
// An override on port 0 (tests: "127.0.0.1:0") puts every proxy on that
// host, each on a port of its own, so that no test listens on the
// default ports of the machine.
func (in *Proxies) listenAddress(pp firewall.ProxyPort) string {
	if o := in.cfg.ModbusListen; o != "" {
		if pp.Inspector == modbusrules.Name {
			return o
		}
		if host, port, err := net.SplitHostPort(o); err == nil && port == "0" {
			return net.JoinHostPort(host, "0")
		}
	}
	return fmt.Sprintf("[::]:%d", pp.Port)
}

// Start starts the proxy of every registered inspector. Their data-plane
// events go to the event pipeline p, which drains them from the proxies'
// queues and aggregates them for the daemon log, the audit log and the
// metrics (nil: events are only counted by the proxies). When one cannot
// start, none runs.
func (in *Proxies) Start(p *events.Pipeline) error {
	for _, insp := range inspectors() {
		pp := proxyPort(in.cfg.ModbusPort, insp.Protocol())
		title := insp.Protocol().Title
		addr := in.listenAddress(pp)
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			in.Stop()
			hint := "is another zonegate or another program using the port?"
			if pp.Inspector == modbusrules.Name {
				hint = "is another zonegate running? set firewall.modbus_proxy_port"
			}
			return fmt.Errorf("%s proxy cannot listen on %s: %w (%s)", title, addr, err, hint)
		}
		log := in.cfg.Log.Named(pp.Inspector)
		name := pp.Inspector
		px, err := insp.NewProxy(proxy.Config{
			Route: func(c net.Conn) (proxy.Route, error) { return in.route(name, title, c) },
			Log:   log,
			// Inspectors of other protocols read it as their default too.
			ResponseTimeout: in.cfg.ResponseTimeout,
		})
		if err != nil {
			ln.Close()
			in.Stop()
			return fmt.Errorf("start the %s proxy: %w", title, err)
		}
		if p != nil {
			p.Follow(px.Events())
		}
		in.mu.Lock()
		in.proxies = append(in.proxies, &inspectorProxy{name: name, proxy: px})
		in.mu.Unlock()
		if name == modbusrules.Name {
			ln = in.startSecure(px, ln, log)
		}
		go func() {
			if err := px.Serve(ln); err != nil && !errors.Is(err, proxy.ErrClosed) {
				log.Error(title+" proxy stopped: inspected connections are refused until zonegate restarts", zap.Error(err))
			}
		}()
		log.Info(title+" proxy listening", zap.String("address", ln.Addr().String()))
	}
	return nil
}

// Stop shuts every proxy down, giving open connections five seconds to
// receive the answers of the requests already read.
func (in *Proxies) Stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	in.mu.Lock()
	proxies := in.proxies
	in.proxies = nil
	in.mu.Unlock()
	for _, ip := range proxies {
		if err := ip.proxy.Shutdown(ctx); err != nil {
			in.cfg.Log.Warn("proxy connections closed before their requests were answered", zap.String("inspector", ip.name), zap.Error(err))
		}
	}
	// The TLS sessions ended with their proxy connections (answers
	// delivered); this ends the handshakes still running.
	in.stopSecure()
}

// install makes m and its compiled policies the ones the proxies use, and
// closes the connections the proxies hold that m no longer routes the same
// way. In island mode there is no conduit: the proxies take no connection
// and drop the ones they have.
// Prepare compiles the policies of m's inspected conduits without
// installing them, so a model that cannot be inspected fails before
// anything changes; install makes them the proxies' policies once the
// ruleset is applied (none in island mode).
func (in *Proxies) Prepare(m *zone.Model) (install func(island bool), err error) {
	policies, err := compilePolicies(m)
	if err != nil {
		return nil, err
	}
	material, err := loadSecure(m)
	if err != nil {
		return nil, err
	}
	return func(island bool) {
		if island {
			material = nil
		}
		in.installSecure(m, material)
		in.install(m, island, policies, in.cfg.Log)
	}, nil
}

// Cut implements changes.Cutter: before the ruleset of m (island mode:
// none of its conduits) is applied and the conntrack entries it no longer
// allows are flushed, the proxies stop routing new connections m does not
// route and reset the ones they hold that m no longer allows, while the
// redirect's NAT state still gives the resets the addresses the clients
// know. The proxies drop the device connections no client uses any more.
func (in *Proxies) Cut(m *zone.Model, island bool) {
	in.routeBy(m, island)
	for _, ip := range in.running() {
		if n := ip.proxy.CloseConns(func(r proxy.Route, client netip.AddrPort) bool { return in.disallowed(ip.name, r, client) }); n > 0 {
			in.cfg.Log.Info("inspected connections no longer allowed were reset before the ruleset change", zap.String("inspector", ip.name), zap.Int("count", n))
		}
	}
}

// routeBy makes m the model new connections are routed by (island mode:
// none) and returns it.
func (in *Proxies) routeBy(m *zone.Model, island bool) *zone.Model {
	if island {
		m = nil
	}
	in.mu.Lock()
	in.model = m
	in.mu.Unlock()
	return m
}

func (in *Proxies) install(m *zone.Model, island bool, compiled inspectionPolicies, log *zap.Logger) {
	m = in.routeBy(m, island)
	for _, ip := range in.running() {
		policies := compiled[ip.name]
		if m == nil {
			policies = nil
		}
		if err := ip.proxy.Install(policies); err != nil {
			// A policy compiled by another inspector: a bug, not a model
			// problem. The proxy keeps its previous policies; the
			// connections the model no longer allows are closed below.
			log.Error("proxy policies not installed", zap.String("inspector", ip.name), zap.Error(err))
		}
		if n := ip.proxy.CloseConns(func(r proxy.Route, client netip.AddrPort) bool {
			return in.disallowed(ip.name, r, client) || in.secureDisallowed(r)
		}); n > 0 {
			log.Info("inspected connections no longer allowed were closed", zap.String("inspector", ip.name), zap.Int("count", n))
		}
	}
}

// disallowed reports the proxy connections the installed model no longer
// routes the same way (conduit removed, narrowed, or no longer inspected
// by this inspector).
func (in *Proxies) disallowed(name string, r proxy.Route, client netip.AddrPort) bool {
	in.mu.RLock()
	defer in.mu.RUnlock()
	if in.model == nil {
		return true
	}
	port := r.Upstream.Port()
	if r.Identity.Fingerprint != "" {
		port = modbus.SecurePort // the client's flow went to port 802
	}
	flow := zone.Flow{Proto: zone.IPProtoTCP, Src: client.Addr().Unmap(), Dst: r.Upstream.Addr(), DstPort: port}
	cd := in.model.ConduitFor(flow, func(c *zone.Conduit) bool { return c.Inspect == name })
	return cd == nil || cd.Name != r.Conduit
}

// route finds, for a connection the ruleset redirected to the proxy of
// inspector name, its original destination and the conduit it belongs to.
func (in *Proxies) route(name, title string, c net.Conn) (proxy.Route, error) {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return proxy.Route{}, fmt.Errorf("not a TCP connection")
	}
	dst, err := origdst.OriginalDestination(tc)
	if err != nil {
		return proxy.Route{}, fmt.Errorf("original destination: %w", err)
	}
	local := tc.LocalAddr().(*net.TCPAddr).AddrPort()
	if dst.Addr().Unmap() == local.Addr().Unmap() && dst.Port() == local.Port() {
		return proxy.Route{}, fmt.Errorf("connection to the proxy port itself, not redirected by the ruleset")
	}
	src := tc.RemoteAddr().(*net.TCPAddr).AddrPort()
	flow := zone.Flow{Proto: zone.IPProtoTCP, Src: src.Addr().Unmap(), Dst: dst.Addr().Unmap(), DstPort: dst.Port()}
	in.mu.RLock()
	defer in.mu.RUnlock()
	if in.model == nil {
		return proxy.Route{}, fmt.Errorf("no %s conduit is active (island mode, or no model applied)", title)
	}
	cd := in.model.ConduitFor(flow, func(c *zone.Conduit) bool { return c.Inspect == name })
	if cd == nil {
		return proxy.Route{}, fmt.Errorf("no %s-inspected conduit allows %s -> %s", title, src, dst)
	}
	return proxy.Route{Upstream: netip.AddrPortFrom(dst.Addr().Unmap(), dst.Port()), Conduit: cd.Name}, nil
}

// Requests returns the request counters of every proxy.
func (in *Proxies) Requests() []inspect.RequestCount {
	var out []inspect.RequestCount
	for _, ip := range in.running() {
		out = append(out, ip.proxy.Requests()...)
	}
	return out
}

// Conns are the open client connections of one protocol's proxy.
type Conns struct {
	Protocol string
	Open     int
}

// ActiveConns returns the open client connections of every proxy.
func (in *Proxies) ActiveConns() []Conns {
	var out []Conns
	for _, ip := range in.running() {
		out = append(out, Conns{Protocol: ip.name, Open: ip.proxy.ActiveConns()})
	}
	return out
}

// Protocols names the inspectors whose proxies run.
func (in *Proxies) Protocols() []string {
	var out []string
	for _, ip := range in.running() {
		out = append(out, ip.name)
	}
	return out
}
