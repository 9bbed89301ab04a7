package gateway

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/zonegate/zonegate/gateway/api"
	"github.com/zonegate/zonegate/gateway/audit"
)

// The management API's answers that need neither root nor nftables: the
// handlers are served from a daemon with an audit log and accounts in a
// temporary directory, but no firewall.

const mgInvalidModel = `version: 1
gateway:
  name: unit-gw
  management:
    zones: [ops]
zones:
  - name: ops
    importance: medium
    interfaces: [eth0]
    networks: [198.18.11.0/24]
conduits:
  - name: ops-to-cell
    from: ops
    to: cell
    services: [tcp/7000]
`

type mgAPI struct {
	t *testing.T
	d *Daemon
	h http.Handler
}

func mgNewAPI(t *testing.T) *mgAPI {
	t.Helper()
	s := DefaultSettings()
	s.StateDir = t.TempDir()
	d := New(Config{Settings: s})
	d.openAudit(nil)
	if d.audit == nil {
		t.Fatal("the audit log did not open")
	}
	if err := d.openAccounts(nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.closeAudit)
	return &mgAPI{t: t, d: d, h: d.apiHandler()}
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
		if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Message == "" {
			a.t.Errorf("%s %s: %d answer is no JSON error: %q", method, path, rec.Code, rec.Body)
		}
	}
	return rec.Code, e
}

func (a *mgAPI) login(user, pw string) string {
	a.t.Helper()
	req := httptest.NewRequest("POST", "/v1/login", strings.NewReader(`{"user":"`+user+`","password":"`+pw+`"}`))
	rec := httptest.NewRecorder()
	a.h.ServeHTTP(rec, req)
	var out struct {
		Token string `json:"token"`
	}
	if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &out) != nil || out.Token == "" {
		a.t.Fatalf("login %s: %d %s", user, rec.Code, rec.Body)
	}
	return out.Token
}

func (a *mgAPI) records() []audit.Entry {
	a.t.Helper()
	var out []audit.Entry
	if err := audit.Read(a.d.set.AuditDir(), audit.Filter{}, func(e audit.Entry) error {
		out = append(out, e)
		return nil
	}); err != nil {
		a.t.Fatal(err)
	}
	return out
}

