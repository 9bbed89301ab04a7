package zone_test

import (
	"net/netip"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zonegate/zonegate/gateway/zone"
	"github.com/zonegate/zonegate/protocols/registry"
)

func TestAllows(t *testing.T) {
	const path = "../../configs/example-factory.yaml"
	src, err := os.ReadFile(path)
	require.NoError(t, err)
	m, err := zone.Load(path, src)
	require.NoError(t, err)
	a := netip.MustParseAddr
	for _, tc := range []struct {
		name   string
		flow   zone.Flow
		island bool
		want   bool
	}{
		{"conduit to asset", zone.Flow{zone.IPProtoTCP, a("198.18.10.5"), a("198.18.20.10"), 443}, false, true},
		{"conduit to other asset", zone.Flow{zone.IPProtoTCP, a("198.18.10.5"), a("198.18.20.11"), 443}, false, false},
		{"wrong port", zone.Flow{zone.IPProtoTCP, a("198.18.10.5"), a("198.18.20.10"), 444}, false, false},
		{"reverse", zone.Flow{zone.IPProtoTCP, a("198.18.20.10"), a("198.18.10.5"), 443}, false, false},
		{"inside a zone", zone.Flow{zone.IPProtoTCP, a("198.18.10.5"), a("198.18.10.6"), 1}, false, true},
		{"outside every zone", zone.Flow{zone.IPProtoTCP, a("203.0.113.1"), a("198.18.10.6"), 1}, false, true},
		{"ipv6 zone-wide", zone.Flow{zone.IPProtoTCP, a("fd00:10::5"), a("fd00:20::7"), 8443}, false, true},
		{"icmpv6 echo", zone.Flow{zone.IPProtoICMPv6, a("fd00:10::5"), a("fd00:20::7"), 0}, false, true},
		{"icmp where only icmpv6", zone.Flow{zone.IPProtoICMP, a("198.18.10.5"), a("198.18.20.7"), 0}, false, false},
		{"udp", zone.Flow{zone.IPProtoUDP, a("198.18.30.10"), a("198.18.20.11"), 123}, false, true},
		{"from asset not listed", zone.Flow{zone.IPProtoUDP, a("198.18.30.11"), a("198.18.20.11"), 123}, false, false},
		{"island", zone.Flow{zone.IPProtoTCP, a("198.18.10.5"), a("198.18.20.10"), 443}, true, false},
		{"island inside zone", zone.Flow{zone.IPProtoTCP, a("198.18.10.5"), a("198.18.10.6"), 443}, true, true},
	} {
		assert.Equal(t, tc.want, m.Allows(tc.flow, tc.island), tc.name)
	}
}

func TestConduitFor(t *testing.T) {
	const path = "../../configs/example-factory.yaml"
	src, err := os.ReadFile(path)
	require.NoError(t, err)
	m, err := zone.Load(path, src)
	require.NoError(t, err)
	f := zone.Flow{Proto: zone.IPProtoTCP, Src: netip.MustParseAddr("198.18.10.5"), Dst: netip.MustParseAddr("198.18.20.10"), DstPort: 443}
	c := m.ConduitFor(f, nil)
	require.NotNil(t, c, "a conduit allows the flow")
	assert.Nil(t, m.ConduitFor(f, func(*zone.Conduit) bool { return false }), "keep rejects every conduit")
	assert.Equal(t, c, m.ConduitFor(f, func(x *zone.Conduit) bool { return x == c }))
}

// TestInspectNamesRegistered: every protocol the zone model reads a rules
// block for is one this build inspects: the daemon runs its proxy.
func TestInspectNamesRegistered(t *testing.T) {
	assert.Contains(t, registry.Names(), "modbus")
	for _, p := range registry.All() {
		assert.NotNil(t, p.Inspector, "protocol %q has no inspector", p.Name)
	}
}
