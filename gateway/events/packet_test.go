package events

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func ipv4(proto byte, src, dst string, l4 []byte) []byte {
	b := make([]byte, 20, 20+len(l4))
	b[0] = 0x45
	b[9] = proto
	s, d := netip.MustParseAddr(src).As4(), netip.MustParseAddr(dst).As4()
	copy(b[12:], s[:])
	copy(b[16:], d[:])
	return append(b, l4...)
}

func ipv6(next byte, src, dst string, l4 []byte) []byte {
	b := make([]byte, 40, 40+len(l4))
	b[0] = 0x60
	b[6] = next
	s, d := netip.MustParseAddr(src).As16(), netip.MustParseAddr(dst).As16()
	copy(b[8:], s[:])
	copy(b[24:], d[:])
	return append(b, l4...)
}

// tcpSYN is a TCP header from sport to dport with the SYN flag.
func tcpSYN(sport, dport uint16) []byte {
	h := make([]byte, 20)
	h[0], h[1], h[2], h[3] = byte(sport>>8), byte(sport), byte(dport>>8), byte(dport)
	h[12], h[13] = 0x50, 0x02
	return h
}

func TestDecode(t *testing.T) {
	var ev Event
	require.True(t, Decode(ipv4(6, "198.18.0.10", "198.18.1.10", tcpSYN(40000, 23)), &ev))
	assert.Equal(t, "tcp", ev.Protocol)
	assert.Equal(t, netip.MustParseAddrPort("198.18.0.10:40000"), ev.Source)
	assert.Equal(t, netip.MustParseAddrPort("198.18.1.10:23"), ev.Destination)
	assert.Equal(t, "tcp flags S len 40", ev.Sample.String())

	ev = Event{}
	require.True(t, Decode(ipv6(17, "fd00:10::5", "fd00:20::7", []byte{0x13, 0x88, 0x00, 0x35, 0, 8, 0, 0}), &ev))
	assert.Equal(t, "udp", ev.Protocol)
	assert.Equal(t, netip.MustParseAddrPort("[fd00:20::7]:53"), ev.Destination)

	// IPv6 with a hop-by-hop header before ICMPv6 echo request.
	ev = Event{}
	hbh := []byte{58, 0, 0, 0, 0, 0, 0, 0}
	require.True(t, Decode(ipv6(0, "fd00:10::5", "fd00:20::7", append(hbh, 128, 0, 0, 0)), &ev))
	assert.Equal(t, "icmpv6", ev.Protocol)
	assert.Equal(t, "icmpv6 type 128 code 0 len 52", ev.Sample.String())
	assert.Zero(t, ev.Destination.Port())

	ev = Event{}
	require.True(t, Decode(ipv4(1, "198.18.0.10", "198.18.1.10", []byte{8, 0, 0, 0}), &ev))
	assert.Equal(t, "icmp type 8 code 0 len 24", ev.Sample.String())

	// A later fragment has no ports.
	ev = Event{}
	frag := ipv4(6, "198.18.0.10", "198.18.1.10", tcpSYN(1, 2))
	frag[7] = 10
	require.True(t, Decode(frag, &ev))
	assert.Zero(t, ev.Destination.Port())
	assert.Contains(t, ev.Sample.String(), "fragment")

	for _, bad := range [][]byte{nil, {0x45, 0}, {0x60}, {0x20, 1, 2, 3}, ipv6(0, "fd00::1", "fd00::2", []byte{0})} {
		ev = Event{}
		if len(bad) >= 40 {
			assert.True(t, Decode(bad, &ev), "truncated extension header: addresses still known")
			continue
		}
		assert.False(t, Decode(bad, &ev), "%x", bad)
	}
}

func TestClassify(t *testing.T) {
	for prefix, want := range map[string][3]string{
		"zonegate spoofed office: ":        {"spoofed", chainSpoofed, reasonSpoofed},
		"zonegate drop forward: ":          {"dropped-flow", chainForward, reasonForward},
		"zonegate drop input: ":            {"dropped-flow", chainInput, reasonInput},
		"zonegate lockdown drop forward: ": {"dropped-flow", chainLockdownFwd, reasonLockdown},
	} {
		var ev Event
		require.True(t, classify(prefix, &ev), prefix)
		assert.Equal(t, want, [3]string{ev.Kind.String(), ev.Chain, ev.Reason}, prefix)
	}
	var ev Event
	assert.False(t, classify("somebody else: ", &ev))
}

func TestDecodeNoAllocs(t *testing.T) {
	pkt := ipv4(6, "198.18.0.10", "198.18.1.10", tcpSYN(40000, 23))
	p := New(Config{})
	allocs := testing.AllocsPerRun(1000, func() {
		var ev Event
		classify("zonegate drop forward: ", &ev)
		Decode(pkt, &ev)
		ev.Zone, ev.Interface = "office", "veth0"
		p.Record(&ev)
	})
	assert.Zero(t, allocs)
}
