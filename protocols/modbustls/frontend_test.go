package modbustls_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	svmodbus "github.com/simonvetter/modbus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zonegate/zonegate/protocols/inspect"
	"github.com/zonegate/zonegate/protocols/modbus"
	"github.com/zonegate/zonegate/protocols/modbustcp"
	"github.com/zonegate/zonegate/protocols/modbustls"
	"github.com/zonegate/zonegate/protocols/modbustls/tlstest"
	"github.com/zonegate/zonegate/protocols/proxy"
)

// hang only keeps a broken test from hanging; nothing passes or fails on
// time.
const hang = 20 * time.Second

// plc is a github.com/simonvetter/modbus server that logs every request
// that reaches it: the PLC's own account of what passed the gateway.
type plc struct {
	mu  sync.Mutex
	log []string
	hr  [100]uint16
}

func (p *plc) note(s string) {
	p.mu.Lock()
	p.log = append(p.log, s)
	p.mu.Unlock()
}

func (p *plc) Log() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.log...)
}

func (p *plc) HandleCoils(req *svmodbus.CoilsRequest) ([]bool, error) {
	return nil, svmodbus.ErrIllegalFunction
}
func (p *plc) HandleDiscreteInputs(req *svmodbus.DiscreteInputsRequest) ([]bool, error) {
	return nil, svmodbus.ErrIllegalFunction
}
func (p *plc) HandleInputRegisters(req *svmodbus.InputRegistersRequest) ([]uint16, error) {
	return nil, svmodbus.ErrIllegalFunction
}
func (p *plc) HandleHoldingRegisters(req *svmodbus.HoldingRegistersRequest) ([]uint16, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if int(req.Addr)+int(req.Quantity) > len(p.hr) {
		return nil, svmodbus.ErrIllegalDataAddress
	}
	if req.IsWrite {
		p.log = append(p.log, fmt.Sprintf("write hr %d = %v", req.Addr, req.Args))
		copy(p.hr[req.Addr:], req.Args)
		return nil, nil
	}
	p.log = append(p.log, fmt.Sprintf("read hr %d x%d", req.Addr, req.Quantity))
	return append([]uint16(nil), p.hr[req.Addr:req.Addr+req.Quantity]...), nil
}

