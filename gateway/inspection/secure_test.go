package inspection

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zonegate/zonegate/gateway/internal/gatewaytest"
	"github.com/zonegate/zonegate/gateway/zone"
	"github.com/zonegate/zonegate/protocols/modbus"
	"github.com/zonegate/zonegate/protocols/modbustls/tlstest"
	"github.com/zonegate/zonegate/protocols/proxy"
)

// secureModel adds to gatewaytest.Modbus a secure conduit with roles.
const secureConduit = `  - name: ops-secure
    from: ops
    to: cell
    services: [tcp/802]
    inspect: modbus
    modbus:
      allow: [{read: holding_registers, addresses: 0-9}]
      tls:
        certificate: tls/gw.crt
        key: tls/gw.key
        client_cas: [tls/ca.crt]
        require_role: false
        device_port: 1502
      roles:
        operator: [{read: holding_registers, addresses: 0-99}]
        engineer: [{read: holding_registers, addresses: 0-99}, {write: holding_registers, addresses: 10-19}]
`

// writeTLS mints the files the secure conduit names into dir/tls; the
// gateway's certificate expires in 10 days.
func writeTLS(t *testing.T, dir string) {
	tlsDir := filepath.Join(dir, "tls")
	require.NoError(t, os.MkdirAll(tlsDir, 0o755))
	ca := tlstest.NewCA("plant CA", 365*24*time.Hour)
	gw := ca.Server("gw", 10*24*time.Hour, "198.18.12.10")
	tlstest.Write(tlsDir, "gw.crt", tlstest.CertPEM(gw.Cert))
	tlstest.Write(tlsDir, "gw.key", tlstest.KeyPEM(gw.Key))
	tlstest.Write(tlsDir, "ca.crt", tlstest.CertPEM(ca.Cert))
}

func loadIn(t *testing.T, dir, text string) *zone.Model {
	t.Helper()
	m, err := zone.Load(filepath.Join(dir, "model.yaml"), []byte(text))
	require.NoError(t, err)
	return m
}

// TestSecureReload: the TLS files load with the model (a missing one
// fails Prepare); the certificates' expiry is listed; a reload closes
// the sessions of a role that lost a rule, of a certificate without a
// role once a role is required, and of every role when the conduit loses
// its tls block, and keeps the sessions of a role that only gained rules.
func TestSecureReload(t *testing.T) {
	dir := t.TempDir()
	in := New(Config{})
	text := gatewaytest.Modbus + secureConduit
	_, err := in.Prepare(loadIn(t, dir, text))
	require.ErrorContains(t, err, "conduit ops-secure: modbus tls: tls: open "+filepath.Join(dir, "tls/gw.crt"))

	writeTLS(t, dir)
	install, err := in.Prepare(loadIn(t, dir, text))
	require.NoError(t, err)
	install(false)
	exp := in.CertExpiries()
	require.Len(t, exp, 2)
	assert.Equal(t, "certificate", exp[0].Kind, "soonest first")
	assert.Equal(t, "ops-secure", exp[0].Conduit)
	assert.True(t, exp[0].NotAfter.Before(time.Now().Add(ExpiryWarning)))
	assert.Equal(t, "client_ca", exp[1].Kind)

	route := func(role string) proxy.Route {
		return proxy.Route{Upstream: netip.MustParseAddrPort("198.18.12.10:1502"), Conduit: "ops-secure",
			Identity: proxy.Identity{Role: role, Fingerprint: "ab"}}
	}
	lost := func(role string) bool {
		in.secure.mu.Lock()
		defer in.secure.mu.Unlock()
		return in.secure.lost["ops-secure\x00"+role]
	}
	client := netip.MustParseAddrPort("198.18.11.5:40000")
	assert.False(t, in.disallowed("modbus", route("operator"), client), "a TLS session is routed by its port 802")

	reload := func(text string) {
		t.Helper()
		install, err := in.Prepare(loadIn(t, dir, text))
		require.NoError(t, err)
		install(false)
	}
	reload(strings.Replace(text, "operator: [{read: holding_registers, addresses: 0-99}]", "operator: [{read: holding_registers, addresses: 0-49}]", 1))
	assert.True(t, lost("operator"), "operator's read narrowed")
	assert.False(t, lost("engineer"))
	assert.False(t, lost(""), "no role: the plain rules did not change")

	reload(strings.Replace(text, "{write: holding_registers, addresses: 10-19}", "{write: holding_registers, addresses: 10-29}", 1))
	assert.False(t, lost("engineer"), "engineer only gained")
	assert.False(t, lost("operator"), "operator widened back: gained")

	reload(strings.Replace(text, "require_role: false", "require_role: true", 1))
	assert.True(t, lost(""), "a certificate without a role gets nothing now")
	assert.False(t, lost("operator"))

	reload(gatewaytest.Modbus)
	assert.True(t, lost("operator"), "the conduit is gone")
	assert.True(t, in.secureDisallowed(route("operator")), "no front end, no material: closed")
	assert.Empty(t, in.CertExpiries())
}

func TestLostPermission(t *testing.T) {
	dir := t.TempDir()
	writeTLS(t, dir)
	spec := func(text string) *modbus.Spec {
		m := loadIn(t, dir, gatewaytest.Modbus+text)
		return secureSpec(m.Conduit("ops-secure"))
	}
	base := spec(secureConduit)
	for _, c := range []struct {
		name, from, to, role string
		lost                 bool
	}{
		{"units narrowed", "allow: [{read", "units: [1]\n      allow: [{read", "operator", true},
		{"monitor to enforce is not from base", "allow: [{read", "mode: monitor\n      allow: [{read", "operator", false},
		{"role removed", "        operator: [{read: holding_registers, addresses: 0-99}]\n", "", "operator", true},
		{"values added to a write", "{write: holding_registers, addresses: 10-19}", "{write: holding_registers, addresses: 10-19, values: 0-5}", "engineer", true},
		{"write widened", "{write: holding_registers, addresses: 10-19}", "{write: holding_registers, addresses: 0-19}", "engineer", false},
		{"an unlisted role stays without rules", "allow: [{read", "allow: [{read", "visitor", false},
	} {
		after := spec(strings.Replace(secureConduit, c.from, c.to, 1))
		assert.Equal(t, c.lost, lostPermission(base, after, c.role), c.name)
	}
	assert.True(t, lostPermission(base, nil, "operator"), "the conduit no longer secure")
	assert.True(t, lostPermission(spec(strings.Replace(secureConduit, "allow: [{read", "mode: monitor\n      allow: [{read", 1)), base, "operator"), "monitor to enforce")
}
