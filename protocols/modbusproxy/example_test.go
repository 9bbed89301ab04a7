package modbusproxy_test

import (
	"context"
	"net"
	"time"

	"go.uber.org/zap"

	"github.com/zonegate/zonegate/protocols/modbus"
	"github.com/zonegate/zonegate/protocols/modbusproxy"
	"github.com/zonegate/zonegate/protocols/origdst"
)

// A gateway in transparent mode: nftables redirects the conduit's Modbus
// traffic to the proxy's port, the proxy reads the original destination and
// applies the conduit's policy. On SIGHUP the gateway compiles the new
// policy and stores it; open connections use it from their next request.
func Example() {
	v := modbus.Range{Lo: 0, Hi: 1000}
	policy, err := modbus.Compile(modbus.Spec{
		Units: []uint8{1},
		Rules: []modbus.Rule{
			{Access: modbus.AccessRead, Table: modbus.HoldingRegisters, Addresses: modbus.Range{Lo: 0, Hi: 99}},
			{Access: modbus.AccessWrite, Table: modbus.HoldingRegisters, Addresses: modbus.Range{Lo: 10, Hi: 19}, Values: &v},
		},
		MaxRate: 100,
	})
	if err != nil {
		panic(err)
	}
	live := modbus.NewLivePolicy(policy)
	proxy, err := modbusproxy.New(modbusproxy.Config{
		Route: func(c net.Conn) (modbusproxy.Route, error) {
			dst, err := origdst.OriginalDestination(c.(*net.TCPConn))
			return modbusproxy.Route{Upstream: dst, Conduit: "scada-to-plc", Policy: live}, err
		},
		Sink: modbusproxy.ZapSink{Log: zap.NewExample()},
	})
	if err != nil {
		panic(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	go proxy.Serve(ln)

	live.Store(policy) // SIGHUP: swap in a recompiled policy

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	proxy.Shutdown(ctx)
	// Output:
}