func startPLC(t *testing.T) (*plc, netip.AddrPort) {
	p := &plc{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().(*net.TCPAddr).AddrPort()
	ln.Close()
	srv, err := svmodbus.NewServer(&svmodbus.ServerConfiguration{URL: "tcp://" + addr.String(), Timeout: time.Minute, MaxClients: 100,
		Logger: log.New(io.Discard, "", 0)}, p)
	require.NoError(t, err)
	require.NoError(t, srv.Start())
	t.Cleanup(func() { srv.Stop() })
	return p, addr
}

// env is a gateway in miniature: the TLS front end on a loopback port
// before the Modbus proxy engine, which forwards to the PLC.
type env struct {
	t      *testing.T
	dir    string
	ca     *tlstest.CA
	addr   string
	fe     *modbustls.FrontEnd
	px     proxy.Proxy
	plc    *plc
	sec    *modbus.Security
	spec   *modbus.Spec
	mu     sync.Mutex
	events []inspect.Event
	roots  *x509.CertPool // what clients trust
}

const conduit = "scada-tls"

var rolesYAML = []modbus.RoleRules{
	{Name: "operator", Rules: []modbus.Rule{{Access: modbus.AccessRead, Table: modbus.HoldingRegisters, Addresses: modbus.Range{Lo: 0, Hi: 99}}}},
	{Name: "engineer", Rules: []modbus.Rule{
		{Access: modbus.AccessRead, Table: modbus.HoldingRegisters, Addresses: modbus.Range{Lo: 0, Hi: 99}},
		{Access: modbus.AccessWrite, Table: modbus.HoldingRegisters, Addresses: modbus.Range{Lo: 10, Hi: 19}}}},
}

func newEnv(t *testing.T, requireRole bool) *env {
	e := &env{t: t, dir: t.TempDir(), ca: tlstest.NewCA("plant CA", 24*time.Hour)}
	e.roots = x509.NewCertPool()
	e.roots.AddCert(e.ca.Cert)
	gw := e.ca.Server("gateway", 24*time.Hour, "127.0.0.1")
	e.sec = &modbus.Security{
		Certificate: modbus.File{Path: tlstest.Write(e.dir, "gw.crt", tlstest.CertPEM(gw.Cert))},
		Key:         modbus.File{Path: tlstest.Write(e.dir, "gw.key", tlstest.KeyPEM(gw.Key))},
		ClientCAs:   []modbus.File{{Path: tlstest.Write(e.dir, "ca.crt", tlstest.CertPEM(e.ca.Cert))}},
		CRL:         &modbus.File{Path: tlstest.Write(e.dir, "ca.crl", e.ca.CRL())},
		RequireRole: requireRole,
	}
	e.start()
	return e
}

// start runs the PLC, the proxy and the front end for e.sec.
func (e *env) start() {
	t := e.t
	var plcAddr netip.AddrPort
	e.plc, plcAddr = startPLC(t)
	e.spec = &modbus.Spec{Rules: []modbus.Rule{{Access: modbus.AccessRead, Table: modbus.HoldingRegisters, Addresses: modbus.Range{Lo: 0, Hi: 4}}},
		Security: e.sec, Roles: rolesYAML}
	var err error
	e.px, err = modbustcp.Inspector{}.NewProxy(proxy.Config{Loops: 1})
	require.NoError(t, err)
	t.Cleanup(func() { e.px.(*proxy.Engine).Close() })
	e.fe = modbustls.New(e.px, nil)
	t.Cleanup(e.fe.Close)
	e.install()
	go func() {
		for {
			select {
			case <-e.px.Events().Ready():
				e.px.Events().Drain(func(ev *inspect.Event) {
					e.mu.Lock()
					c := *ev
					e.events = append(e.events, c)
					e.mu.Unlock()
				})
			case <-e.px.Events().Done():
				return
			}
		}
	}()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	e.addr = ln.Addr().String()
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			client := nc.RemoteAddr().(*net.TCPAddr).AddrPort()
			go e.fe.Handle(nc, client, proxy.Route{Upstream: plcAddr, Conduit: conduit})
		}
	}()
}

// install loads the material and compiles the policy of the spec as it
// stands, as a reload does.
func (e *env) install() {
	m, err := modbustls.Load(e.sec)
	require.NoError(e.t, err)
	pol, err := modbustcp.Inspector{}.Compile(e.spec)
	require.NoError(e.t, err)
	require.NoError(e.t, e.px.Install(map[string]proxy.Policy{conduit: pol}))
	e.fe.Install(map[string]*modbustls.Material{conduit: m})
}

func (e *env) client(leaf *tlstest.Leaf) *svmodbus.ModbusClient {
	cert := leaf.TLS()
	return e.clientCert(&cert)
}

func (e *env) clientCert(cert *tls.Certificate) *svmodbus.ModbusClient {
	c, err := svmodbus.NewClient(&svmodbus.ClientConfiguration{URL: "tcp+tls://" + e.addr, Timeout: hang,
		TLSClientCert: cert, TLSRootCAs: e.roots, Logger: log.New(io.Discard, "", 0)})
	require.NoError(e.t, err)
	return c
}

func (e *env) open(leaf *tlstest.Leaf) *svmodbus.ModbusClient {
	c := e.client(leaf)
	require.NoError(e.t, c.Open())
	e.t.Cleanup(func() { c.Close() })
	return c
}

