package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zonegate/zonegate/gateway/api"
	"github.com/zonegate/zonegate/gateway/audit"
	"github.com/zonegate/zonegate/gateway/auth"
	"github.com/zonegate/zonegate/gateway/changes"
	"github.com/zonegate/zonegate/gateway/zone"
)

// fakeBackend records the calls it gets and answers with what the test
// put in it.
type fakeBackend struct {
	mu      sync.Mutex
	calls   []string
	err     error // returned by every call when set
	within  time.Duration
	refused []audit.Record
	unauth  []string // "uid pid route why" of Unauthenticated
	model   api.RunningModel
}

func (f *fakeBackend) call(format string, args ...any) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf(format, args...))
	return f.err
}

func (f *fakeBackend) Push(_ context.Context, actor string, model []byte, comment string, within time.Duration) (api.PushResult, error) {
	err := f.call("push %s %q %q %s", actor, model, comment, within)
	return api.PushResult{Version: 2, Digest: "sha256:ab", Diff: []string{"+ conduit x"}}, err
}

func (f *fakeBackend) Confirm(_ context.Context, actor string) (api.ModelVersion, error) {
	return api.ModelVersion{Number: 2, State: "running", User: actor}, f.call("confirm %s", actor)
}

func (f *fakeBackend) Rollback(_ context.Context, actor string, version int) (int, error) {
	return 1, f.call("rollback %s %d", actor, version)
}

func (f *fakeBackend) SetIsland(_ context.Context, actor string, on bool) error {
	return f.call("island %s %v", actor, on)
}

func (f *fakeBackend) History() ([]api.ModelVersion, error) {
	return []api.ModelVersion{{Number: 1, State: "running"}}, f.call("history")
}

func (f *fakeBackend) Status() (api.Status, error) {
	return api.Status{Gateway: "unit-gw", Version: 1, Counters: []api.Counter{{Name: "conduit_x", Packets: 3, Bytes: 180}}}, f.call("status")
}

func (f *fakeBackend) ConfirmWithin() time.Duration { return f.within }

func (f *fakeBackend) Events(ctx context.Context, since uint64, wait time.Duration) (api.EventsResult, error) {
	res := api.EventsResult{Last: 2, Interval: "10s"}
	if since < 2 {
		res.Events = []api.Event{{Seq: 2, Kind: "dropped-flow", Count: 7, Source: "198.18.0.10", Destination: "198.18.1.10:23", Ports: "23"}}
	}
	return res, f.call("events")
}

func (f *fakeBackend) Refused(rec audit.Record) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.refused = append(f.refused, rec)
}

func (f *fakeBackend) Unauthenticated(peer PeerCred, route, why string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.unauth = append(f.unauth, fmt.Sprintf("%d %d %s %s", peer.UID, peer.PID, route, why))
}

func (f *fakeBackend) RunningModel() (api.RunningModel, error) {
	return f.model, f.call("model")
}

func (f *fakeBackend) takeCalls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.calls
	f.calls = nil
	return c
}

// fakeAccounts knows a token per user; the methods a test does not need
// are left to the embedded nil interface.
type fakeAccounts struct {
	Accounts
	sessions map[string]auth.Session
	calls    []string
}

func newFakeAccounts() *fakeAccounts {
	return &fakeAccounts{sessions: map[string]auth.Session{
		"tok-admin":  {User: "ada", Role: auth.RoleAdmin},
		"tok-viewer": {User: "vera", Role: auth.RoleViewer},
		"tok-eng":    {User: "erin", Role: auth.RoleEngineer},
		"tok-must":   {User: "oscar", Role: auth.RoleOperator, MustChangePassword: true},
	}}
}

func (a *fakeAccounts) Authenticate(token string) (auth.Session, error) {
	s, ok := a.sessions[token]
	if !ok {
		return s, auth.ErrInvalidSession
	}
	return s, nil
}

