package modbustcp

import (
	"net"
	"net/netip"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zonegate/zonegate/protocols/inspect"
	"github.com/zonegate/zonegate/protocols/modbus"
	"github.com/zonegate/zonegate/protocols/proxy"
)

// TestInspector runs the proxy through the protocol-neutral contract the
// daemon uses: compile, install per-conduit policies, route, neutral
// events, counters, close connections.
func TestInspector(t *testing.T) {
	plc := startPLC(t)
	var in proxy.Inspector = Inspector{}
	assert.Equal(t, inspect.Protocol{Name: "modbus", Title: "Modbus", DefaultPort: 5020}, in.Protocol())

	_, err := in.Compile(nil)
	require.Error(t, err, "a conduit without a modbus block")
	spec := proxySpec()
	pol, err := in.Compile(&spec)
	require.NoError(t, err)

	var conduit atomic.Value
	conduit.Store("scada-to-plc")
	p, err := in.NewProxy(proxy.Config{
		Route: func(net.Conn) (proxy.Route, error) {
			return proxy.Route{Upstream: plc.addr, Conduit: conduit.Load().(string)}, nil
		},
	})
	require.NoError(t, err)
	events := follow(p.Events())
	require.Error(t, p.Install(map[string]proxy.Policy{"scada-to-plc": "not a policy"}), "a policy of another inspector")
	require.NoError(t, p.Install(map[string]proxy.Policy{"scada-to-plc": pol}))

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	served := make(chan error, 1)
	go func() { served <- p.Serve(ln) }()

	c := dialRaw(t, ln.Addr().String())
	assert.Equal(t, modbus.FuncWriteMultipleRegisters, c.roundTrip(adu(1, 1, wrRegs(10, 5, 6))).Function(), "an allowed write")
	wantException(t, c.roundTrip(adu(2, 1, pdu(6, 50, 1))), 2, modbus.FuncWriteSingleRegister, modbus.ExIllegalDataAddress)

	waitUntil(t, "two events", func() bool { return len(events.all()) == 2 })
	evs := events.all()
	require.Len(t, evs, 2, "one write and one denial")
	client := c.c.LocalAddr().(*net.TCPAddr).AddrPort()
	assert.Equal(t, recEvent{Kind: inspect.Write, Source: client, Destination: plc.addr, Conduit: "scada-to-plc",
		Summary: "unit 1 fc 16 addr 10-11", Details: map[string]string{"unit": "1", "function": "16", "addresses": "10-11", "values": "5,6"}, N: 1}, evs[0])
	assert.Equal(t, inspect.Denied, evs[1].Kind)
	assert.Equal(t, string(modbus.ReasonAddressDenied), evs[1].Reason)
	assert.Nil(t, evs[1].Details, "denials carry a summary, no map")
	assert.Equal(t, "unit 1 fc 6 addr 50", evs[1].Summary)

	assert.ElementsMatch(t, []inspect.RequestCount{
		{Protocol: "modbus", Conduit: "scada-to-plc", Function: 16, Verdict: "allowed", Count: 1},
		{Protocol: "modbus", Conduit: "scada-to-plc", Function: 6, Verdict: "denied", Count: 1},
	}, p.Requests())

	// A reload that drops the conduit: its open connection is denied
	// everything from its next request, and CloseConns sees its route.
	require.NoError(t, p.Install(nil))
	wantException(t, c.roundTrip(adu(3, 1, pdu(3, 0, 1))), 3, modbus.FuncReadHoldingRegisters, modbus.ExIllegalFunction)
	n := p.CloseConns(func(r proxy.Route, from netip.AddrPort) bool {
		return r == proxy.Route{Upstream: plc.addr, Conduit: "scada-to-plc"} && from == client
	})
	assert.Equal(t, 1, n)
	assert.Error(t, c.expectClosed())

	// A conduit that never had a policy: the connection is refused.
	conduit.Store("unknown")
	// The reset may reach the client before its connect returns.
	if refused, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		defer refused.Close()
		_, err = refused.Read(make([]byte, 1))
		assert.Error(t, err, "a refused connection is closed")
	}

	require.NoError(t, p.Shutdown(t.Context()))
	assert.ErrorIs(t, <-served, proxy.ErrClosed)
}
