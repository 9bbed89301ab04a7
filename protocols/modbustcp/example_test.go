package modbustcp_test

import (
	"context"
	"net"
	"time"

	"github.com/zonegate/zonegate/protocols/modbus"
	"github.com/zonegate/zonegate/protocols/modbustcp"
	"github.com/zonegate/zonegate/protocols/origdst"
	"github.com/zonegate/zonegate/protocols/proxy"
)

// A gateway in transparent mode: nftables redirects the conduit's Modbus
// traffic to the proxy's port, the proxy reads the original destination and
// applies the conduit's policy. On SIGHUP the gateway compiles the new
// policy and installs it; open connections use it from their next request.
// The proxy's events wait in Events() for the event pipeline
// (events.Pipeline.Follow).
func Example() {
	v := modbus.Range{Lo: 0, Hi: 1000}
	spec := modbus.Spec{
		Units: []uint8{1},
		Rules: []modbus.Rule{
			{Access: modbus.AccessRead, Table: modbus.HoldingRegisters, Addresses: modbus.Range{Lo: 0, Hi: 99}},
			{Access: modbus.AccessWrite, Table: modbus.HoldingRegisters, Addresses: modbus.Range{Lo: 10, Hi: 19}, Values: &v},
		},
		MaxRate: 100,
	}
	var in modbustcp.Inspector
	policy, err := in.Compile(&spec)
	if err != nil {
		panic(err)
	}
	p, err := in.NewProxy(proxy.Config{
		Route: func(c net.Conn) (proxy.Route, error) {
			dst, err := origdst.OriginalDestination(c.(*net.TCPConn))
			return proxy.Route{Upstream: dst, Conduit: "scada-to-plc"}, err
		},
	})
	if err != nil {
		panic(err)
	}
	if err := p.Install(map[string]proxy.Policy{"scada-to-plc": policy}); err != nil {
		panic(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	go p.Serve(ln)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	p.Shutdown(ctx)
	// Output:
}
