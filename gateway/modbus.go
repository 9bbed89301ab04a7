package gateway

import (
	"fmt"
	"net"
	"net/netip"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/zonegate/zonegate/gateway/zone"
	"github.com/zonegate/zonegate/protocols/modbus"
	"github.com/zonegate/zonegate/protocols/modbusproxy"
	"github.com/zonegate/zonegate/protocols/origdst"
)

// modbusPolicies holds one live policy per Modbus-inspected conduit of the
// applied model and routes the proxy's connections to them. A reload
// stores new policies in place, so open connections use them from their
// next request; a conduit that disappears gets a nil policy, which denies.
type modbusPolicies struct {
	mu       sync.RWMutex
	model    *zone.Model
	policies map[string]*modbus.LivePolicy
}

func newModbusPolicies() *modbusPolicies {
	return &modbusPolicies{policies: map[string]*modbus.LivePolicy{}}
}

// compile builds the policies of every inspected conduit of m without
// installing them, so a bad model fails before anything changes.
func compilePolicies(m *zone.Model) (map[string]*modbus.Policy, error) {
	out := map[string]*modbus.Policy{}
	for _, c := range m.Conduits {
		if c.Inspect != zone.InspectModbus || c.Modbus == nil {
			continue
		}
		p, err := modbus.Compile(*c.Modbus)
		if err != nil {
			return nil, fmt.Errorf("conduit %s: modbus policy: %w", c.Name, err)
		}
		out[c.Name] = p
	}
	return out, nil
}

// install makes m and its compiled policies the ones the proxy uses.
func (mp *modbusPolicies) install(m *zone.Model, compiled map[string]*modbus.Policy) {
	mp.mu.Lock()
	defer mp.mu.Unlock()
	for name, live := range mp.policies {
		if _, kept := compiled[name]; !kept {
			live.Store(nil)
		}
	}
	for name, p := range compiled {
		if live, ok := mp.policies[name]; ok {
			live.Store(p)
		} else {
			mp.policies[name] = modbus.NewLivePolicy(p)
		}
	}
	mp.model = m
}

// disallowed reports the proxy connections the installed model no longer
// routes the same way (conduit removed, narrowed, or no longer inspected).
func (mp *modbusPolicies) disallowed(r modbusproxy.Route, client netip.AddrPort) bool {
	mp.mu.RLock()
	defer mp.mu.RUnlock()
	if mp.model == nil {
		return true
	}
	flow := zone.Flow{Proto: unix.IPPROTO_TCP, Src: client.Addr().Unmap(), Dst: r.Upstream.Addr(), DstPort: r.Upstream.Port()}
	cd := mp.model.ConduitFor(flow, func(c *zone.Conduit) bool { return c.Inspect == zone.InspectModbus })
	return cd == nil || cd.Name != r.Conduit
}

// route finds, for a connection the ruleset redirected to the proxy, its
// original destination and the inspected conduit it belongs to.
func (mp *modbusPolicies) route(c net.Conn) (modbusproxy.Route, error) {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return modbusproxy.Route{}, fmt.Errorf("not a TCP connection")
	}
	dst, err := origdst.OriginalDestination(tc)
	if err != nil {
		return modbusproxy.Route{}, fmt.Errorf("original destination: %w", err)
	}
	local := tc.LocalAddr().(*net.TCPAddr).AddrPort()
	if dst.Addr().Unmap() == local.Addr().Unmap() && dst.Port() == local.Port() {
		return modbusproxy.Route{}, fmt.Errorf("connection to the proxy port itself, not redirected by the ruleset")
	}
	src := tc.RemoteAddr().(*net.TCPAddr).AddrPort()
	flow := zone.Flow{Proto: unix.IPPROTO_TCP, Src: src.Addr().Unmap(), Dst: dst.Addr().Unmap(), DstPort: dst.Port()}
	mp.mu.RLock()
	defer mp.mu.RUnlock()
	if mp.model == nil {
		return modbusproxy.Route{}, fmt.Errorf("no Modbus conduit is active (island mode, or no model applied)")
	}
	cd := mp.model.ConduitFor(flow, func(c *zone.Conduit) bool { return c.Inspect == zone.InspectModbus })
	if cd == nil {
		return modbusproxy.Route{}, fmt.Errorf("no Modbus-inspected conduit allows %s -> %s", src, dst)
	}
	return modbusproxy.Route{Upstream: netip.AddrPortFrom(dst.Addr().Unmap(), dst.Port()), Conduit: cd.Name, Policy: mp.policies[cd.Name]}, nil
}
