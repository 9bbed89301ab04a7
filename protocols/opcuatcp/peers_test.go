package opcuatcp

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	opcuaclient "github.com/gopcua/opcua"
	"github.com/gopcua/opcua/ua"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/zonegate/zonegate/protocols/inspect"
	"github.com/zonegate/zonegate/protocols/opcua"
	"github.com/zonegate/zonegate/protocols/proxy"
	"github.com/zonegate/zonegate/test/uatest"
)

// gateway is the OPC UA proxy on loopback in front of one gopcua server,
// its events collected.
type gateway struct {
	px     proxy.Proxy
	addr   string
	mu     sync.Mutex
	events []inspect.Event
}

func (g *gateway) url() string { return "opc.tcp://" + g.addr }

func (g *gateway) collected() []inspect.Event {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]inspect.Event(nil), g.events...)
}

// reasons lists the reasons of the events of a kind.
func (g *gateway) reasons(kind inspect.EventKind) []string {
	var out []string
	for _, ev := range g.collected() {
		if ev.Kind == kind {
			out = append(out, ev.Reason)
		}
	}
	return out
}

func startGateway(t *testing.T, srv *uatest.Server, spec opcua.Spec) *gateway {
	t.Helper()
	in := Inspector{}
	pol, err := in.Compile(&spec)
	require.NoError(t, err)
	upstream := netip.AddrPortFrom(netip.MustParseAddr(srv.Host), uint16(srv.Port))
	px, err := in.NewProxy(proxy.Config{
		Route: func(net.Conn) (proxy.Route, error) {
			return proxy.Route{Upstream: upstream, Conduit: "mes-to-scada"}, nil
		},
		Log: zap.NewNop(),
	})
	require.NoError(t, err)
	require.NoError(t, px.Install(map[string]proxy.Policy{"mes-to-scada": pol}))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	g := &gateway{px: px, addr: ln.Addr().String()}
	go px.Serve(ln)
	done := make(chan struct{})
	go func() {
		defer close(done)
		px.Events().Follow(func(ev *inspect.Event) {
			g.mu.Lock()
			e := *ev
			if ev.Details != nil {
				e.Details = map[string]string{}
				for k, v := range ev.Details {
					e.Details[k] = v
				}
			}
			g.events = append(g.events, e)
			g.mu.Unlock()
		})
	}()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		px.Shutdown(ctx)
		<-done
	})
	return g
}

func TestPeersLoopback(t *testing.T) {
	srv := uatest.StartServer(t, "127.0.0.1", uatest.FreePort(t, "127.0.0.1"))
	ca := uatest.NewCA(t, "MES CA")
	good := ca.Issue(t, "mes-1", time.Now().Add(-time.Hour), time.Now().Add(time.Hour), 2048)
	spec := opcua.Spec{Services: []string{"read_only"}}
	g := startGateway(t, srv, spec)
	ctx := context.Background()

	t.Run("None discovery", func(t *testing.T) {
		_, err := opcuaclient.GetEndpoints(ctx, g.url())
		require.NoError(t, err)
		assert.Equal(t, 1, srv.HandledCount("GetEndpointsRequest"))
		_, err = uatest.Client(ctx, g.url(), "None", "None", uatest.Cert{}, nil)
		assert.Error(t, err, "a session over None is not discovery")
	})
	t.Run("SignAndEncrypt refused", func(t *testing.T) {
		_, err := uatest.Client(ctx, g.url(), "Basic256Sha256", "SignAndEncrypt", good, srv.CertDER)
		assert.Error(t, err)
	})
	t.Run("Sign read", func(t *testing.T) {
		c, err := uatest.Client(ctx, g.url(), "Basic256Sha256", "Sign", good, srv.CertDER)
		require.NoError(t, err)
		defer c.Close(ctx)
		v, err := c.Node(uatest.Node(uatest.NodeTemperature)).Value(ctx)
		require.NoError(t, err)
		assert.Equal(t, 71.25, v.Value())
		before := srv.HandledCount("WriteRequest")
		_, err = c.Write(ctx, &ua.WriteRequest{NodesToWrite: []*ua.WriteValue{{NodeID: uatest.Node(uatest.NodeSetpoint), AttributeID: ua.AttributeIDValue,
			Value: &ua.DataValue{EncodingMask: ua.DataValueValue, Value: ua.MustVariant(99.0)}}}})
		assert.Error(t, err)
		assert.Equal(t, before, srv.HandledCount("WriteRequest"), "the denied write never reached the server")
	})
	t.Logf("events: %v", g.collected())
	t.Logf("server: %v", srv.Handled())
}

// TestPeersMonitorAndEncrypted: a monitoring conduit reports a Write it
// would refuse and forwards it (the server handles it); a conduit that
// allows any service carries SignAndEncrypt channels, whose bodies the
// gateway cannot read, and audits their opening.
func TestPeersMonitorAndEncrypted(t *testing.T) {
	srv := uatest.StartServer(t, "127.0.0.1", uatest.FreePort(t, "127.0.0.1"))
	ca := uatest.NewCA(t, "MES CA")
	good := ca.Issue(t, "mes-1", time.Now().Add(-time.Hour), time.Now().Add(time.Hour), 2048)
	ctx := context.Background()
	write := &ua.WriteRequest{NodesToWrite: []*ua.WriteValue{{NodeID: uatest.Node(uatest.NodeSetpoint), AttributeID: ua.AttributeIDValue,
		Value: &ua.DataValue{EncodingMask: ua.DataValueValue, Value: ua.MustVariant(42.0)}}}}

	t.Run("monitor", func(t *testing.T) {
		g := startGateway(t, srv, opcua.Spec{Mode: opcua.ModeMonitor, Services: []string{"read_only"}})
		c, err := uatest.Client(ctx, g.url(), "Aes256_Sha256_RsaPss", "Sign", good, srv.CertDER)
		require.NoError(t, err)
		defer c.Close(ctx)
		before := srv.HandledCount("WriteRequest")
		resp, err := c.Write(ctx, write)
		require.NoError(t, err)
		assert.Equal(t, ua.StatusOK, resp.Results[0])
		assert.Equal(t, before+1, srv.HandledCount("WriteRequest"), "forwarded")
		waitFor(t, func() bool {
			for _, ev := range g.collected() {
				if ev.Kind == inspect.Denied && ev.Monitor && ev.Reason == "service_not_allowed" {
					return true
				}
			}
			return false
		})
	})
	t.Run("SignAndEncrypt", func(t *testing.T) {
		g := startGateway(t, srv, opcua.Spec{})
		c, err := uatest.Client(ctx, g.url(), "Basic256Sha256", "SignAndEncrypt", good, srv.CertDER)
		require.NoError(t, err)
		defer c.Close(ctx)
		v, err := c.Node(uatest.Node(uatest.NodeTemperature)).Value(ctx)
		require.NoError(t, err)
		assert.Equal(t, 71.25, v.Value())
		waitFor(t, func() bool { return len(g.reasons(inspect.Opened)) == 1 })
		var encrypted uint64
		for _, rc := range g.px.Requests() {
			if rc.Name == "encrypted" && rc.Verdict == "allowed" {
				encrypted += rc.Count
			}
		}
		assert.NotZero(t, encrypted, "counted as encrypted messages: %v", g.px.Requests())
	})
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("condition not met")
		}
	}
}