// waitEvent waits for an event that match accepts.
func (e *env) waitEvent(match func(ev *inspect.Event) bool) inspect.Event {
	deadline := time.Now().Add(hang)
	for time.Now().Before(deadline) {
		e.mu.Lock()
		for i := range e.events {
			if match(&e.events[i]) {
				ev := e.events[i]
				e.mu.Unlock()
				return ev
			}
		}
		e.mu.Unlock()
		time.Sleep(5 * time.Millisecond)
	}
	e.t.Fatalf("no such event; have %d events", len(e.events))
	return inspect.Event{}
}

func TestRolesThroughTLS(t *testing.T) {
	e := newEnv(t, true)
	op := e.open(e.ca.Client("op-1", tlstest.ClientOpts{Roles: []string{"operator"}}))
	v, err := op.ReadRegisters(50, 2, svmodbus.HOLDING_REGISTER)
	require.NoError(t, err, "operator reads")
	assert.Equal(t, []uint16{0, 0}, v)
	err = op.WriteRegister(12, 7)
	assert.ErrorIs(t, err, svmodbus.ErrIllegalFunction, "operator's write is denied with exception 01")

	engLeaf := e.ca.Client("eng-1", tlstest.ClientOpts{Roles: []string{"engineer"}})
	eng := e.open(engLeaf)
	require.NoError(t, eng.WriteRegister(12, 42), "engineer writes within 10-19")
	assert.ErrorIs(t, eng.WriteRegister(20, 1), svmodbus.ErrIllegalDataAddress, "outside the engineer's range")
	v, err = op.ReadRegisters(12, 1, svmodbus.HOLDING_REGISTER)
	require.NoError(t, err)
	assert.Equal(t, []uint16{42}, v)

	assert.Equal(t, []string{"read hr 50 x2", "write hr 12 = [42]", "read hr 12 x1"}, e.plc.Log(),
		"the PLC saw the reads and the engineer's write, never the denied ones")

	opened := e.waitEvent(func(ev *inspect.Event) bool { return ev.Kind == inspect.Opened && ev.Role == "engineer" })
	fp := modbustls.Fingerprint(engLeaf.Cert)
	assert.Equal(t, fmt.Sprintf("%x", fp[:]), opened.Details["fingerprint"])
	assert.Equal(t, "CN=eng-1,O=plant", opened.Details["subject"])
	assert.Equal(t, "engineer", opened.Details["role"])
	assert.Equal(t, "TLS 1.3", opened.Details["tls_version"])
	w := e.waitEvent(func(ev *inspect.Event) bool { return ev.Kind == inspect.Write })
	assert.Equal(t, "engineer", w.Details["role"], "the write names the role that allowed it")
	assert.Equal(t, "12", w.Details["addresses"])
	d := e.waitEvent(func(ev *inspect.Event) bool { return ev.Kind == inspect.Denied })
	assert.Equal(t, "operator", d.Role)
}

func TestNoRole(t *testing.T) {
	e := newEnv(t, false)
	c := e.open(e.ca.Client("anon", tlstest.ClientOpts{}))
	_, err := c.ReadRegisters(0, 5, svmodbus.HOLDING_REGISTER)
	require.NoError(t, err, "without require_role a certificate with no role gets the plain allow rules")
	_, err = c.ReadRegisters(50, 1, svmodbus.HOLDING_REGISTER)
	assert.ErrorIs(t, err, svmodbus.ErrIllegalDataAddress, "outside the plain rules")
	v := e.open(e.ca.Client("visitor", tlstest.ClientOpts{Roles: []string{"visitor"}}))
	_, err = v.ReadRegisters(0, 1, svmodbus.HOLDING_REGISTER)
	assert.ErrorIs(t, err, svmodbus.ErrIllegalFunction, "a role not in roles: gets nothing")

	e2 := newEnv(t, true)
	c2 := e2.open(e2.ca.Client("anon", tlstest.ClientOpts{}))
	_, err = c2.ReadRegisters(0, 1, svmodbus.HOLDING_REGISTER)
	assert.ErrorIs(t, err, svmodbus.ErrIllegalFunction, "with require_role a certificate without a role gets nothing")
	assert.Equal(t, []string{"read hr 0 x5"}, e.plc.Log())
	assert.Empty(t, e2.plc.Log())
}

