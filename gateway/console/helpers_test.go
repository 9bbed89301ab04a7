package console

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/zonegate/zonegate/firewall"
	"github.com/zonegate/zonegate/firewall/firewalltest"
	"github.com/zonegate/zonegate/gateway/api"
	"github.com/zonegate/zonegate/gateway/audit"
	"github.com/zonegate/zonegate/gateway/auth"
	"github.com/zonegate/zonegate/gateway/changes"
	"github.com/zonegate/zonegate/gateway/internal/clock"
	"github.com/zonegate/zonegate/gateway/kernel"
	"github.com/zonegate/zonegate/gateway/versions"
)

// The console is tested through its handler, as a browser uses it, on
// the real parts of the daemon that need no root: the change transactions
// on firewalltest's in-memory kernel, a real version store, a real audit
// log and real accounts below t.TempDir(), a fake clock. Only the event
// pipeline's reading side is a fake.

var tStart = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

// Passwords that satisfy the default policy.
const (
	pwAdmin    = "Quartz-Meadow-Lantern-81"
	pwOperator = "Velvet-Comet-Tundra-64"
	pwViewer   = "Maple-Orbit-Glacier-39"
)

const (
	remoteA = "198.18.60.10:51000"
	remoteB = "198.18.60.11:42000"
)

// fakeEvents is the event pipeline's reading side.
type fakeEvents struct {
	mu     sync.Mutex
	events []api.Event
}

func (f *fakeEvents) add(ev api.Event) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ev.Seq = uint64(len(f.events) + 1)
	f.events = append(f.events, ev)
}

func (f *fakeEvents) Events(ctx context.Context, since uint64, wait time.Duration) (api.EventsResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	res := api.EventsResult{Last: uint64(len(f.events)), Interval: "10s"}
	for _, ev := range f.events {
		if ev.Seq > since {
			res.Events = append(res.Events, ev)
		}
	}
	return res, nil
}

// fakeRecorder keeps what the console refused.
type fakeRecorder struct {
	mu      sync.Mutex
	refused []audit.Record
	unauth  []string // "remote route why"
}

func (f *fakeRecorder) Refused(r audit.Record) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.refused = append(f.refused, r)
}

func (f *fakeRecorder) Unauthenticated(remote, route, why string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.unauth = append(f.unauth, remote+" "+route+" "+why)
}

func (f *fakeRecorder) lists() ([]audit.Record, []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]audit.Record(nil), f.refused...), append([]string(nil), f.unauth...)
}

// env is a console on the daemon's real parts.
type env struct {
	t        *testing.T
	clk      *clock.Fake
	k        *firewalltest.Kernel
	tx       *changes.Transactions
	rec      *audit.Recorder
	auditDir string
	accounts *auth.Manager
	events   *fakeEvents
	refused  *fakeRecorder
	c        *Console
	h        http.Handler
}

func newEnv(t *testing.T, model string) *env {
	t.Helper()
	dir := t.TempDir()
	e := &env{t: t, clk: clock.NewFake(tStart), k: firewalltest.NewKernel(), auditDir: filepath.Join(dir, "audit"),
		events: &fakeEvents{}, refused: &fakeRecorder{}}
	e.rec = audit.NewRecorder(zap.NewNop().Sugar())
	l, err := audit.Open(audit.Options{Dir: e.auditDir, Gateway: "unit-gw", Now: e.clk.Now, CheckpointEvery: 100})
	require.NoError(t, err)
	e.rec.SetLog(l)
	t.Cleanup(func() { l.Close() })

	st, err := versions.Open(filepath.Join(dir, "state"), 20)
	require.NoError(t, err)
	e.tx, err = changes.New(changes.Config{Kernel: kernel.New(e.k, firewall.Options{LogGroup: 7}), Store: st, Recorder: e.rec, Clock: e.clk})
	require.NoError(t, err)
	require.NoError(t, e.tx.FailClose(nil))
	t.Cleanup(e.tx.Stop)
	if model != "" {
		_, err := e.tx.Push(context.Background(), changes.Actor{User: "erin"}, []byte(model), "first", 0)
		require.NoError(t, err)
	}

	p := auth.DefaultPolicy()
	p.Argon2 = auth.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}
	p.LockoutThreshold = 3
	e.accounts, err = auth.Open(auth.Options{Path: filepath.Join(dir, "state", "accounts.json"), Policy: p, Now: e.clk.Now,
		Sink: auth.SinkFunc(func(ctx context.Context, ev auth.Event) error {
			return e.rec.Record(ctx, audit.Record{Time: ev.Time, Actor: ev.Actor, Category: audit.CategoryAccount,
				Action: audit.Action(ev.Action), Object: "user:" + ev.Target, Result: audit.Result(ev.Result), Details: ev.Detail})
		})})
	require.NoError(t, err)
	ctx := context.Background()
	require.NoError(t, e.accounts.Init(ctx, "ada", pwAdmin))
	admin := auth.Actor{Name: "ada", Role: auth.RoleAdmin}
	require.NoError(t, e.accounts.AddUser(ctx, admin, "otto", auth.RoleOperator, pwOperator, false))
	require.NoError(t, e.accounts.AddUser(ctx, admin, "vera", auth.RoleViewer, pwViewer, false))

	e.c, err = New(Config{Changes: e.tx, Accounts: e.accounts, Status: e.status, Events: e.events, Audit: AuditDir(e.auditDir),
		Recorder: e.refused, IdleTimeout: 10 * time.Minute, Fingerprint: "AB:CD:EF", Clock: e.clk})
	require.NoError(t, err)
	e.h = e.c.Handler()
	return e
}

