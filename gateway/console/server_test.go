package console

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/zonegate/zonegate/gateway/zone"
)

// TestSelfSignedCertificate: made at the first start (one file, mode
// 0600, for the console's address), the same at the next, replaced when
// it is unreadable or expired; the fingerprint is the certificate's
// SHA-256 as browsers show it.
func TestSelfSignedCertificate(t *testing.T) {
	dir := t.TempDir()
	addr := netip.MustParseAddr("198.18.60.1")
	c1, err := LoadOrCreateSelfSigned(dir, addr, "line3-gw", tStart)
	require.NoError(t, err)
	assert.True(t, c1.Generated && c1.Created)
	st, err := os.Stat(filepath.Join(dir, SelfSignedFile))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	leaf := c1.TLS.Leaf
	require.NotNil(t, leaf)
	require.Len(t, leaf.IPAddresses, 1)
	assert.Equal(t, "198.18.60.1", leaf.IPAddresses[0].String())
	assert.Contains(t, leaf.ExtKeyUsage, x509.ExtKeyUsageServerAuth)
	assert.Regexp(t, `^([0-9A-F]{2}:){31}[0-9A-F]{2}$`, c1.Fingerprint)
	assert.Equal(t, Fingerprint(leaf.Raw), c1.Fingerprint)

	c2, err := LoadOrCreateSelfSigned(dir, addr, "line3-gw", tStart.Add(24*time.Hour))
	require.NoError(t, err)
	assert.Equal(t, c1.Fingerprint, c2.Fingerprint, "kept across restarts")
	assert.False(t, c2.Created)

	c3, err := LoadOrCreateSelfSigned(dir, addr, "line3-gw", tStart.Add(selfSignedValidity+time.Hour))
	require.NoError(t, err)
	assert.NotEqual(t, c1.Fingerprint, c3.Fingerprint, "an expired one is replaced")
	assert.True(t, c3.Created)

	require.NoError(t, os.WriteFile(filepath.Join(dir, SelfSignedFile), []byte("garbage"), 0o600))
	c4, err := LoadOrCreateSelfSigned(dir, addr, "line3-gw", tStart)
	require.NoError(t, err)
	assert.True(t, c4.Created, "an unreadable one is replaced")

	// Files from the settings: the same, read as they are.
	cert, err := LoadCertificate(filepath.Join(dir, SelfSignedFile), filepath.Join(dir, SelfSignedFile))
	require.NoError(t, err)
	assert.Equal(t, c4.Fingerprint, cert.Fingerprint)
	assert.False(t, cert.Generated)
	_, err = LoadCertificate(filepath.Join(dir, "nope.pem"), filepath.Join(dir, SelfSignedFile))
	assert.ErrorContains(t, err, "console.cert_file")
}

// TestCheckManagement: the address must be on an interface of a
// management zone of the model the gateway starts with.
func TestCheckManagement(t *testing.T) {
	m, err := zone.Load("example", []byte(exampleFactoryText(t)))
	require.NoError(t, err)
	ifaces := map[string]string{"198.18.60.1": "eth5", "198.18.10.1": "eth0", "fd00:60::1": "eth5"}
	ifaceOf := func(a netip.Addr) (string, error) { return ifaces[a.String()], nil }
	ap := func(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }
	assert.NoError(t, CheckManagement(ap("198.18.60.1:8443"), m, ifaceOf))
	assert.NoError(t, CheckManagement(ap("[fd00:60::1]:8443"), m, ifaceOf))
	err = CheckManagement(ap("198.18.10.1:8443"), m, ifaceOf)
	assert.ErrorContains(t, err, "the address is on eth0, which is not an interface of a management zone (gateway.management.zones: [maintenance]): use the address of one of [eth5]")
	err = CheckManagement(ap("198.18.99.1:8443"), m, ifaceOf)
	assert.ErrorContains(t, err, "no interface of this gateway has the address 198.18.99.1")
	assert.ErrorContains(t, CheckManagement(ap("198.18.60.1:8443"), nil, ifaceOf), "no zone model is known yet")
	boom := func(netip.Addr) (string, error) { return "", errors.New("boom") }
	assert.ErrorContains(t, CheckManagement(ap("198.18.60.1:8443"), m, boom), "boom")

	// The real lookup finds loopback's address on lo.
	ifc, err := InterfaceOf(netip.MustParseAddr("127.0.0.1"))
	require.NoError(t, err)
	assert.Equal(t, "lo", ifc)
}

func exampleFactoryText(t *testing.T) string { return exampleFactory(t) }

// TestServeTLS: the console over real TLS on loopback: the browser's
// view of the certificate is the fingerprint the console shows; plain
// HTTP, oversized headers and slow clients are refused; Close ends it.
func TestServeTLS(t *testing.T) {
	e := newEnv(t, exampleFactory(t))
	cert, err := LoadOrCreateSelfSigned(t.TempDir(), netip.MustParseAddr("127.0.0.1"), "unit-gw", time.Now())
	require.NoError(t, err)
	ln, err := Listen(netip.MustParseAddrPort("127.0.0.1:0"))
	if err != nil {
		// Port 0 is not a valid console.listen, but Listen takes it.
		t.Fatal(err)
	}
	srv := Serve(ln, cert, e.h, zap.NewNop())
	addr := ln.Addr().String()

	var seen string
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true, //nolint:gosec // pinned below
		VerifyConnection: func(cs tls.ConnectionState) error {
			seen = Fingerprint(cs.PeerCertificates[0].Raw)
			return nil
		}}}, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get("https://" + addr + "/login")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, string(body), `id="login-form"`)
	assert.Equal(t, cert.Fingerprint, seen, "the certificate the client sees")
	assert.Equal(t, contentSecurityPolicy, resp.Header.Get("Content-Security-Policy"))

	// TLS 1.1 is refused.
	_, err = tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS11}) //nolint:gosec // testing the refusal
	assert.Error(t, err)

	// Plain HTTP on the TLS port.
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	fmt.Fprintf(conn, "GET /login HTTP/1.1\r\nHost: x\r\n\r\n")
	line, _ := bufio.NewReader(conn).ReadString('\n')
	conn.Close()
	assert.Contains(t, line, "400")

	// Headers beyond 16 KiB.
	req, _ := http.NewRequest(http.MethodGet, "https://"+addr+"/login", nil)
	req.Header.Set("X-Big", strings.Repeat("a", 64<<10))
	resp, err = client.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusRequestHeaderFieldsTooLarge, resp.StatusCode)

	require.NoError(t, srv.Close())
	_, err = client.Get("https://" + addr + "/login")
	assert.Error(t, err, "closed")
}

// TestListenErrors: an address that is not this host's, or a port in
// use, stops the start with what to change.
func TestListenErrors(t *testing.T) {
	_, err := Listen(netip.MustParseAddrPort("198.18.250.250:8443"))
	assert.ErrorContains(t, err, "the address is not on any interface of this gateway")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	_, err = Listen(netip.MustParseAddrPort(ln.Addr().String()))
	assert.ErrorContains(t, err, "uses the port")
}
