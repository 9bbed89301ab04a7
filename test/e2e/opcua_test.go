package e2e

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/gopcua/opcua"
	"github.com/gopcua/opcua/ua"

	"github.com/zonegate/zonegate/test/lab"
	"github.com/zonegate/zonegate/test/uatest"
)

// uaModel is the zone model of the OPC UA end-to-end test: an MES in zone
// mes, two SCADA servers in zone scada behind two inspected conduits, a
// read-only one and one that may write one node.
const uaModel = `version: 1
gateway:
  name: ua-e2e-gw
  management:
    zones: [mes]
zones:
  - name: mes
    importance: medium
    interfaces: [eth0]
    networks: [198.18.120.0/24]
  - name: scada
    importance: high
    interfaces: [eth1]
    networks: [198.18.130.0/24]
assets:
  - {name: mes-1, zone: mes, address: 198.18.120.10}
  - {name: scada-ro, zone: scada, address: 198.18.130.10}
  - {name: scada-rw, zone: scada, address: 198.18.130.11}
conduits:
  - name: mes-read
    from: mes
    to: scada
    to_assets: [scada-ro]
    services: [tcp/4840]
    inspect: opcua
    opcua:
      services: read_only
      client_certificates:
        ca_files: [mes-ca.pem]
  - name: mes-orders
    from: mes
    to: scada
    to_assets: [scada-rw]
    services: [tcp/4840]
    inspect: opcua
    opcua:
      services: [read_only, Write]
      write_nodes: ["ns=1;s=Line3.Order"]
      client_certificates:
        ca_files: [mes-ca.pem]
`

