package gateway

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zonegate/zonegate/gateway/api"
	"github.com/zonegate/zonegate/gateway/audit"
	"github.com/zonegate/zonegate/gateway/internal/gatewaytest"
)

// The management API's answers that need neither root nor nftables: the
// handlers are served from a daemon with an audit log and accounts in a
// temporary directory and firewalltest's fake kernel.

const mgInvalidModel = gatewaytest.Invalid

type mgAPI struct {
	t *testing.T
	d *Daemon
	h http.Handler
}

func mgNewAPI(t *testing.T) *mgAPI {
	t.Helper()
	h := newHarness(t)
	require.NotNil(t, h.d.rec.Log(), "the audit log did not open")
	return &mgAPI{t: t, d: h.d, h: h.d.apiHandler()}
}

func (a *mgAPI) do(method, path, token, body string) (int, api.Error) {
	a.t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if body == "" {
		req = httptest.NewRequest(method, path, nil)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	a.h.ServeHTTP(rec, req)
	var e api.Error
	if rec.Code >= 300 && rec.Code != http.StatusNotFound && rec.Code != http.StatusMethodNotAllowed {
		err := json.Unmarshal(rec.Body.Bytes(), &e)
		assert.True(a.t, err == nil && e.Message != "", "%s %s: %d answer is no JSON error: %q", method, path, rec.Code, rec.Body)
	}
	return rec.Code, e
}

func (a *mgAPI) login(user, pw string) string {
	a.t.Helper()
	req := httptest.NewRequest("POST", "/v1/login", strings.NewReader(`{"user":"`+user+`","password":"`+pw+`"}`))
	rec := httptest.NewRecorder()
	a.h.ServeHTTP(rec, req)
	var out api.LoginResult
	require.Equal(a.t, http.StatusOK, rec.Code, "login %s: %s", user, rec.Body)
	require.NoError(a.t, json.Unmarshal(rec.Body.Bytes(), &out))
	require.NotEmpty(a.t, out.Token, "login %s", user)
	return out.Token
}

func (a *mgAPI) records() []audit.Entry {
	a.t.Helper()
	var out []audit.Entry
	require.NoError(a.t, audit.Read(a.d.set.AuditDir(), audit.Filter{}, func(e audit.Entry) error {
		out = append(out, e)
		return nil
	}))
	return out
}

func TestAPIStatusCodes(t *testing.T) {
	a := mgNewAPI(t)
	const adminPW, viewerPW, opPW = "Quartz-Meadow-Lantern-81", "Maple-Orbit-Glacier-39", "Velvet-Comet-Tundra-64"

	// Before init: no token, unknown endpoints, bad bodies.
	code, e := a.do("GET", "/v1/status", "", "")
	assert.Equal(t, http.StatusUnauthorized, code, "status without a token")
	assert.Contains(t, e.Message, "log in", "status without a token")
	for _, p := range []string{"/v1/nope", "/v1", "/status"} {
		code, _ := a.do("GET", p, "", "")
		assert.Equal(t, http.StatusNotFound, code, "GET %s", p)
	}
	for _, body := range []string{`{`, `{"user":"admin","password":"x","role":"admin"}`, `"admin"`} {
		code, _ := a.do("POST", "/v1/init", "", body)
		assert.Equal(t, http.StatusBadRequest, code, "init with %s", body)
	}
	code, e = a.do("POST", "/v1/init", "", `{"user":"admin","password":"short"}`)
	assert.Equal(t, http.StatusBadRequest, code, "init with a weak password")
	assert.Contains(t, e.Message, "shorter", "init with a weak password names the rule")
	code, _ = a.do("POST", "/v1/init", "", `{"user":"admin","password":"`+adminPW+`"}`)
	require.Equal(t, http.StatusCreated, code, "init")
	code, _ = a.do("POST", "/v1/init", "", `{"user":"other","password":"`+adminPW+`x"}`)
	assert.Equal(t, http.StatusConflict, code, "second init")
	code, _ = a.do("POST", "/v1/login", "", `{"user":"admin","password":"wrong-but-long-enough"}`)
	assert.Equal(t, http.StatusUnauthorized, code, "login with a wrong password")
	admin := a.login("admin", adminPW)

	// An invalid model is refused with its FILE:LINE:COLUMN diagnostics.
	body, _ := json.Marshal(api.PushRequest{Model: mgInvalidModel, ConfirmWithin: "0"})
	code, e = a.do("POST", "/v1/push", admin, string(body))
	assert.Equal(t, http.StatusUnprocessableEntity, code, "push of an invalid model")
	if assert.Len(t, e.Diagnostics, 1, "push of an invalid model") {
		assert.True(t, strings.HasPrefix(e.Diagnostics[0], "pushed model:14:9: "), "diagnostic %q, want pushed model:14:9", e.Diagnostics[0])
	}
	for _, b := range []string{`{"model": 1}`, `{"model": "x", "confirm_within": "2 minutes"}`, `{"model": "x", "confirm_within": "25h"}`, `{"model": "x", "force": true}`} {
		code, _ := a.do("POST", "/v1/push", admin, b)
		assert.Equal(t, http.StatusBadRequest, code, "push %s", b)
	}
	code, _ = a.do("GET", "/v1/push", admin, "")
	assert.Equal(t, http.StatusMethodNotAllowed, code, "GET /v1/push")
	// While a push waits for confirmation another one is refused.
	pending, _ := json.Marshal(api.PushRequest{Model: hModelBase, ConfirmWithin: "2m"})
	code, e = a.do("POST", "/v1/push", admin, string(pending))
	require.Equal(t, http.StatusOK, code, "push with a confirm deadline: %s", e.Message)
	code, e = a.do("POST", "/v1/push", admin, string(body))
	assert.Equal(t, http.StatusConflict, code, "push while another waits")
	assert.Contains(t, e.Message, "waiting for confirmation", "push while another waits")
	code, e = a.do("POST", "/v1/rollback", admin, `{"version": 0}`)
	require.Equal(t, http.StatusOK, code, "rollback of the pending change: %s", e.Message)
	code, e = a.do("POST", "/v1/confirm", admin, "")
	assert.Equal(t, http.StatusConflict, code, "confirm without a pending change")
	assert.Contains(t, e.Message, "nothing to confirm")

	// Roles: a viewer may not push; a user who must change the password
	// is told so, not that the role is missing.
	for _, u := range []struct{ name, role, pw string }{{"vera", "viewer", viewerPW}, {"oscar", "operator", opPW}} {
		b, _ := json.Marshal(api.UserRequest{Name: u.name, Role: u.role, Password: u.pw, MustChange: u.name == "oscar"})
		code, e := a.do("POST", "/v1/users", admin, string(b))
		require.Equal(t, http.StatusCreated, code, "add %s: %s", u.name, e.Message)
	}
	vera := a.login("vera", viewerPW)
	code, e = a.do("POST", "/v1/push", vera, string(body))
	assert.Equal(t, http.StatusForbidden, code, "viewer push")
	assert.Contains(t, e.Message, "vera is viewer", "viewer push names the role")
	b, _ := json.Marshal(api.UserRequest{Name: "zed", Role: "admin", Password: "Fresh-Willow-Canyon-73"})
	code, _ = a.do("POST", "/v1/users", vera, string(b))
	assert.Equal(t, http.StatusForbidden, code, "viewer adds a user")
	oscar := a.login("oscar", opPW)
	code, e = a.do("POST", "/v1/confirm", oscar, "")
	assert.Equal(t, http.StatusForbidden, code, "operator who must change the password confirms")
	assert.Contains(t, e.Message, "must be changed", "operator who must change the password confirms")
	code, e = a.do("POST", "/v1/users/nobody/unlock", admin, "")
	assert.Equal(t, http.StatusNotFound, code, "unlock of an unknown user: %q", e.Message)

	var denied []string
	rejected := 0
	for _, r := range a.records() {
		if r.Result == audit.ResultDenied {
			denied = append(denied, r.Actor+" "+string(r.Category)+"/"+string(r.Action)+" "+r.Object)
		}
		if r.Action == audit.ActionModelRejected && r.Actor == "admin" {
			rejected++
		}
	}
	assert.Equal(t, []string{"vera config/push-model /v1/push", "vera account/create user:zed", "oscar config/confirm /v1/confirm"}, denied, "denied records")
	assert.Equal(t, 1, rejected, "model-rejected records by admin")
}
