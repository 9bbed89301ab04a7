// Package uatest runs real OPC UA peers for zonegate's tests: a
// github.com/gopcua/opcua server with every security policy and mode and
// a few nodes, which records every service request it handles (so a test
// can prove that a denied request never reached it), clients for each
// policy and mode, and the certificates they present (a CA and the
// certificates it issues, self-signed, expired, short keys). It is for
// tests only: nothing in zonegate's binaries imports it.
package uatest

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gopcua/opcua"
	"github.com/gopcua/opcua/id"
	"github.com/gopcua/opcua/server"
	"github.com/gopcua/opcua/ua"
)

// Namespace is the index of the server's node namespace.
const Namespace = 1

// Nodes of the test server (namespace Namespace, string ids).
const (
	NodeSetpoint    = "Line3.Setpoint"    // Double, read and write
	NodeOrder       = "Line3.Order"       // Int32, read and write
	NodeTemperature = "Line3.Temperature" // Double, read only
)

// Tags is the number of numbered Double nodes Tag(0)...Tag(Tags-1), for
// reads of many nodes (the benchmark).
const Tags = 100

// Tag names the numbered node i, "Line3.Tag007".
func Tag(i int) string { return fmt.Sprintf("Line3.Tag%03d", i) }

// Server is a gopcua server on a loopback or namespace address.
type Server struct {
	S       *server.Server
	Host    string
	Port    int
	CertDER []byte
	log     *recorder
}

// URL is the server's endpoint URL.
func (s *Server) URL() string { return fmt.Sprintf("opc.tcp://%s:%d", s.Host, s.Port) }

// Handled returns the service request types the server handled, in order
// ("*ua.ReadRequest", ...).
func (s *Server) Handled() []string { return s.log.handled() }

// HandledCount counts the handled requests of a type ("WriteRequest").
func (s *Server) HandledCount(typ string) int {
	n := 0
	for _, h := range s.Handled() {
		if strings.HasSuffix(h, "."+typ) {
			n++
		}
	}
	return n
}

// recorder is the server's logger: it keeps the request types of
// "handleService: Got: %T".
type recorder struct {
	mu  sync.Mutex
	got []string
	t   testing.TB
}

func (r *recorder) Debug(msg string, args ...any) {
	if strings.HasPrefix(msg, "handleService: Got:") && len(args) == 1 {
		r.mu.Lock()
		r.got = append(r.got, fmt.Sprintf("%T", args[0]))
		r.mu.Unlock()
	}
}
func (r *recorder) Info(string, ...any) {}
func (r *recorder) Warn(msg string, args ...any) {
	r.t.Logf("OPC UA test server: "+msg, args...)
}
func (r *recorder) Error(msg string, args ...any) {
	r.t.Logf("OPC UA test server: "+msg, args...)
}

func (r *recorder) handled() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.got...)
}

// FreePort returns a TCP port free on host now.
func FreePort(t testing.TB, host string) int {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// StartServer starts a server on host:port with policy None (mode None)
// and every secured policy in Sign and SignAndEncrypt modes, anonymous
// users, and the nodes above. It stops with the test. The gopcua server
// itself listens on a loopback port behind a shim that works around its
// secured-channel bug (see shim).
func StartServer(t testing.TB, host string, port int) *Server {
	return StartServerDial(t, host, port, net.Dial)
}

// StartServerDial is StartServer with the dial function the shim reaches
// the gopcua server with (a test in network namespaces dials inside the
// server's namespace).
func StartServerDial(t testing.TB, host string, port int, dial func(network, address string) (net.Conn, error)) *Server {
	t.Helper()
	cert := SelfSigned(t, "zonegate test server", time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour), 2048, host)
	rec := &recorder{t: t}
	ln, err := net.Listen("tcp", net.JoinHostPort(host, fmt.Sprint(port)))
	if err != nil {
		t.Fatalf("OPC UA test server: listen: %v", err)
	}
	inner := FreePort(t, "127.0.0.1")
	startShim(t, ln, fmt.Sprintf("127.0.0.1:%d", inner), cert.Key, dial)
	opts := []server.Option{
		server.EnableSecurity("None", ua.MessageSecurityModeNone),
		server.EnableAuthMode(ua.UserTokenTypeAnonymous),
		server.EndPoint("127.0.0.1", inner),
		server.PrivateKey(cert.Key),
		server.Certificate(cert.DER),
		server.SetLogger(rec),
	}
	for _, p := range []string{"Basic128Rsa15", "Basic256", "Basic256Sha256", "Aes128_Sha256_RsaOaep", "Aes256_Sha256_RsaPss"} {
		opts = append(opts, server.EnableSecurity(p, ua.MessageSecurityModeSign), server.EnableSecurity(p, ua.MessageSecurityModeSignAndEncrypt))
	}
	s := server.New(opts...)
	root, _ := s.Namespace(0)
	objects := root.Objects()
	ns := server.NewNodeNameSpace(s, "zonegate-test")
	nsObjects := ns.Objects()
	objects.AddRef(nsObjects, id.HasComponent, true)
	for _, n := range []*server.Node{
		ns.AddNewVariableStringNode(NodeSetpoint, 20.5),
		ns.AddNewVariableStringNode(NodeOrder, int32(0)),
		ns.AddNewVariableStringNode(NodeTemperature, 71.25),
	} {
		nsObjects.AddRef(n, id.HasComponent, true)
	}
	for i := range Tags {
		nsObjects.AddRef(ns.AddNewVariableStringNode(Tag(i), float64(i)), id.HasComponent, true)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatalf("start the OPC UA test server: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return &Server{S: s, Host: host, Port: port, CertDER: cert.DER, log: rec}
}

// Cert is a certificate with its key.
type Cert struct {
	DER []byte
	Key *rsa.PrivateKey
}

// PEM is the certificate in PEM.
func (c Cert) PEM() []byte { return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.DER}) }