func TestAPIStatusCodes(t *testing.T) {
	a := mgNewAPI(t)
	const adminPW, viewerPW, opPW = "Quartz-Meadow-Lantern-81", "Maple-Orbit-Glacier-39", "Velvet-Comet-Tundra-64"

	// Before init: no token, unknown endpoints, bad bodies.
	if code, e := a.do("GET", "/v1/status", "", ""); code != http.StatusUnauthorized || !strings.Contains(e.Message, "log in") {
		t.Errorf("status without a token: %d %q", code, e.Message)
	}
	for _, p := range []string{"/v1/nope", "/v1", "/status"} {
		if code, _ := a.do("GET", p, "", ""); code != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", p, code)
		}
	}
	for _, body := range []string{`{`, `{"user":"admin","password":"x","role":"admin"}`, `"admin"`} {
		if code, _ := a.do("POST", "/v1/init", "", body); code != http.StatusBadRequest {
			t.Errorf("init with %s: %d, want 400", body, code)
		}
	}
	if code, e := a.do("POST", "/v1/init", "", `{"user":"admin","password":"short"}`); code != http.StatusBadRequest || !strings.Contains(e.Message, "shorter") {
		t.Errorf("init with a weak password: %d %q, want 400 naming the rule", code, e.Message)
	}
	if code, _ := a.do("POST", "/v1/init", "", `{"user":"admin","password":"`+adminPW+`"}`); code != http.StatusCreated {
		t.Fatalf("init: %d", code)
	}
	if code, _ := a.do("POST", "/v1/init", "", `{"user":"other","password":"`+adminPW+`x"}`); code != http.StatusConflict {
		t.Errorf("second init: %d, want 409", code)
	}
	if code, _ := a.do("POST", "/v1/login", "", `{"user":"admin","password":"wrong-but-long-enough"}`); code != http.StatusUnauthorized {
		t.Errorf("login with a wrong password: %d, want 401", code)
	}
	admin := a.login("admin", adminPW)

	// An invalid model is refused with its FILE:LINE:COLUMN diagnostics.
	body, _ := json.Marshal(api.PushRequest{Model: mgInvalidModel, ConfirmWithin: "0"})
	code, e := a.do("POST", "/v1/push", admin, string(body))
	if code != http.StatusUnprocessableEntity || len(e.Diagnostics) != 1 || !strings.HasPrefix(e.Diagnostics[0], "pushed model:14:9: ") {
		t.Errorf("push of an invalid model: %d %+v, want 422 with pushed model:14:9", code, e)
	}
	for _, b := range []string{`{"model": 1}`, `{"model": "x", "confirm_within": "2 minutes"}`, `{"model": "x", "confirm_within": "25h"}`, `{"model": "x", "force": true}`} {
		if code, _ := a.do("POST", "/v1/push", admin, b); code != http.StatusBadRequest {
			t.Errorf("push %s: %d, want 400", b, code)
		}
	}
	if code, _ := a.do("GET", "/v1/push", admin, ""); code != http.StatusMethodNotAllowed {
		t.Errorf("GET /v1/push: %d, want 405", code)
	}
	// While a push waits for confirmation another one is refused.
	a.d.mu.Lock()
	a.d.state.Pending = &Pending{Version: 2, Previous: 1, User: "erin"}
	a.d.mu.Unlock()
	if code, e := a.do("POST", "/v1/push", admin, string(body)); code != http.StatusConflict || !strings.Contains(e.Message, "waiting for confirmation") {
		t.Errorf("push while another waits: %d %q, want 409", code, e.Message)
	}
	a.d.mu.Lock()
	a.d.state.Pending = nil
	a.d.mu.Unlock()

	// Roles: a viewer may not push; a user who must change the password
	// is told so, not that the role is missing.
	for _, u := range []struct{ name, role, pw string }{{"vera", "viewer", viewerPW}, {"oscar", "operator", opPW}} {
		b, _ := json.Marshal(api.UserRequest{Name: u.name, Role: u.role, Password: u.pw, MustChange: u.name == "oscar"})
		if code, e := a.do("POST", "/v1/users", admin, string(b)); code != http.StatusCreated {
			t.Fatalf("add %s: %d %q", u.name, code, e.Message)
		}
	}
	vera := a.login("vera", viewerPW)
	if code, e := a.do("POST", "/v1/push", vera, string(body)); code != http.StatusForbidden || !strings.Contains(e.Message, "vera is viewer") {
		t.Errorf("viewer push: %d %q, want 403 naming the role", code, e.Message)
	}
	b, _ := json.Marshal(api.UserRequest{Name: "zed", Role: "admin", Password: "Fresh-Willow-Canyon-73"})
	if code, _ := a.do("POST", "/v1/users", vera, string(b)); code != http.StatusForbidden {
		t.Errorf("viewer adds a user: %d, want 403", code)
	}
	oscar := a.login("oscar", opPW)
	if code, e := a.do("POST", "/v1/confirm", oscar, ""); code != http.StatusForbidden || !strings.Contains(e.Message, "must be changed") {
		t.Errorf("operator who must change the password confirms: %d %q, want 403 saying the password must be changed", code, e.Message)
	}
	if code, e := a.do("POST", "/v1/users/nobody/unlock", admin, ""); code != http.StatusNotFound {
		t.Errorf("unlock of an unknown user: %d %q, want 404", code, e.Message)
	}

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
	want := []string{"vera config/push-model /v1/push", "vera account/create user:zed", "oscar config/confirm /v1/confirm"}
	if strings.Join(denied, "; ") != strings.Join(want, "; ") {
		t.Errorf("denied records:\n%s\nwant:\n%s", strings.Join(denied, "\n"), strings.Join(want, "\n"))
	}
	if rejected != 1 {
		t.Errorf("%d model-rejected records by admin, want 1", rejected)
	}
}
