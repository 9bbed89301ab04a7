package events

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zonegate/zonegate/gateway/internal/gatewaytest"
	"github.com/zonegate/zonegate/gateway/zone"
)

// TestInterfaceZones: the zones of the applied model's interfaces, from
// the moment it is installed.
func TestInterfaceZones(t *testing.T) {
	var z InterfaceZones
	assert.Empty(t, z.ZoneOf("eth0"), "nothing applied yet")
	m, err := zone.Load("test.yaml", []byte(gatewaytest.Base))
	require.NoError(t, err)
	install, err := z.Prepare(m)
	require.NoError(t, err)
	assert.Empty(t, z.ZoneOf("eth0"), "prepared, not installed")
	install(true)
	assert.Equal(t, "ops", z.ZoneOf("eth0"))
	assert.Equal(t, "cell", z.ZoneOf("eth1"))
	assert.Empty(t, z.ZoneOf("eth9"), "an interface of no zone")
}