func (a *fakeAccounts) Login(_ context.Context, user, password, client string) (string, time.Time, error) {
	if password != "right" {
		return "", time.Time{}, auth.ErrBadCredentials
	}
	return "tok-" + user, time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC), nil
}

func (a *fakeAccounts) Init(_ context.Context, user, password string) error {
	a.calls = append(a.calls, "init "+user)
	return nil
}

func (a *fakeAccounts) Users(actor auth.Actor) ([]auth.User, error) {
	return []auth.User{{Name: "ada", Role: auth.RoleAdmin}, {Name: "vera", Role: auth.RoleViewer, Locked: true}}, nil
}

func (a *fakeAccounts) DisableUser(_ context.Context, actor auth.Actor, name string) error {
	a.calls = append(a.calls, actor.Name+" disable "+name)
	return nil
}

func (a *fakeAccounts) SetRole(_ context.Context, actor auth.Actor, name string, role auth.Role) error {
	a.calls = append(a.calls, actor.Name+" role "+name+" "+role.String())
	return nil
}

// ErrUnchanged for a role change to the role the user has.
func (a *fakeAccounts) EnableUser(_ context.Context, actor auth.Actor, name string) error {
	return fmt.Errorf("%w: %s is enabled", auth.ErrUnchanged, name)
}

func (a *fakeAccounts) DeleteUser(_ context.Context, actor auth.Actor, name string) error {
	return fmt.Errorf("delete %s: %w", name, auth.ErrNoUser)
}

type harness struct {
	t   *testing.T
	b   *fakeBackend
	acc *fakeAccounts
	h   http.Handler
}

func newHarness(t *testing.T) *harness {
	b := &fakeBackend{within: 2 * time.Minute}
	acc := newFakeAccounts()
	return &harness{t: t, b: b, acc: acc, h: Handler(b, acc)}
}

