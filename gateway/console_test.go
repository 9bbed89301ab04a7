package gateway

import (
	"context"
	"crypto/tls"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/netip"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/zonegate/zonegate/gateway/audit"
	"github.com/zonegate/zonegate/gateway/auth"
	"github.com/zonegate/zonegate/gateway/console"
	"github.com/zonegate/zonegate/gateway/settings"
)

// lbModel manages the gateway from zone ops, whose interface here is the
// test's loopback: the console may listen on 127.0.0.1.
var lbModel = strings.Replace(hModelBase, "interfaces: [eth0]", "interfaces: [lo]", 1)

// TestRunRefusesConsoleOutsideManagement: a console address that is not
// on a management zone's interface, or with no model to tell, stops the
// start with what to change; the fail-close ruleset stays.
func TestRunRefusesConsoleOutsideManagement(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer busy.Close()
	for _, tc := range []struct{ model, listen, want string }{
		{lbModel, busy.Addr().String(), "console.listen " + busy.Addr().String() + ": cannot listen: "},
		{lbModel, busy.Addr().String(), "pick a free port for console.listen"},
		{hModelBase, "127.0.0.1:8443", "console.listen 127.0.0.1:8443: the address is on lo, which is not an interface of a management zone (gateway.management.zones: [ops]): use the address of one of [eth0]"},
		{hModelBase, "198.19.255.254:8443", "no interface of this gateway has the address 198.19.255.254"},
		{"", "127.0.0.1:8443", "no zone model is known yet"},
	} {
		dir := t.TempDir()
		s := settings.Default()
		s.StateDir = filepath.Join(dir, "state")
		s.API.Socket = filepath.Join(dir, "api.sock")
		s.Console.Listen = tc.listen
		if tc.model != "" {
			withModelFile(tc.model)(&s)
		}
		require.NoError(t, s.Validate())
		k, clk := newFakes()
		d := New(Config{Settings: s, Kernel: k, Clock: clk, ModbusListen: "127.0.0.1:0", Logger: zap.NewNop()})
		err := d.Run(context.Background(), nil)
		if assert.Error(t, err, tc.listen) {
			assert.Contains(t, err.Error(), tc.want)
		}
	}
}