// TestRefusedHandshakes: every certificate the specification refuses is
// refused at the handshake, reported with its reason and the peer, and
// nothing reaches the PLC.
func TestRefusedHandshakes(t *testing.T) {
	e := newEnv(t, false)
	other := tlstest.NewCA("other CA", time.Hour)
	revoked := e.ca.Client("gone", tlstest.ClientOpts{Roles: []string{"engineer"}})
	tlstest.Write(e.dir, "ca.crl", e.ca.CRL(revoked.Cert))
	e.install()
	badRole, err := asn1.Marshal("operator") // a PrintableString, not a UTF8String
	require.NoError(t, err)
	for _, c := range []struct {
		name   string
		leaf   *tlstest.Leaf
		reason string
	}{
		{"another CA", other.Client("stranger", tlstest.ClientOpts{Roles: []string{"engineer"}}), modbustls.ReasonUntrusted},
		{"expired", e.ca.Client("old", tlstest.ClientOpts{Roles: []string{"engineer"}, NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-time.Hour)}), modbustls.ReasonExpired},
		{"revoked", revoked, modbustls.ReasonRevoked},
		{"two roles", e.ca.Client("greedy", tlstest.ClientOpts{Roles: []string{"operator", "engineer"}}), modbustls.ReasonBadRole},
		{"role not a UTF8String", e.ca.Client("odd", tlstest.ClientOpts{RawRole: badRole}), modbustls.ReasonBadRole},
	} {
		t.Run(c.name, func(t *testing.T) {
			cl := e.client(c.leaf)
			err := cl.Open()
			if err == nil {
				// TLS 1.3: the client learns of the refusal on its first read.
				_, err = cl.ReadRegisters(0, 1, svmodbus.HOLDING_REGISTER)
				cl.Close()
			}
			require.Error(t, err)
			e.waitEvent(func(ev *inspect.Event) bool { return ev.Kind == inspect.Refused && ev.Reason == c.reason })
		})
	}
	t.Run("no client certificate", func(t *testing.T) {
		roots := x509.NewCertPool()
		roots.AddCert(e.ca.Cert)
		err := handshake(e.addr, &tls.Config{RootCAs: roots, ServerName: "127.0.0.1"})
		require.Error(t, err)
		e.waitEvent(func(ev *inspect.Event) bool {
			return ev.Kind == inspect.Refused && ev.Reason == modbustls.ReasonNoCertificate
		})
	})
	t.Run("TLS 1.1", func(t *testing.T) {
		roots := x509.NewCertPool()
		roots.AddCert(e.ca.Cert)
		cert := e.ca.Client("legacy", tlstest.ClientOpts{Roles: []string{"engineer"}}).TLS()
		err := handshake(e.addr, &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11})
		require.Error(t, err)
		e.waitEvent(func(ev *inspect.Event) bool {
			return ev.Kind == inspect.Refused && ev.Reason == modbustls.ReasonVersion
		})
	})
	t.Run("plain Modbus to port 802", func(t *testing.T) {
		c, err := svmodbus.NewClient(&svmodbus.ClientConfiguration{URL: "tcp://" + e.addr, Timeout: 2 * time.Second, Logger: log.New(io.Discard, "", 0)})
		require.NoError(t, err)
		require.NoError(t, c.Open())
		defer c.Close()
		_, err = c.ReadRegisters(0, 1, svmodbus.HOLDING_REGISTER)
		require.Error(t, err)
		e.waitEvent(func(ev *inspect.Event) bool {
			return ev.Kind == inspect.Refused && ev.Reason == modbustls.ReasonHandshake
		})
	})
	assert.Empty(t, e.plc.Log(), "no refused client reached the PLC")
	assert.Zero(t, e.fe.Handshakes.Load())
	ev := e.waitEvent(func(ev *inspect.Event) bool { return ev.Kind == inspect.Refused })
	assert.True(t, ev.Source.Addr().IsLoopback(), "the event names the peer")
}