// do serves one request and returns the status and the body.
func (h *harness) do(method, path, token, body string) (int, []byte) {
	h.t.Helper()
	req := httptest.NewRequest(method, path, nil)
	if body != "" {
		req = httptest.NewRequest(method, path, strings.NewReader(body))
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.h.ServeHTTP(rec, req)
	return rec.Code, rec.Body.Bytes()
}

func TestCallsReachTheBackend(t *testing.T) {
	h := newHarness(t)
	h.b.model = api.RunningModel{Version: 3, Digest: "sha256:cd", Model: "version: 1\n"}
	for _, tc := range []struct {
		method, path, token, body string
		want                      int
		call                      string
		answer                    string
	}{
		{"GET", "/v1/status", "tok-viewer", "", 200, "status", `"gateway":"unit-gw"`},
		{"GET", "/v1/history", "tok-viewer", "", 200, "history", `[{"version":1,`},
		{"POST", "/v1/push", "tok-eng", `{"model":"m","comment":"why"}`, 200, `push erin "m" "why" 2m0s`, `"diff":["+ conduit x"]`},
		{"POST", "/v1/push", "tok-eng", `{"model":"m","confirm_within":"0"}`, 200, `push erin "m" "" 0s`, `"version":2`},
		{"POST", "/v1/push", "tok-eng", `{"model":"m","confirm_within":"24h"}`, 200, `push erin "m" "" 24h0m0s`, `"version":2`},
		{"POST", "/v1/confirm", "tok-admin", "", 200, "confirm ada", `"state":"running"`},
		{"POST", "/v1/rollback", "tok-admin", `{"version":1}`, 200, "rollback ada 1", `{"version":1}`},
		{"POST", "/v1/island", "tok-admin", `{"on":true}`, 200, "island ada true", `{"island":true}`},
		{"GET", "/v1/model", "tok-viewer", "", 200, "model", `"model":"version: 1\n"`},
	} {
		code, body := h.do(tc.method, tc.path, tc.token, tc.body)
		assert.Equal(t, tc.want, code, "%s %s %s: %s", tc.method, tc.path, tc.body, body)
		assert.Equal(t, []string{tc.call}, h.b.takeCalls(), "%s %s %s", tc.method, tc.path, tc.body)
		assert.Contains(t, string(body), tc.answer, "%s %s", tc.method, tc.path)
	}
}

func TestRefusedRequests(t *testing.T) {
	h := newHarness(t)
	for _, tc := range []struct {
		method, path, token, body string
		want                      int
		says                      string
	}{
		{"GET", "/v1/status", "", "", 401, "log in first"},
		{"GET", "/v1/status", "tok-nobody", "", 401, "log in again"},
		{"POST", "/v1/push", "tok-viewer", `{"model":"m"}`, 403, "vera is viewer"},
		{"POST", "/v1/confirm", "tok-must", "", 403, "may only change the password"},
		{"POST", "/v1/push", "tok-eng", `{"model":"m","confirm_within":"soon"}`, 400, "confirm_within"},
		{"POST", "/v1/push", "tok-eng", `{"model":"m","confirm_within":"25h"}`, 400, "0 to 24h"},
		{"POST", "/v1/push", "tok-eng", `{"model":"m","confirm_within":"-1s"}`, 400, "0 to 24h"},
		{"POST", "/v1/push", "tok-eng", `{"model":"m","force":true}`, 400, "not the expected JSON"},
		{"POST", "/v1/push", "tok-eng", `{"model":7}`, 400, "not the expected JSON"},
		{"POST", "/v1/island", "tok-admin", `{"on":"yes"}`, 400, "not the expected JSON"},
		{"POST", "/v1/login", "", `{"user":"ada","password":"wrong"}`, 401, ""},
		{"POST", "/v1/users/ada/frobnicate", "tok-admin", "", 400, "unknown user action"},
		{"DELETE", "/v1/users/ghost", "tok-admin", "", 404, "ghost"},
	} {
		code, body := h.do(tc.method, tc.path, tc.token, tc.body)
		assert.Equal(t, tc.want, code, "%s %s %s: %s", tc.method, tc.path, tc.body, body)
		var e api.Error
		if assert.NoError(t, json.Unmarshal(body, &e), "%s %s: answer %s", tc.method, tc.path, body) {
			assert.NotEmpty(t, e.Message, "%s %s", tc.method, tc.path)
			assert.Contains(t, e.Message, tc.says, "%s %s", tc.method, tc.path)
		}
	}
	assert.Empty(t, h.b.takeCalls(), "a refused request reached the backend")
	require.Len(t, h.b.refused, 2, "refused calls for lack of permission are recorded")
	assert.Equal(t, "vera", h.b.refused[0].Actor)
	assert.Equal(t, audit.Action(auth.PermPushModel), h.b.refused[0].Action)
	assert.Equal(t, "/v1/push", h.b.refused[0].Object)
	assert.Equal(t, audit.ResultDenied, h.b.refused[0].Result)
	assert.Equal(t, "oscar", h.b.refused[1].Actor)
	// Calls without a valid session are reported by route, not by the
	// raw path; a failed login is not (the accounts record it).
	assert.Equal(t, []string{"-1 -1 GET /v1/status no token", "-1 -1 GET /v1/status invalid or expired token"}, h.b.unauth,
		"calls refused with 401 reach Unauthenticated")
	h.b.unauth = nil
	for _, p := range []string{"/v1/users/a/disable", "/v1/users/b/enable"} {
		code, _ := h.do("POST", p, "", "")
		assert.Equal(t, http.StatusUnauthorized, code, p)
	}
	code, _ := h.do("GET", "/v1/model", "", "")
	assert.Equal(t, http.StatusUnauthorized, code, "model without a token")
	assert.Equal(t, []string{"-1 -1 POST /v1/users/{name}/{action} no token", "-1 -1 POST /v1/users/{name}/{action} no token",
		"-1 -1 GET /v1/model no token"}, h.b.unauth, "the route names the call without the caller's text")

	for _, tc := range []struct {
		method, path string
		want         int
	}{
		{"GET", "/", 404}, {"GET", "/v1/nope", 404}, {"GET", "/v2/status", 404}, {"POST", "/v1/push/now", 404},
		{"GET", "/v1/push", 405}, {"DELETE", "/v1/status", 405},
	} {
		code, _ := h.do(tc.method, tc.path, "tok-admin", "")
		assert.Equal(t, tc.want, code, "%s %s", tc.method, tc.path)
	}
}

func TestBackendErrorsGetTheirStatus(t *testing.T) {
	h := newHarness(t)
	for _, tc := range []struct {
		err   error
		want  int
		diags []string
	}{
		{&api.Error{Status: 422, Message: "the model has 1 error(s)", Diagnostics: []string{"pushed model:3:4: bad"}}, 422, []string{"pushed model:3:4: bad"}},
		{&api.Error{Status: 409, Message: "waiting for confirmation"}, 409, nil},
		{fmt.Errorf("record: %w", audit.ErrFull), 503, nil},
		{fmt.Errorf("record: %w", audit.ErrUnavailable), 503, nil},
		{auth.ErrAudit, 503, nil},
		{auth.ErrLocked, 403, nil},
		{errors.New("kernel said no"), 500, nil},
	} {
		h.b.err = tc.err
		code, body := h.do("POST", "/v1/push", "tok-eng", `{"model":"m"}`)
		assert.Equal(t, tc.want, code, "%v", tc.err)
		var e api.Error
		require.NoError(t, json.Unmarshal(body, &e), "%s", body)
		assert.Equal(t, tc.diags, e.Diagnostics, "%v", tc.err)
		assert.NotContains(t, e.Message, "\n", "diagnostics are a list of their own")
	}
}

func TestUsersAndAccountCalls(t *testing.T) {
	h := newHarness(t)
	code, body := h.do("POST", "/v1/init", "", `{"user":"ada","password":"Quartz-Meadow-Lantern-81"}`)
	require.Equal(t, http.StatusCreated, code, "%s", body)
	assert.JSONEq(t, `{"user":"ada","role":"admin"}`, string(body))

	code, body = h.do("POST", "/v1/login", "", `{"user":"ada","password":"right"}`)
	require.Equal(t, http.StatusOK, code, "%s", body)
	var login api.LoginResult
	require.NoError(t, json.Unmarshal(body, &login))
	assert.Equal(t, "tok-ada", login.Token)

	code, body = h.do("GET", "/v1/users", "tok-admin", "")
	require.Equal(t, http.StatusOK, code, "%s", body)
	var users []api.User
	require.NoError(t, json.Unmarshal(body, &users))
	require.Len(t, users, 2)
	assert.Equal(t, "viewer", users[1].Role)
	assert.True(t, users[1].Locked)

	code, body = h.do("POST", "/v1/users/vera/disable", "tok-admin", "")
	assert.Equal(t, http.StatusOK, code, "%s", body)
	assert.JSONEq(t, `{"user":"vera","done":"disable"}`, string(body))
	code, body = h.do("POST", "/v1/users/vera/role", "tok-admin", `{"role":"operator"}`)
	assert.Equal(t, http.StatusOK, code, "%s", body)
	code, _ = h.do("POST", "/v1/users/vera/role", "tok-admin", `{"role":"overlord"}`)
	assert.Equal(t, http.StatusBadRequest, code)
	code, body = h.do("POST", "/v1/users/vera/enable", "tok-admin", "")
	assert.Equal(t, http.StatusOK, code, "nothing to do is a success: %s", body)
	assert.JSONEq(t, `{"user":"vera","done":"enable","unchanged":true}`, string(body))
	assert.Equal(t, []string{"init ada", "ada disable vera", "ada role vera operator"}, h.acc.calls)
}

// TestClientOverSocket runs the API on a Unix socket and calls it with
// api.Client: the wire types go both ways and the peer is named.
func TestClientOverSocket(t *testing.T) {
	dir, err := os.MkdirTemp("", "zghttpapi")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "api.sock")
	b := &fakeBackend{within: time.Minute}
	acc := newFakeAccounts()
	srv, err := Start(Config{Socket: sock, GID: -1, Backend: b, Accounts: acc})
	require.NoError(t, err)
	t.Cleanup(func() { srv.Close() })

	fi, err := os.Stat(sock)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o660), fi.Mode().Perm(), "socket mode")
	_, err = Listen(sock, -1)
	assert.ErrorContains(t, err, "another zonegate answers", "a second daemon must not take the socket over")

	ctx := context.Background()
	c := api.NewClient(sock)
	defer c.Close()
	_, err = c.Status(ctx)
	var ae *api.Error
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, http.StatusUnauthorized, ae.Status)
	assert.Contains(t, ae.Message, "log in first")
	assert.Equal(t, []string{fmt.Sprintf("%d %d GET /v1/status no token", os.Getuid(), os.Getpid())}, b.unauth,
		"a call without a session is reported with the peer's socket credentials")

	login, err := c.Login(ctx, "eng", "right")
	require.NoError(t, err)
	c.Token = login.Token
	st, err := c.Status(ctx)
	require.NoError(t, err)
	assert.Equal(t, "unit-gw", st.Gateway)
	assert.Equal(t, []api.Counter{{Name: "conduit_x", Packets: 3, Bytes: 180}}, st.Counters)
	res, err := c.Push(ctx, api.PushRequest{Model: "m", ConfirmWithin: "30s"})
	require.NoError(t, err)
	assert.Equal(t, 2, res.Version)
	v, err := c.Rollback(ctx, 0)
	require.NoError(t, err)
	assert.Equal(t, 1, v)
	assert.Equal(t, []string{"status", `push erin "m" "" 30s`, "rollback erin 0"}, b.takeCalls())

	c.Token = "tok-viewer"
	err = c.SetIsland(ctx, true)
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, http.StatusForbidden, ae.Status)
	require.Len(t, b.refused, 1)
	assert.Contains(t, b.refused[0].Details[audit.DetailRemote], fmt.Sprintf("uid=%d pid=%d", os.Getuid(), os.Getpid()), "the peer's credentials name the caller")

	gone := api.NewClient(filepath.Join(dir, "none.sock"))
	_, err = gone.Status(ctx)
	assert.ErrorContains(t, err, "is `zonegate serve` running?")
}