// TestConsoleFromTheDaemon: the daemon serves the console over TLS with
// its self-signed certificate, whose fingerprint the status shows; a
// confirm through it is the daemon's transaction, recorded with the
// client's address; a cookie from elsewhere is recorded as the API's
// unauthenticated calls are.
func TestConsoleFromTheDaemon(t *testing.T) {
	h := newHarness(t, withModelFile(lbModel))
	admin := auth.Actor{Name: "ada", Role: auth.RoleAdmin}
	require.NoError(t, h.d.accounts.Init(h.ctx, "ada", "Quartz-Meadow-Lantern-81"))
	require.NoError(t, h.d.accounts.AddUser(h.ctx, admin, "otto", auth.RoleOperator, "Velvet-Comet-Tundra-64", false))
	h.push(strings.Replace(hModelOpen, "interfaces: [eth0]", "interfaces: [lo]", 1), 2*time.Minute)
	h.d.set.Console.Listen = "127.0.0.1:0"
	stop, err := h.d.serveConsole()
	require.NoError(t, err)
	defer stop()

	st, err := h.d.Status()
	require.NoError(t, err)
	require.NotNil(t, st.Console)
	assert.True(t, st.Console.SelfSigned)
	assert.Equal(t, filepath.Join(h.set.StateDir, console.SelfSignedFile), st.Console.Certificate)
	u, err := url.Parse(st.Console.URL)
	require.NoError(t, err)

	var seen string
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true, //nolint:gosec // pinned below
		VerifyConnection: func(cs tls.ConnectionState) error {
			seen = console.Fingerprint(cs.PeerCertificates[0].Raw)
			return nil
		}}}}
	get := func(path string) string {
		resp, err := client.Get(st.Console.URL + strings.TrimPrefix(path, "/"))
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		require.Equal(t, http.StatusOK, resp.StatusCode, string(b))
		return string(b)
	}
	post := func(path string, form url.Values) string {
		resp, err := client.PostForm(st.Console.URL+strings.TrimPrefix(path, "/"), form)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		require.Equal(t, http.StatusOK, resp.StatusCode, string(b))
		return string(b)
	}
	token := func(page string) string {
		m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(page)
		require.NotNil(t, m)
		return html.UnescapeString(m[1])
	}
	login := get("/login")
	assert.Equal(t, st.Console.Fingerprint, seen, "the certificate the browser sees is the one the status names")
	overview := post("/login", url.Values{"csrf": {token(login)}, "user": {"otto"}, "password": {"Velvet-Comet-Tundra-64"}})
	assert.Contains(t, overview, st.Console.Fingerprint)
	assert.Contains(t, overview, `id="countdown"`)
	post("/action/confirm", url.Values{"csrf": {token(overview)}, "version": {"2"}, "confirmed": {"yes"}})
	assert.Nil(t, h.d.tx.Status().Pending)
	confirmed := h.entries(audit.ActionModelConfirmed)
	require.Len(t, confirmed, 1)
	assert.Equal(t, "otto", confirmed[0].Actor)
	assert.Equal(t, u.Hostname(), strings.Split(confirmed[0].Details[audit.DetailRemote], ":")[0], "the client's address")

	// A forged cookie is counted for the audit log like the API's calls
	// without a session.
	bad := &http.Cookie{Name: "__Host-zonegate", Value: "zgs1_forged"}
	req, _ := http.NewRequest(http.MethodGet, st.Console.URL+"overview", nil)
	req.AddCookie(bad)
	resp, err := (&http.Client{Transport: client.Transport, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusSeeOther, resp.StatusCode)
	h.d.unauth.Close()
	unauth := h.entries(audit.ActionUnauthenticated)
	require.Len(t, unauth, 1)
	assert.Equal(t, "127.0.0.1", unauth[0].Actor)
	assert.Equal(t, "GET /overview", unauth[0].Object)
	assert.Equal(t, "invalid or expired session cookie", unauth[0].Details[audit.DetailReason])

	stop()
	st, err = h.d.Status()
	require.NoError(t, err)
	assert.Nil(t, st.Console, "stopped")
}

// TestConsoleCertificateFromFiles: console.cert_file and key_file are
// served as they are, and the status says so.
func TestConsoleCertificateFromFiles(t *testing.T) {
	h := newHarness(t, withModelFile(lbModel))
	made, err := console.LoadOrCreateSelfSigned(t.TempDir(), netip.MustParseAddr("127.0.0.1"), "elsewhere", time.Now())
	require.NoError(t, err)
	h.d.set.Console = settings.Console{Listen: "127.0.0.1:0", CertFile: made.File, KeyFile: made.File, IdleTimeout: settings.Duration(time.Minute)}
	stop, err := h.d.serveConsole()
	require.NoError(t, err)
	defer stop()
	st, err := h.d.Status()
	require.NoError(t, err)
	require.NotNil(t, st.Console)
	assert.False(t, st.Console.SelfSigned)
	assert.Equal(t, made.Fingerprint, st.Console.Fingerprint)
	assert.Equal(t, made.File, st.Console.Certificate)
	u, err := url.Parse(st.Console.URL)
	require.NoError(t, err)
	conn, err := tls.Dial("tcp", u.Host, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // compared by fingerprint
	require.NoError(t, err)
	defer conn.Close()
	assert.Equal(t, made.Fingerprint, console.Fingerprint(conn.ConnectionState().PeerCertificates[0].Raw))

	h.d.set.Console.KeyFile = filepath.Join(t.TempDir(), "missing.pem")
	_, err = h.d.serveConsole()
	assert.ErrorContains(t, err, "console.cert_file")
}