// status is the daemon's status, as far as the console's tests need it.
func (e *env) status() (api.Status, error) {
	ts := e.tx.Status()
	st := api.Status{Gateway: ts.Gateway, Version: ts.Version, Digest: ts.Digest, Pending: api.PendingOf(ts.Pending),
		Island: ts.Island, IslandReason: ts.IslandReason, Drift: api.DriftStats(ts.Drift), Sessions: e.accounts.SessionCount()}
	cs, err := e.tx.Counters()
	for _, c := range cs {
		st.Counters = append(st.Counters, api.Counter(c))
	}
	if l := e.rec.Log(); l != nil {
		as := api.AuditStats(l.Stats())
		st.Audit = &as
	}
	return st, err
}

// records reads the audit log.
func (e *env) records(f audit.Filter) []audit.Entry {
	e.t.Helper()
	require.NoError(e.t, e.rec.Log().Flush(context.Background()))
	var out []audit.Entry
	require.NoError(e.t, audit.Read(e.auditDir, f, func(en audit.Entry) error {
		out = append(out, en)
		return nil
	}))
	return out
}

// browser is one client of the console: its cookies and its address.
type browser struct {
	e       *env
	remote  string
	cookies map[string]string
}

func (e *env) browser(remote string) *browser {
	return &browser{e: e, remote: remote, cookies: map[string]string{}}
}

// do sends a request as a browser would (cookies, address, Host) and
// keeps the cookies of the answer.
func (b *browser) do(req *http.Request) *httptest.ResponseRecorder {
	req.RemoteAddr = b.remote
	req.Host = "198.18.60.1:8443"
	for name, v := range b.cookies {
		req.AddCookie(&http.Cookie{Name: name, Value: v})
	}
	w := httptest.NewRecorder()
	b.e.h.ServeHTTP(w, req)
	for _, c := range w.Result().Cookies() {
		if c.MaxAge < 0 {
			delete(b.cookies, c.Name)
		} else {
			b.cookies[c.Name] = c.Value
		}
	}
	return w
}

func (b *browser) get(path string) *httptest.ResponseRecorder {
	return b.do(httptest.NewRequest(http.MethodGet, path, nil))
}

func (b *browser) post(path string, form url.Values) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf is the form token of a page.
func csrfOf(t *testing.T, body string) string {
	t.Helper()
	m := csrfRE.FindStringSubmatch(body)
	require.NotNil(t, m, "no CSRF token in the page")
	return html.UnescapeString(m[1])
}

// login signs in through the login form and returns the answer.
func (b *browser) login(user, pw string) *httptest.ResponseRecorder {
	page := b.get("/login")
	token := csrfRE.FindStringSubmatch(page.Body.String())
	form := url.Values{"user": {user}, "password": {pw}}
	if token != nil {
		form.Set("csrf", html.UnescapeString(token[1]))
	}
	return b.post("/login", form)
}

// mustLogin signs in and checks that the browser lands on the overview.
func (b *browser) mustLogin(user, pw string) {
	b.e.t.Helper()
	w := b.login(user, pw)
	require.Equal(b.e.t, http.StatusSeeOther, w.Code, w.Body.String())
	require.Equal(b.e.t, "/overview", w.Header().Get("Location"))
}

// token is the CSRF token of the browser's session (from the overview).
func (b *browser) token() string {
	b.e.t.Helper()
	w := b.get("/overview")
	require.Equal(b.e.t, http.StatusOK, w.Code)
	return csrfOf(b.e.t, w.Body.String())
}

// act sends an action's form: the first step (confirmation page), or
// with confirmed both.
func (b *browser) act(path string, form url.Values, confirm bool) *httptest.ResponseRecorder {
	if form == nil {
		form = url.Values{}
	}
	form.Set("csrf", b.token())
	if confirm {
		form.Set("confirmed", "yes")
	}
	return b.post(path, form)
}

func formOf(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v
}

func must200(t *testing.T, w *httptest.ResponseRecorder, what string) string {
	t.Helper()
	require.Equal(t, http.StatusOK, w.Code, "%s: %s", what, w.Body.String())
	return w.Body.String()
}

func errorText(w *httptest.ResponseRecorder) string {
	m := regexp.MustCompile(`(?s)id="error-message"[^>]*>(.*?)</p>`).FindStringSubmatch(w.Body.String())
	if m == nil {
		return fmt.Sprintf("(no error message; status %d)", w.Code)
	}
	return html.UnescapeString(m[1])
}

func httptestReq(method, path string) *http.Request { return httptest.NewRequest(method, path, nil) }

func httptestGet(path string) *http.Request { return httptestReq(http.MethodGet, path) }

// httptestPost is a form POST with a raw body.
func httptestPost(path, body string) *http.Request {
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return req
}

func withHeader(req *http.Request, k, v string) *http.Request {
	req.Header.Set(k, v)
	return req
}

// zoneEvent is a dropped packet from a source in zone office.
func zoneEvent(source string) api.Event {
	return api.Event{Kind: "dropped-flow", Count: 1, Source: source, Destination: "198.18.40.10:23", Zone: "office", Interface: "eth0", Chain: "forward"}
}