// TestOPCUAPeers runs `zonegate serve` with uaModel in a namespace lab and
// real gopcua peers: a client in the MES zone, servers in the SCADA zone
// (each records the requests it handles). It checks discovery over a
// channel without security, that a session over it is refused, reads over
// Basic256Sha256 Sign, that SignAndEncrypt is refused on a conduit that
// restricts services, that certificates from another CA and expired ones
// are refused, that a Write on the read-only conduit and one to a node not
// in write_nodes are refused while the allowed one passes and is logged,
// and that no denied request ever reached a server.
func TestOPCUAPeers(t *testing.T) {
	requireNetns(t)
	bin := mbBuildZonegate(t)
	dir := t.TempDir()
	ca := uatest.NewCA(t, "MES CA")
	mbWriteFile(t, dir, "mes-ca.pem", string(ca.PEM()))
	model := mbWriteFile(t, dir, "model.yaml", uaModel)
	l := upLab(t, loadModelText(t, uaModel), "zgua1")
	mes := l.Assets["mes-1"].NS

	startServer := func(asset, addr string) *uatest.Server {
		ns := l.Assets[asset].NS
		var srv *uatest.Server
		dial := func(network, address string) (c net.Conn, err error) {
			err = lab.Do(ns, func() error { c, err = net.Dial(network, address); return err })
			return c, err
		}
		if err := lab.Do(ns, func() error { srv = uatest.StartServerDial(t, addr, 4840, dial); return nil }); err != nil {
			t.Fatalf("OPC UA server in %s: %v", ns, err)
		}
		return srv
	}
	ro := startServer("scada-ro", "198.18.130.10")
	rw := startServer("scada-rw", "198.18.130.11")
	d := mbStartDaemon(t, bin, l, model)
	if _, ok := d.log.wait(0, 5*time.Second, mbFields("msg", "OPC UA proxy listening")); !ok {
		t.Fatalf("the OPC UA proxy does not listen:\n%s", d.log)
	}
	good := ca.Issue(t, "mes-1", time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour), 2048)
	ctx := context.Background()

	// client connects from the MES host (the dial happens in its namespace).
	client := func(srv *uatest.Server, policy, mode string, cert uatest.Cert) (c *opcua.Client, err error) {
		err = lab.Do(mes, func() error {
			c, err = uatest.Client(ctx, srv.URL(), policy, mode, cert, srv.CertDER)
			return err
		})
		return c, err
	}
	wantEvent := func(t *testing.T, from int, msg, conduit, reason string) map[string]any {
		t.Helper()
		kv := []string{"msg", msg, "conduit", conduit}
		if reason != "" {
			kv = append(kv, "reason", reason)
		}
		r, ok := d.log.wait(from, 5*time.Second, mbFields(kv...))
		if !ok {
			t.Errorf("no %q event with conduit=%s reason=%s in the daemon's log:\n%s", msg, conduit, reason, d.log)
		}
		return r
	}
	refused := func(t *testing.T, srv *uatest.Server, conduit, policy, mode string, cert uatest.Cert, reason string) {
		t.Helper()
		from := d.log.len()
		c, err := client(srv, policy, mode, cert)
		if err == nil {
			c.Close(ctx)
			t.Fatalf("%s %s connected through conduit %s, want refused with %s", policy, mode, conduit, reason)
		}
		wantEvent(t, from, "opcua denied", conduit, reason)
	}

	t.Run("NoneDiscovery", func(t *testing.T) {
		var eps []*ua.EndpointDescription
		err := lab.Do(mes, func() (err error) { eps, err = opcua.GetEndpoints(ctx, ro.URL()); return err })
		if err != nil {
			t.Fatalf("GetEndpoints over policy None: %v", err)
		}
		if ro.HandledCount("GetEndpointsRequest") == 0 {
			t.Errorf("the server did not see GetEndpoints: %v", ro.Handled())
		}
		_ = eps
	})
	t.Run("NoneSessionRefused", func(t *testing.T) {
		refused(t, ro, "mes-read", "None", "None", uatest.Cert{}, "service_not_allowed_on_none")
	})
	t.Run("SignRead", func(t *testing.T) {
		from := d.log.len()
		c, err := client(ro, "Basic256Sha256", "Sign", good)
		if err != nil {
			t.Fatalf("Basic256Sha256 Sign through mes-read: %v\n%s", err, d.log)
		}
		defer c.Close(ctx)
		v, err := c.Node(uatest.Node(uatest.NodeTemperature)).Value(ctx)
		if err != nil || v.Value() != 71.25 {
			t.Fatalf("read Temperature: %v %v, want 71.25", v, err)
		}
		opened := wantEvent(t, from, "opcua opened", "mes-read", "")
		if opened != nil && (opened["subject"] != "CN=mes-1,O=zonegate tests" || opened["security_policy"] != "Basic256Sha256" ||
			!strings.HasPrefix(opened["fingerprint"].(string), "sha256:")) {
			t.Errorf("channel audit: %v", opened)
		}
		// A Write over the signed channel of a read-only conduit.
		from = d.log.len()
		writes := ro.HandledCount("WriteRequest")
		_, err = c.Write(ctx, &ua.WriteRequest{NodesToWrite: []*ua.WriteValue{{NodeID: uatest.Node(uatest.NodeSetpoint),
			AttributeID: ua.AttributeIDValue, Value: &ua.DataValue{EncodingMask: ua.DataValueValue, Value: ua.MustVariant(99.5)}}}})
		if err == nil {
			t.Errorf("Write on the read-only conduit succeeded")
		}
		wantEvent(t, from, "opcua denied", "mes-read", "service_not_allowed")
		if n := ro.HandledCount("WriteRequest"); n != writes {
			t.Errorf("the denied Write reached the server: %v", ro.Handled())
		}
	})
	t.Run("SignAndEncryptRefused", func(t *testing.T) {
		refused(t, ro, "mes-read", "Basic256Sha256", "SignAndEncrypt", good, "encrypted_channel_refused")
	})
	t.Run("WrongCA", func(t *testing.T) {
		other := uatest.NewCA(t, "Other CA").Issue(t, "intruder", time.Now().Add(-time.Hour), time.Now().Add(time.Hour), 2048)
		refused(t, ro, "mes-read", "Basic256Sha256", "Sign", other, "certificate_untrusted")
	})
	t.Run("Expired", func(t *testing.T) {
		old := ca.Issue(t, "mes-old", time.Now().Add(-48*time.Hour), time.Now().Add(-24*time.Hour), 2048)
		refused(t, ro, "mes-read", "Basic256Sha256", "Sign", old, "certificate_time_invalid")
	})
	t.Run("WriteNodes", func(t *testing.T) {
		c, err := client(rw, "Aes128_Sha256_RsaOaep", "Sign", good)
		if err != nil {
			t.Fatalf("Aes128_Sha256_RsaOaep Sign through mes-orders: %v", err)
		}
		defer c.Close(ctx)
		from := d.log.len()
		resp, err := c.Write(ctx, &ua.WriteRequest{NodesToWrite: []*ua.WriteValue{{NodeID: uatest.Node(uatest.NodeOrder),
			AttributeID: ua.AttributeIDValue, Value: &ua.DataValue{EncodingMask: ua.DataValueValue, Value: ua.MustVariant(int32(4711))}}}})
		if err != nil || resp.Results[0] != ua.StatusOK {
			t.Fatalf("allowed Write of Line3.Order: %v %v", resp, err)
		}
		w := wantEvent(t, from, "opcua write", "mes-orders", "")
		if w != nil && !strings.Contains(w["operations"].(string), "ns=1;s=Line3.Order := 4711 (Int32)") {
			t.Errorf("write audit: %v", w)
		}
		writes := rw.HandledCount("WriteRequest")
		from = d.log.len()
		_, err = c.Write(ctx, &ua.WriteRequest{NodesToWrite: []*ua.WriteValue{{NodeID: uatest.Node(uatest.NodeSetpoint),
			AttributeID: ua.AttributeIDValue, Value: &ua.DataValue{EncodingMask: ua.DataValueValue, Value: ua.MustVariant(1.0)}}}})
		if err == nil {
			t.Errorf("Write of Line3.Setpoint (not in write_nodes) succeeded")
		}
		wantEvent(t, from, "opcua denied", "mes-orders", "write_node_not_allowed")
		if n := rw.HandledCount("WriteRequest"); n != writes {
			t.Errorf("the denied Write reached the server: %v", rw.Handled())
		}
	})
	t.Logf("scada-ro handled %v", ro.Handled())
	t.Logf("scada-rw handled %v", rw.Handled())
}