// CA is a certificate authority for client certificates.
type CA struct {
	Cert
	x *x509.Certificate
}

var serial int64 = time.Now().UnixNano()

func key(t testing.TB, bits int) *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		t.Fatalf("RSA key: %v", err)
	}
	return k
}

func template(cn string, notBefore, notAfter time.Time, host string) *x509.Certificate {
	serial++
	tpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: cn, Organization: []string{"zonegate tests"}},
		NotBefore:    notBefore, NotAfter: notAfter,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment | x509.KeyUsageDataEncipherment |
			x509.KeyUsageContentCommitment,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
	}
	u, _ := url.Parse("urn:zonegate:test:" + strings.ReplaceAll(cn, " ", "-"))
	tpl.URIs = []*url.URL{u}
	if host != "" {
		if ip := net.ParseIP(host); ip != nil {
			tpl.IPAddresses = []net.IP{ip}
		} else {
			tpl.DNSNames = []string{host}
		}
	}
	return tpl
}

// SelfSigned makes a self-signed certificate with an RSA key of bits.
func SelfSigned(t testing.TB, cn string, notBefore, notAfter time.Time, bits int, host string) Cert {
	t.Helper()
	k := key(t, bits)
	tpl := template(cn, notBefore, notAfter, host)
	tpl.KeyUsage |= x509.KeyUsageCertSign
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &k.PublicKey, k)
	if err != nil {
		t.Fatalf("certificate: %v", err)
	}
	return Cert{DER: der, Key: k}
}

// NewCA makes a CA.
func NewCA(t testing.TB, cn string) *CA {
	t.Helper()
	k := key(t, 3072)
	tpl := template(cn, time.Now().Add(-24*time.Hour), time.Now().Add(365*24*time.Hour), "")
	tpl.IsCA, tpl.KeyUsage, tpl.ExtKeyUsage = true, x509.KeyUsageCertSign|x509.KeyUsageCRLSign, nil
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &k.PublicKey, k)
	if err != nil {
		t.Fatalf("CA certificate: %v", err)
	}
	x, _ := x509.ParseCertificate(der)
	return &CA{Cert: Cert{DER: der, Key: k}, x: x}
}

// Issue makes a client certificate signed by the CA.
func (ca *CA) Issue(t testing.TB, cn string, notBefore, notAfter time.Time, bits int) Cert {
	t.Helper()
	k := key(t, bits)
	der, err := x509.CreateCertificate(rand.Reader, template(cn, notBefore, notAfter, ""), ca.x, &k.PublicKey, ca.Key)
	if err != nil {
		t.Fatalf("client certificate: %v", err)
	}
	return Cert{DER: der, Key: k}
}

// CRL makes a revocation list of the CA that revokes the certificates.
func (ca *CA) CRL(t testing.TB, revoked ...Cert) []byte {
	t.Helper()
	var entries []x509.RevocationListEntry
	for _, c := range revoked {
		x, _ := x509.ParseCertificate(c.DER)
		entries = append(entries, x509.RevocationListEntry{SerialNumber: x.SerialNumber, RevocationTime: time.Now().Add(-time.Minute)})
	}
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{Number: big.NewInt(1), ThisUpdate: time.Now().Add(-time.Hour),
		NextUpdate: time.Now().Add(time.Hour), RevokedCertificateEntries: entries}, ca.x, ca.Key)
	if err != nil {
		t.Fatalf("CRL: %v", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der})
}

// Client connects a gopcua client to endpointURL (the gateway's
// redirected address, or the server's) with a policy and mode ("None",
// "Sign", "SignAndEncrypt"), presenting cert (ignored for None). The
// server's certificate is given, as a client that discovered it earlier
// would know it.
func Client(ctx context.Context, endpointURL, policy, mode string, cert Cert, serverCert []byte) (*opcua.Client, error) {
	opts := []opcua.Option{
		opcua.SecurityPolicy(policy),
		opcua.SecurityModeString(mode),
		opcua.AuthAnonymous(),
		opcua.DialTimeout(5 * time.Second),
		opcua.RequestTimeout(10 * time.Second),
		opcua.AutoReconnect(false),
		opcua.ApplicationURI("urn:zonegate:test:client"),
	}
	if policy != "None" {
		opts = append(opts, opcua.Certificate(cert.DER), opcua.PrivateKey(cert.Key), opcua.RemoteCertificate(serverCert))
	}
	c, err := opcua.NewClient(endpointURL, opts...)
	if err != nil {
		return nil, err
	}
	if err := c.Connect(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// Node is a node of the test server's namespace.
func Node(name string) *ua.NodeID { return ua.NewStringNodeID(Namespace, name) }
