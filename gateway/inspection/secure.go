package inspection

import (
	"fmt"
	"net"
	"net/netip"
	"reflect"
	"slices"
	"sync"

	"go.uber.org/zap"

	"github.com/zonegate/zonegate/gateway/zone"
	"github.com/zonegate/zonegate/protocols/modbus"
	"github.com/zonegate/zonegate/protocols/modbus/modbusrules"
	"github.com/zonegate/zonegate/protocols/modbustls"
	"github.com/zonegate/zonegate/protocols/origdst"
	"github.com/zonegate/zonegate/protocols/proxy"
)

// Modbus/TCP Security: connections the ruleset redirects to the Modbus
// proxy whose original destination is port 802 of a conduit with a
// modbus.tls block go to the TLS front end (protocols/modbustls) first,
// which admits the decrypted stream into the Modbus proxy with the
// client's identity and the device's plain port.

// secureState is the front end and what reloads compare.
type secureState struct {
	mu       sync.Mutex
	fe       *modbustls.FrontEnd            // nil before Start
	material map[string]*modbustls.Material // installed; conduit ->
	specs    map[string]*modbus.Spec        // the secure conduits' specs as installed
	lost     map[string]bool                // conduit + "\x00" + role: lost a permission at the last install
	expiries map[string][]modbustls.Expiry  // conduit -> the certificates its material relies on
}

// loadSecure reads the TLS files of every secure conduit of m, so that a
// missing or bad file fails the change before anything is applied.
func loadSecure(m *zone.Model) (map[string]*modbustls.Material, error) {
	out := map[string]*modbustls.Material{}
	for _, c := range m.Conduits {
		spec := secureSpec(c)
		if spec == nil {
			continue
		}
		mat, err := modbustls.Load(spec.Security)
		if err != nil {
			return nil, fmt.Errorf("conduit %s: modbus tls: %w", c.Name, err)
		}
		out[c.Name] = mat
	}
	return out, nil
}

// secureSpec is the Modbus spec of a conduit with a tls block, or nil.
func secureSpec(c *zone.Conduit) *modbus.Spec {
	if c.Inspect != modbusrules.Name {
		return nil
	}
	spec, _ := c.InspectRules().(*modbus.Spec)
	if spec == nil || spec.Security == nil {
		return nil
	}
	return spec
}

// startSecure starts the front end of the Modbus proxy px and returns
// the listener px serves: ln without the connections it diverts.
func (in *Proxies) startSecure(px proxy.Proxy, ln net.Listener, log *zap.Logger) net.Listener {
	st := &in.secure
	st.mu.Lock()
	st.fe = modbustls.New(px, log.Named("tls"))
	if st.material != nil {
		st.fe.Install(st.material)
	}
	st.mu.Unlock()
	return &divertListener{Listener: ln, divert: in.divertSecure}
}

func (in *Proxies) frontEnd() *modbustls.FrontEnd {
	in.secure.mu.Lock()
	defer in.secure.mu.Unlock()
	return in.secure.fe
}

// stopSecure ends the open TLS sessions.
func (in *Proxies) stopSecure() {
	in.secure.mu.Lock()
	fe := in.secure.fe
	in.secure.fe = nil
	in.secure.mu.Unlock()
	if fe != nil {
		fe.Close()
	}
}

// divertSecure takes a connection to port 802 of a secure conduit to the
// TLS front end (in a goroutine of its own) and reports whether it did.
func (in *Proxies) divertSecure(c net.Conn) bool {
	tc, ok := c.(*net.TCPConn)
	fe := in.frontEnd()
	if !ok || fe == nil {
		return false
	}
	dst, err := origdst.OriginalDestination(tc)
	if err != nil || dst.Port() != modbus.SecurePort {
		return false
	}
	r, err := in.route(modbusrules.Name, modbusrules.Protocol.Title, c)
	if err != nil || !fe.Secure(r.Conduit) {
		return false
	}
	in.mu.RLock()
	var port uint16
	if in.model != nil {
		if cd := in.model.Conduit(r.Conduit); cd != nil {
			if spec := secureSpec(cd); spec != nil {
				port = spec.Security.Port()
			}
		}
	}
	in.mu.RUnlock()
	if port == 0 {
		return false
	}
	r.Upstream = netip.AddrPortFrom(r.Upstream.Addr(), port)
	src := tc.RemoteAddr().(*net.TCPAddr).AddrPort()
	go fe.Handle(c, netip.AddrPortFrom(src.Addr().Unmap(), src.Port()), r)
	return true
}

