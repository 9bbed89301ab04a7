package gateway

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zonegate/zonegate/firewall"
	"github.com/zonegate/zonegate/gateway/settings"
	"github.com/zonegate/zonegate/protocols/inspect"
)

// TestProxyPorts: the settings key firewall.modbus_proxy_port sets the
// Modbus redirect; every registered inspector has a port.
func TestProxyPorts(t *testing.T) {
	s := settings.Default()
	s.Firewall.ModbusProxyPort = 15020
	ports := proxyPorts(s)
	require.Len(t, ports, len(inspectors))
	assert.Contains(t, ports, firewall.ProxyPort{Inspector: inspect.Modbus.Name, Port: 15020})
	for _, in := range inspectors {
		_, ok := inspect.Lookup(in.Protocol().Name)
		assert.True(t, ok, "inspector %q is registered in package inspect", in.Protocol().Name)
	}
}