// TestChangeErrors: the change transactions' errors get their statuses,
// a rejected model its diagnostics.
func TestChangeErrors(t *testing.T) {
	h := newHarness(t)
	diags := zone.Diagnostics{{File: "pushed model", Pos: zone.Pos{Line: 14, Column: 9}, Message: "conduit ops-to-cell: unknown zone \"cell\""}}
	for _, tc := range []struct {
		err   error
		want  int
		diags []string
	}{
		{&changes.ModelError{Diagnostics: diags}, 422, []string{diags[0].String()}},
		{fmt.Errorf("push: %w", changes.ErrPending), 409, nil},
		{changes.ErrNothingPending, 409, nil},
		{changes.ErrNoPrevious, 409, nil},
		{changes.ErrNoModel, 404, nil},
		{&changes.HistoryError{Version: 2, State: "running", Err: errors.New("disk full")}, 500, nil},
	} {
		h.b.err = tc.err
		code, body := h.do("POST", "/v1/push", "tok-eng", `{"model":"m"}`)
		assert.Equal(t, tc.want, code, tc.err.Error())
		var e api.Error
		require.NoError(t, json.Unmarshal(body, &e))
		assert.Equal(t, tc.diags, e.Diagnostics)
		if tc.diags != nil {
			assert.Equal(t, "the model has 1 error(s); nothing was changed", e.Message)
		}
	}
}