// installSecure installs the TLS material of m's secure conduits and
// notes which roles lost a permission since the last install.
func (in *Proxies) installSecure(m *zone.Model, material map[string]*modbustls.Material) {
	st := &in.secure
	specs := map[string]*modbus.Spec{}
	expiries := map[string][]modbustls.Expiry{}
	if material != nil {
		for _, c := range m.Conduits {
			if spec := secureSpec(c); spec != nil && material[c.Name] != nil {
				specs[c.Name] = spec
				expiries[c.Name] = material[c.Name].Expiries(spec.Security)
			}
		}
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	st.lost = map[string]bool{}
	for name, old := range st.specs {
		for _, role := range append(roleNames(old), "") {
			if lostPermission(old, specs[name], role) {
				st.lost[name+"\x00"+role] = true
			}
		}
	}
	st.specs, st.material, st.expiries = specs, material, expiries
	if st.fe != nil {
		st.fe.Install(material)
	}
}

func roleNames(s *modbus.Spec) []string {
	var out []string
	for _, r := range s.Roles {
		out = append(out, r.Name)
	}
	return out
}

// rulesOf are the rules a TLS client of role gets under s; ok false:
// nothing.
func rulesOf(s *modbus.Spec, role string) ([]modbus.Rule, bool) {
	switch {
	case s == nil:
		return nil, false
	case role == "" && s.Security.RequireRole:
		return nil, false
	case role == "":
		return s.Rules, true
	}
	rs, ok := s.RoleSpec(role)
	return rs.Rules, ok
}

// lostPermission reports whether a client of role had a rule under old
// that it does not have under new (new nil: the conduit is no longer
// secure).
func lostPermission(old, new *modbus.Spec, role string) bool {
	before, _ := rulesOf(old, role)
	after, ok := rulesOf(new, role)
	if !ok {
		return len(before) > 0 || new == nil
	}
	if old.Mode == modbus.ModeMonitor && new.Mode == modbus.ModeEnforce {
		return true
	}
	if new.Units != nil && (old.Units == nil || slices.ContainsFunc(old.Units, func(u uint8) bool { return !slices.Contains(new.Units, u) })) {
		return true // a unit it could reach is no longer allowed
	}
	for _, r := range before {
		if !slices.ContainsFunc(after, func(a modbus.Rule) bool { return covers(a, r) }) {
			return true
		}
	}
	return false
}

// covers reports whether rule a allows everything rule r does. Rules that
// only together cover r do not count: the session is closed, the safe
// side.
func covers(a, r modbus.Rule) bool {
	if a.Access != r.Access {
		return false
	}
	if r.Access == modbus.AccessFunction {
		if a.Function != r.Function || !reflect.DeepEqual(a.MEIType, r.MEIType) {
			return false
		}
		if a.SubFunctions == nil || r.SubFunctions == nil {
			return a.SubFunctions == nil && r.SubFunctions == nil
		}
		for _, sf := range r.SubFunctions {
			if !slices.Contains(a.SubFunctions, sf) {
				return false
			}
		}
		return true
	}
	if a.Table != r.Table || a.Addresses.Lo > r.Addresses.Lo || a.Addresses.Hi < r.Addresses.Hi {
		return false
	}
	switch {
	case a.Values == nil:
		return true
	case r.Values == nil:
		return false
	}
	return a.Values.Lo <= r.Values.Lo && a.Values.Hi >= r.Values.Hi
}

// secureDisallowed reports a TLS session whose certificate the installed
// material no longer accepts (revoked, expired, another CA, the conduit
// no longer secure) or whose role lost a permission at the last install.
func (in *Proxies) secureDisallowed(r proxy.Route) bool {
	if r.Identity.Fingerprint == "" {
		return false
	}
	fe := in.frontEnd()
	if fe == nil || !fe.Valid(r) {
		return true
	}
	in.secure.mu.Lock()
	defer in.secure.mu.Unlock()
	return in.secure.lost[r.Conduit+"\x00"+r.Identity.Role]
}

// CertExpiry is a certificate a secure conduit relies on: the gateway's
// own or a client CA.
type CertExpiry struct {
	Conduit string
	modbustls.Expiry
}

// ExpiryWarning is how early a certificate's coming expiry is reported.
const ExpiryWarning = modbustls.ExpiryWarning

// CertExpiries lists the certificates the installed secure conduits rely
// on, by conduit.
func (in *Proxies) CertExpiries() []CertExpiry {
	in.secure.mu.Lock()
	defer in.secure.mu.Unlock()
	var out []CertExpiry
	for name, es := range in.secure.expiries {
		for _, e := range es {
			out = append(out, CertExpiry{Conduit: name, Expiry: e})
		}
	}
	slices.SortFunc(out, func(a, b CertExpiry) int { return a.NotAfter.Compare(b.NotAfter) })
	return out
}

// TLSSessions is the number of open Modbus/TCP Security sessions.
func (in *Proxies) TLSSessions() int {
	if fe := in.frontEnd(); fe != nil {
		return fe.Sessions()
	}
	return 0
}

// divertListener hands the connections divert takes to someone else and
// returns the others.
type divertListener struct {
	net.Listener
	divert func(net.Conn) bool
}

func (l *divertListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil || !l.divert(c) {
			return c, err
		}
	}
}

// ReloadTLS re-reads the TLS files of the running model's secure
// conduits (SIGHUP: a renewed certificate, a new CRL, while the model
// itself is unchanged), installs them for new handshakes and closes the
// sessions whose certificate they no longer accept. On an error the
// running material stays.
func (in *Proxies) ReloadTLS() (closed int, err error) {
	in.mu.RLock()
	m := in.model
	in.mu.RUnlock()
	if m == nil {
		return 0, nil
	}
	material, err := loadSecure(m)
	if err != nil {
		return 0, err
	}
	in.installSecure(m, material)
	for _, ip := range in.running() {
		if ip.name == modbusrules.Name {
			closed += ip.proxy.CloseConns(func(r proxy.Route, _ netip.AddrPort) bool { return in.secureDisallowed(r) })
		}
	}
	return closed, nil
}