// handshake runs a TLS handshake and one read, where a TLS 1.3 client
// learns that its certificate was refused.
func handshake(addr string, cfg *tls.Config) error {
	if cfg.ServerName == "" {
		cfg.ServerName = "127.0.0.1"
	}
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: hang}, "tcp", addr, cfg)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(hang))
	_, err = c.Read(make([]byte, 1))
	if err == nil {
		return errors.New("the server sent data")
	}
	return err
}

// TestReload: a reload that revokes a certificate closes its session; one
// that takes a permission from a role applies from the next request.
func TestReload(t *testing.T) {
	e := newEnv(t, true)
	engLeaf := e.ca.Client("eng-1", tlstest.ClientOpts{Roles: []string{"engineer"}})
	eng := e.open(engLeaf)
	op := e.open(e.ca.Client("op-1", tlstest.ClientOpts{Roles: []string{"operator"}}))
	require.NoError(t, eng.WriteRegister(11, 1))
	_, err := op.ReadRegisters(0, 1, svmodbus.HOLDING_REGISTER)
	require.NoError(t, err)

	tlstest.Write(e.dir, "ca.crl", e.ca.CRL(engLeaf.Cert))
	e.install()
	n := e.px.CloseConns(func(r proxy.Route, _ netip.AddrPort) bool { return !e.fe.Valid(r) })
	assert.Equal(t, 1, n, "the revoked engineer's session is closed, the operator's is not")
	_, err = eng.ReadRegisters(0, 1, svmodbus.HOLDING_REGISTER)
	assert.Error(t, err)
	_, err = op.ReadRegisters(0, 1, svmodbus.HOLDING_REGISTER)
	require.NoError(t, err)
	cl := e.client(engLeaf)
	if err = cl.Open(); err == nil {
		_, err = cl.ReadRegisters(0, 1, svmodbus.HOLDING_REGISTER)
		cl.Close()
	}
	assert.Error(t, err, "the revoked certificate's new handshake is refused")
}

// TestHandshakeLimit: clients that connect and never finish a handshake
// hold at most MaxHandshakesPerSource handshakes from one address; the
// next connection is refused at once and reported, and a client that
// completes its handshake still gets through once they are gone.
func TestHandshakeLimit(t *testing.T) {
	e := newEnv(t, true)
	var idle []net.Conn
	for range modbustls.MaxHandshakesPerSource {
		c, err := net.Dial("tcp", e.addr)
		require.NoError(t, err)
		idle = append(idle, c)
	}
	for deadline := time.Now().Add(hang); e.fe.Handshaking() < modbustls.MaxHandshakesPerSource && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	require.Equal(t, modbustls.MaxHandshakesPerSource, e.fe.Handshaking())
	extra, err := net.Dial("tcp", e.addr)
	require.NoError(t, err)
	defer extra.Close()
	_ = extra.SetReadDeadline(time.Now().Add(hang))
	_, err = extra.Read(make([]byte, 1))
	assert.Error(t, err, "the connection over the limit is closed")
	e.waitEvent(func(ev *inspect.Event) bool { return ev.Kind == inspect.Refused && ev.Reason == modbustls.ReasonBusy })
	for _, c := range idle {
		c.Close()
	}
	deadline := time.Now().Add(hang)
	for {
		c := e.client(e.ca.Client("op", tlstest.ClientOpts{Roles: []string{"operator"}}))
		err := c.Open()
		if err == nil {
			_, err = c.ReadRegisters(0, 1, svmodbus.HOLDING_REGISTER)
			c.Close()
		}
		if err == nil || time.Now().After(deadline) {
			require.NoError(t, err, "a handshake after the idle clients left")
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
}
