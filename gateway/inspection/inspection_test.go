package inspection

import (
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/zonegate/zonegate/firewall"
	"github.com/zonegate/zonegate/gateway/events"
	"github.com/zonegate/zonegate/gateway/internal/gatewaytest"
	"github.com/zonegate/zonegate/gateway/zone"
	"github.com/zonegate/zonegate/protocols/modbus/modbusrules"
	"github.com/zonegate/zonegate/protocols/proxy"
	"github.com/zonegate/zonegate/protocols/registry"
)

// TestProxyPorts: the settings key firewall.modbus_proxy_port sets the
// Modbus redirect; every registered inspector has a port.
func TestProxyPorts(t *testing.T) {
	ports := Ports(15020)
	require.Len(t, ports, len(inspectors()))
	require.NotEmpty(t, ports)
	assert.Contains(t, ports, firewall.ProxyPort{Inspector: modbusrules.Name, Port: 15020})
	for _, p := range registry.All() {
		if p.Name != modbusrules.Name {
			assert.Contains(t, ports, firewall.ProxyPort{Inspector: p.Name, Port: p.DefaultPort})
		}
	}
	assert.Equal(t, firewall.ProxyPort{Inspector: modbusrules.Name, Port: modbusrules.Protocol.DefaultPort}, Ports(0)[0], "0: the default port")
}

// modbusModel has a Modbus-inspected conduit ops-to-plc from ops
// (198.18.11.0/24) to cell (198.18.12.0/24) and a plain one.
var modbusModel = gatewaytest.Modbus

func loadModel(t *testing.T, text string) *zone.Model {
	t.Helper()
	m, err := zone.Load("test.yaml", []byte(text))
	require.NoError(t, err)
	return m
}

// TestPrepareAndRoute: Prepare compiles the inspected conduits' policies
// and its install makes the model the one connections are routed by: a
// connection stays allowed while its conduit still inspects the flow, and
// is closed when the conduit is gone, routes another way, or island mode
// is on.
func TestPrepareAndRoute(t *testing.T) {
	in := New(Config{})
	m := loadModel(t, modbusModel)
	install, err := in.Prepare(m)
	require.NoError(t, err)
	client := netip.MustParseAddrPort("198.18.11.5:40000")
	toPLC := proxy.Route{Upstream: netip.MustParseAddrPort("198.18.12.10:502"), Conduit: "ops-to-plc"}
	assert.True(t, in.disallowed(modbusrules.Name, toPLC, client), "nothing installed yet")

	install(false)
	assert.False(t, in.disallowed(modbusrules.Name, toPLC, client))
	assert.True(t, in.disallowed(modbusrules.Name, proxy.Route{Upstream: toPLC.Upstream, Conduit: "ops-to-cell"}, client), "routed by another conduit")
	assert.True(t, in.disallowed(modbusrules.Name, toPLC, netip.MustParseAddrPort("198.18.12.99:40000")), "from a zone the conduit does not come from")
	assert.True(t, in.disallowed("opcua", toPLC, client), "not inspected by that inspector")

	install(true)
	assert.True(t, in.disallowed(modbusrules.Name, toPLC, client), "island mode: no conduit")
}

// TestStartServesAndStops: the proxies listen where the configuration
// says, refuse a connection the ruleset did not redirect (closing it and
// reporting it to the event pipeline), and stop.
func TestStartServesAndStops(t *testing.T) {
	core, logs := observer.New(zap.InfoLevel)
	in := New(Config{ModbusListen: "127.0.0.1:0", ResponseTimeout: time.Second, Log: zap.New(core)})
	install, err := in.Prepare(loadModel(t, modbusModel))
	require.NoError(t, err)
	install(false)
	pipeline := events.New(events.Config{})
	require.NoError(t, in.Start(pipeline))
	defer in.Stop()
	assert.Equal(t, []string{modbusrules.Name, "opcua"}, in.Protocols())
	listening := logs.FilterMessageSnippet("proxy listening").All()
	require.Len(t, listening, 2)
	for _, l := range listening {
		assert.True(t, strings.HasPrefix(l.ContextMap()["address"].(string), "127.0.0.1:"), "every proxy on the test's host: %v", l.ContextMap())
	}
	addr, _ := listening[0].ContextMap()["address"].(string)
	require.NotEmpty(t, addr)

	// Not redirected by a ruleset: no original destination, or the proxy
	// port itself.
	c, err := net.Dial("tcp", addr)
	if err == nil { // else reset before the dial returned
		defer c.Close()
		_, err = c.Read(make([]byte, 1)) // a hang here is the test's timeout
	}
	assert.Error(t, err, "the connection is refused (closed or reset)")
	waitFor(t, func() bool { return pipeline.Stats().Events[events.Refused.String()] == 1 }) // the refused connection is reported
	assert.Equal(t, []Conns{{Protocol: modbusrules.Name}, {Protocol: "opcua"}}, in.ActiveConns())
	assert.Empty(t, in.Requests(), "no request was read")

	// A second set of proxies on the same address cannot start.
	again := New(Config{ModbusListen: addr})
	assert.ErrorContains(t, again.Start(nil), "set firewall.modbus_proxy_port")
	assert.Empty(t, again.Protocols())

	in.Stop()
	assert.Empty(t, in.Protocols())
}
