package console

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zonegate/zonegate/gateway/audit"
	"github.com/zonegate/zonegate/gateway/auth"
)

// pushPending pushes a change of the example factory that waits for
// confirmation.
func (e *env) pushPending(t *testing.T, within time.Duration) int {
	t.Helper()
	next := strings.Replace(exampleFactory(t), "services: [tcp/3389]", "services: [tcp/3389, tcp/22]", 1)
	if p := e.tx.Status().Pending; p != nil || e.tx.Status().Version > 1 {
		next = strings.Replace(next, "tcp/22]", "tcp/23]", 1)
	}
	res, err := e.tx.Push(t.Context(), changesActor("erin"), []byte(next), "open ssh", within)
	require.NoError(t, err)
	return res.Version
}

// lastRecord is the newest record of an action.
func (e *env) lastRecord(t *testing.T, action audit.Action) audit.Entry {
	t.Helper()
	rs := e.records(audit.Filter{Action: action})
	require.NotEmpty(t, rs, "no %s record", action)
	return rs[len(rs)-1]
}

// TestConfirmPendingChange: the overview counts down to the deadline; an
// operator's confirm goes through a confirmation step that names the
// version and the deadline, then confirms, recorded with the client's
// address; the countdown is gone.
func TestConfirmPendingChange(t *testing.T) {
	e := newEnv(t, exampleFactory(t))
	v := e.pushPending(t, 2*time.Minute)
	b := e.browser(remoteA)
	b.mustLogin("otto", pwOperator)
	e.clk.Advance(20 * time.Second)

	overview := must200(t, b.get("/overview"), "overview")
	assert.Contains(t, overview, `data-remaining="100"`, "the countdown starts at the time left")
	assert.Contains(t, overview, "1m 40s")
	assert.Contains(t, overview, `id="confirm-pending"`)
	assert.Contains(t, must200(t, b.get("/live/overview"), "live"), `id="countdown"`)

	ask := b.act("/action/confirm", formOf("version", "2"), false)
	page := must200(t, ask, "confirmation step")
	assert.Contains(t, page, "Confirm model version 2?")
	assert.Contains(t, page, "The automatic rollback to version 1 at 2026-03-01 09:02:00 UTC (in 1m 40s) is cancelled.")
	assert.Contains(t, page, `name="confirmed" value="yes"`)
	require.NotNil(t, e.tx.Status().Pending, "the first step changes nothing")

	done := b.act("/action/confirm", formOf("version", "2"), true)
	require.Equal(t, http.StatusSeeOther, done.Code, done.Body.String())
	assert.Nil(t, e.tx.Status().Pending)
	overview = must200(t, b.get("/overview"), "after")
	assert.Contains(t, overview, "Model version 2 is confirmed and stays.", "the outcome")
	assert.NotContains(t, overview, `id="countdown"`, "the countdown is gone")
	assert.Contains(t, overview, `id="no-pending"`)
	r := e.lastRecord(t, audit.ActionModelConfirmed)
	assert.Equal(t, "otto", r.Actor)
	assert.Equal(t, remoteA, r.Details[audit.DetailRemote])
	_ = v

	// A second confirm of the same version finds nothing to confirm.
	again := b.act("/action/confirm", formOf("version", "2"), true)
	assert.Equal(t, http.StatusConflict, again.Code)
	assert.Contains(t, errorText(again), "nothing to confirm")
}

// TestConfirmNamesItsVersion: a confirm pressed for one version never
// confirms another that was pushed in between.
func TestConfirmNamesItsVersion(t *testing.T) {
	e := newEnv(t, exampleFactory(t))
	e.pushPending(t, time.Minute)
	b := e.browser(remoteA)
	b.mustLogin("otto", pwOperator)
	w := b.act("/action/confirm", formOf("version", "1"), true)
	assert.Equal(t, http.StatusConflict, w.Code)
	assert.Contains(t, errorText(w), "version 1 is no longer waiting for confirmation (version 2 is)")
	assert.NotNil(t, e.tx.Status().Pending)
	bad := b.act("/action/confirm", formOf("version", "two"), true)
	assert.Equal(t, http.StatusBadRequest, bad.Code)
}

// TestRollbackAndDeadline: an operator rolls a pending change back after
// the confirmation step; another one rolls back by itself at its
// deadline and the overview says so; the history offers going back.
func TestRollbackAndDeadline(t *testing.T) {
	e := newEnv(t, exampleFactory(t))
	e.pushPending(t, time.Minute)
	b := e.browser(remoteA)
	b.mustLogin("otto", pwOperator)
	ask := must200(t, b.act("/action/rollback", formOf("version", "0"), false), "step")
	assert.Contains(t, ask, "Roll back model version 2 now?")
	assert.Contains(t, ask, "Version 1 comes back")
	assert.Contains(t, ask, "~ conduit vendor-to-eng: services: [tcp/22, tcp/3389] -&gt; [tcp/3389]", "what changes")
	require.NotNil(t, e.tx.Status().Pending)
	done := b.act("/action/rollback", formOf("version", "0"), true)
	require.Equal(t, http.StatusSeeOther, done.Code, done.Body.String())
	assert.Nil(t, e.tx.Status().Pending)
	assert.Equal(t, 1, e.tx.Status().Version)
	r := e.lastRecord(t, audit.ActionModelRolledBack)
	assert.Equal(t, remoteA, r.Details[audit.DetailRemote])
	assert.Contains(t, must200(t, b.get("/overview"), "after"), "Rolled back: model version 1 runs.")

	// The next one is left to its deadline.
	e.pushPending(t, time.Minute)
	assert.Contains(t, must200(t, b.get("/live/overview"), "pending"), `id="countdown"`)
	e.clk.Advance(time.Minute)
	live := must200(t, b.get("/live/overview"), "after the deadline")
	assert.NotContains(t, live, `id="countdown"`)
	assert.Contains(t, live, "version 1")
	assert.Contains(t, must200(t, b.get("/history"), "history"), `class="state-rolled-back">rolled-back`)

	// Going back to an earlier version from the history.
	e.pushPending(t, 0)
	history := must200(t, b.get("/history"), "history")
	assert.Contains(t, history, "Go back to 1…")
	step := must200(t, b.act("/action/rollback", formOf("version", "1"), false), "step")
	assert.Contains(t, step, "Version 1 replaces the running version 4")
	require.Equal(t, http.StatusSeeOther, b.act("/action/rollback", formOf("version", "1"), true).Code)
	assert.Equal(t, 1, e.tx.Status().Version)
}

// TestIslandMode: on and off through the confirmation step.
func TestIslandMode(t *testing.T) {
	e := newEnv(t, exampleFactory(t))
	b := e.browser(remoteB)
	b.mustLogin("ada", pwAdmin)
	step := must200(t, b.act("/action/island", formOf("on", "1"), false), "step")
	assert.Contains(t, step, "All forwarding between zones stops now")
	assert.False(t, e.tx.Status().Island)
	require.Equal(t, http.StatusSeeOther, b.act("/action/island", formOf("on", "1"), true).Code)
	assert.True(t, e.tx.Status().Island)
	r := e.lastRecord(t, audit.ActionIslandMode)
	assert.Equal(t, "on", r.Details[audit.DetailState])
	assert.Equal(t, remoteB, r.Details[audit.DetailRemote])
	assert.Contains(t, must200(t, b.get("/overview"), "on"), `id="island-off"`)
	require.Equal(t, http.StatusSeeOther, b.act("/action/island", formOf("on", "0"), true).Code)
	assert.False(t, e.tx.Status().Island)
}

// TestViewerCannotAct: a viewer sees no buttons, and the server refuses
// the form (recorded as the API records it) and changes nothing.
func TestViewerCannotAct(t *testing.T) {
	e := newEnv(t, exampleFactory(t))
	e.pushPending(t, time.Minute)
	b := e.browser(remoteA)
	b.mustLogin("vera", pwViewer)
	for _, path := range []string{"/overview", "/history", "/accounts"} {
		body := must200(t, b.get(path), path)
		for _, button := range []string{"/action/confirm", "/action/rollback", "/action/island", "/accounts/add", "/disable", "/unlock", "/reset"} {
			assert.NotContains(t, body, button, "%s shows a viewer %s", path, button)
		}
	}
	for _, a := range []struct {
		path string
		form url.Values
		perm auth.Permission
	}{
		{"/action/confirm", formOf("version", "2"), auth.PermConfirm},
		{"/action/rollback", formOf("version", "0"), auth.PermRollback},
		{"/action/island", formOf("on", "1"), auth.PermIslandMode},
	} {
		for _, confirm := range []bool{false, true} {
			w := b.act(a.path, a.form, confirm)
			assert.Equal(t, http.StatusForbidden, w.Code, a.path)
			assert.Contains(t, errorText(w), "vera is viewer")
		}
		refused, _ := e.refused.lists()
		last := refused[len(refused)-1]
		assert.Equal(t, audit.Record{Actor: "vera", Category: audit.CategoryConfig, Action: audit.Action(a.perm), Object: a.path,
			Result: audit.ResultDenied, Details: map[string]string{audit.DetailRole: "viewer", audit.DetailRemote: remoteA}}, last)
	}
	assert.NotNil(t, e.tx.Status().Pending, "nothing was confirmed or rolled back")
	assert.False(t, e.tx.Status().Island)

	// Account administration: the accounts refuse and record it, with the
	// client's address.
	for _, path := range []string{"/accounts/otto/disable", "/accounts/otto/unlock"} {
		w := b.act(path, nil, false)
		assert.Equal(t, http.StatusForbidden, w.Code, path)
		assert.Contains(t, errorText(w), "permission denied", path)
	}
	w := b.act("/accounts/add", formOf("name", "mallory", "role", "admin", "password", pwAdmin, "password2", pwAdmin), false)
	assert.Equal(t, http.StatusForbidden, w.Code)
	for _, action := range []audit.Action{audit.ActionAccountDisable, audit.ActionUnlock, audit.ActionAccountCreate} {
		r := e.lastRecord(t, action)
		assert.Equal(t, audit.ResultDenied, r.Result, action)
		assert.Equal(t, "vera", r.Actor, action)
		assert.Equal(t, remoteA, r.Details[audit.DetailRemote], action)
	}
	u, err := e.accounts.User(auth.Actor{Name: "ada", Role: auth.RoleAdmin}, "otto")
	require.NoError(t, err)
	assert.False(t, u.Disabled)
	_, err = e.accounts.User(auth.Actor{Name: "ada", Role: auth.RoleAdmin}, "mallory")
	assert.ErrorIs(t, err, auth.ErrNoUser)
}

// TestAccountAdministration: add, disable, enable, reset and unlock,
// each after its confirmation step, recorded with the client's address.
func TestAccountAdministration(t *testing.T) {
	e := newEnv(t, exampleFactory(t))
	b := e.browser(remoteA)
	b.mustLogin("ada", pwAdmin)
	admin := auth.Actor{Name: "ada", Role: auth.RoleAdmin}
	newPW := "Harbor-Pine-Sextant-17"

	add := formOf("name", "nina", "role", "operator", "password", newPW, "password2", newPW, "must_change", "1")
	step := must200(t, b.act("/accounts/add", add, false), "step")
	assert.Contains(t, step, "Create the account nina?")
	assert.Contains(t, step, "the role operator")
	_, err := e.accounts.User(admin, "nina")
	require.ErrorIs(t, err, auth.ErrNoUser, "the first step creates nothing")
	require.Equal(t, http.StatusSeeOther, b.act("/accounts/add", add, true).Code)
	u, err := e.accounts.User(admin, "nina")
	require.NoError(t, err)
	assert.Equal(t, auth.RoleOperator, u.Role)
	assert.True(t, u.MustChangePassword)
	assert.Equal(t, remoteA, e.lastRecord(t, audit.ActionAccountCreate).Details[audit.DetailRemote])
	assert.Contains(t, must200(t, b.get("/accounts"), "accounts"), "The account nina (operator) is created.")

	mismatch := b.act("/accounts/add", formOf("name", "x1", "role", "viewer", "password", newPW, "password2", newPW+"!"), false)
	assert.Equal(t, http.StatusBadRequest, mismatch.Code)
	weak := b.act("/accounts/add", formOf("name", "x2", "role", "viewer", "password", "short", "password2", "short"), true)
	assert.Equal(t, http.StatusBadRequest, weak.Code)
	assert.Contains(t, errorText(weak), "password")

	assert.Contains(t, must200(t, b.act("/accounts/nina/disable", nil, false), "step"), "nina&#39;s sessions end now")
	require.Equal(t, http.StatusSeeOther, b.act("/accounts/nina/disable", nil, true).Code)
	u, _ = e.accounts.User(admin, "nina")
	assert.True(t, u.Disabled)
	require.Equal(t, http.StatusSeeOther, b.act("/accounts/nina/enable", nil, true).Code)
	u, _ = e.accounts.User(admin, "nina")
	assert.False(t, u.Disabled)

	reset := formOf("password", "Lagoon-Ember-Violin-52", "password2", "Lagoon-Ember-Violin-52")
	assert.Contains(t, must200(t, b.act("/accounts/nina/reset", reset, false), "step"), "Must change the password at the next sign-in: no.")
	require.Equal(t, http.StatusSeeOther, b.act("/accounts/nina/reset", reset, true).Code)
	assert.Equal(t, remoteA, e.lastRecord(t, audit.ActionPasswordReset).Details[audit.DetailRemote])

	// Lock otto, then unlock him.
	for range 3 {
		e.browser(remoteB).login("otto", "not-his-password-at-all")
	}
	u, _ = e.accounts.User(admin, "otto")
	require.True(t, u.Locked)
	assert.Contains(t, must200(t, b.get("/accounts"), "accounts"), `id="unlock-otto"`)
	require.Equal(t, http.StatusSeeOther, b.act("/accounts/otto/unlock", nil, true).Code)
	u, _ = e.accounts.User(admin, "otto")
	assert.False(t, u.Locked)
	assert.Equal(t, remoteA, e.lastRecord(t, audit.ActionUnlock).Details[audit.DetailRemote])

	assert.Equal(t, http.StatusNotFound, b.act("/accounts/nobody/disable", nil, false).Code)
	assert.Equal(t, http.StatusBadRequest, b.act("/accounts/nina/explode", nil, false).Code)
	last := b.act("/accounts/ada/disable", nil, true)
	assert.Equal(t, http.StatusConflict, last.Code, "the last administrator stays")
}

// TestWrongPasswordLocks: failed sign-ins are refused with the same
// words whoever the user, recorded with the client's address, and lock
// the account after the configured number; a locked account is refused
// even with the right password.
func TestWrongPasswordLocks(t *testing.T) {
	e := newEnv(t, exampleFactory(t))
	b := e.browser(remoteB)
	for i := range 3 {
		w := b.login("otto", "Wrong-Password-Number-1")
		assert.Equal(t, http.StatusUnauthorized, w.Code, i)
		assert.Contains(t, w.Body.String(), "wrong user name or password")
		assert.NotContains(t, b.cookies, sessionCookie)
	}
	w := b.login("otto", pwOperator)
	assert.Equal(t, http.StatusForbidden, w.Code)
	assert.Contains(t, w.Body.String(), "locked after too many failed logins")
	fails := e.records(audit.Filter{Action: audit.ActionLoginFailure})
	require.Len(t, fails, 4)
	for _, f := range fails {
		assert.Equal(t, remoteB, f.Details[audit.DetailRemote])
	}
	lock := e.lastRecord(t, audit.ActionLockout)
	assert.Equal(t, "user:otto", lock.Object)
	assert.Equal(t, remoteB, lock.Details[audit.DetailRemote])
	unknown := b.login("nobody", "Wrong-Password-Number-1")
	assert.Equal(t, http.StatusUnauthorized, unknown.Code, "an unknown user gets the same answer")
}

// TestCSRF: a form without the session's token, with another session's,
// or from another origin is refused, recorded and changes nothing; so is
// a sign-in form without its token.
func TestCSRF(t *testing.T) {
	e := newEnv(t, exampleFactory(t))
	e.pushPending(t, time.Minute)
	b := e.browser(remoteA)
	b.mustLogin("otto", pwOperator)
	other := e.browser(remoteB)
	other.mustLogin("ada", pwAdmin)
	form := formOf("version", "2", "confirmed", "yes")

	missing := b.post("/action/confirm", form)
	assert.Equal(t, http.StatusForbidden, missing.Code)
	assert.Contains(t, errorText(missing), "missing or wrong form token")
	form.Set("csrf", "forged")
	assert.Equal(t, http.StatusForbidden, b.post("/action/confirm", form).Code)
	form.Set("csrf", other.token())
	assert.Equal(t, http.StatusForbidden, b.post("/action/confirm", form).Code, "another session's token")
	form.Set("csrf", b.token())
	req := postReq("/action/confirm", form)
	req.Header.Set("Origin", "https://evil.example")
	assert.Equal(t, http.StatusForbidden, b.do(req).Code, "another origin")
	assert.NotNil(t, e.tx.Status().Pending, "nothing was confirmed")
	refused, _ := e.refused.lists()
	require.Len(t, refused, 4)
	for _, r := range refused {
		assert.Equal(t, "missing or wrong form token, or another origin", r.Details[audit.DetailReason])
		assert.Equal(t, remoteA, r.Details[audit.DetailRemote])
		assert.Equal(t, audit.Action(auth.PermConfirm), r.Action)
	}
	logout := b.post("/logout", url.Values{})
	assert.Equal(t, http.StatusForbidden, logout.Code, "logout needs the token too")

	// With the right token and origin it works.
	req = postReq("/action/confirm", form)
	req.Header.Set("Origin", "https://198.18.60.1:8443")
	assert.Equal(t, http.StatusSeeOther, b.do(req).Code)

	// The sign-in form.
	anon := e.browser(remoteB)
	w := anon.post("/login", formOf("user", "ada", "password", pwAdmin))
	assert.Equal(t, http.StatusForbidden, w.Code)
	assert.NotContains(t, anon.cookies, sessionCookie)
	_, unauth := e.refused.lists()
	assert.Contains(t, unauth, remoteB+" POST /login login form without its token")
	assert.Empty(t, e.records(audit.Filter{Action: audit.ActionLoginFailure}), "no password was checked")
}

func postReq(path string, form url.Values) *http.Request {
	req, _ := http.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return req
}

// TestStolenCookie: a session cookie used from another address than the
// one that signed in is refused, ends the session and is recorded;
// after logout the cookie is worth nothing anywhere.
func TestStolenCookie(t *testing.T) {
	e := newEnv(t, exampleFactory(t))
	owner := e.browser(remoteA)
	owner.mustLogin("ada", pwAdmin)
	thief := e.browser(remoteB)
	thief.cookies[sessionCookie] = owner.cookies[sessionCookie]
	w := thief.get("/overview")
	require.Equal(t, http.StatusSeeOther, w.Code)
	assert.Equal(t, "/login?why=moved", w.Header().Get("Location"))
	_, unauth := e.refused.lists()
	require.Len(t, unauth, 1)
	assert.Equal(t, remoteB+" GET /overview session cookie of ada's login from 198.18.60.10 used from another address; the session was ended", unauth[0])
	w = owner.get("/overview")
	assert.Equal(t, http.StatusSeeOther, w.Code, "the session is over for its owner too")
	assert.Equal(t, remoteA, e.lastRecord(t, audit.Action(auth.ActionLogout)).Details[audit.DetailRemote])

	// Sign in again, sign out, then the old cookie from anywhere.
	owner.mustLogin("ada", pwAdmin)
	stolen := owner.cookies[sessionCookie]
	token := owner.token()
	require.Equal(t, http.StatusSeeOther, owner.post("/logout", formOf("csrf", token)).Code)
	assert.NotContains(t, owner.cookies, sessionCookie, "logout clears the cookie")
	for _, from := range []string{remoteA, remoteB} {
		replay := e.browser(from)
		replay.cookies[sessionCookie] = stolen
		assert.Equal(t, http.StatusSeeOther, replay.get("/overview").Code)
		replay.cookies[sessionCookie] = stolen
		w := replay.post("/action/island", formOf("on", "1", "confirmed", "yes", "csrf", token))
		assert.Equal(t, http.StatusSeeOther, w.Code)
		assert.Equal(t, "/login?why=invalid", w.Header().Get("Location"))
	}
	assert.False(t, e.tx.Status().Island)
	_, unauth = e.refused.lists()
	assert.Contains(t, unauth, remoteB+" POST /action/island invalid or expired session cookie")

	// An API token is no console cookie.
	apiToken, _, err := e.accounts.Login(t.Context(), "ada", pwAdmin, "local uid=0 pid=1")
	require.NoError(t, err)
	api := e.browser(remoteA)
	api.cookies[sessionCookie] = apiToken
	assert.Equal(t, http.StatusSeeOther, api.get("/overview").Code)
	_, err = e.accounts.Authenticate(apiToken)
	assert.NoError(t, err, "the API's session is not ended by it")
}

// TestTimeouts: a session ends after the idle timeout (the pages' own
// refreshes do not count) and at its lifetime however busy.
func TestTimeouts(t *testing.T) {
	e := newEnv(t, exampleFactory(t))
	b := e.browser(remoteA)
	b.mustLogin("vera", pwViewer)
	for range 9 {
		e.clk.Advance(time.Minute)
		require.Equal(t, http.StatusOK, b.get("/live/overview").Code)
	}
	e.clk.Advance(time.Minute)
	w := b.get("/overview")
	require.Equal(t, http.StatusSeeOther, w.Code)
	assert.Equal(t, "/login?why=idle", w.Header().Get("Location"))
	assert.Contains(t, b.get("/login?why=idle").Body.String(), "signed out after a time without activity")

	b.mustLogin("vera", pwViewer)
	busy := time.Duration(0)
	for range 8 * 7 {
		e.clk.Advance(9 * time.Minute)
		busy += 9 * time.Minute
		if w = b.get("/drawing"); w.Code != http.StatusOK {
			break
		}
	}
	assert.Equal(t, "/login?why=expired", w.Header().Get("Location"), "the lifetime ends it")
	assert.Equal(t, 8*time.Hour+6*time.Minute, busy, "at the first click after 8 h")
}

// TestMustChangePassword: an account that must change its password can
// do nothing else; after the change it signs in again.
func TestMustChangePassword(t *testing.T) {
	e := newEnv(t, exampleFactory(t))
	admin := auth.Actor{Name: "ada", Role: auth.RoleAdmin}
	require.NoError(t, e.accounts.AddUser(t.Context(), admin, "nina", auth.RoleOperator, "Harbor-Pine-Sextant-17", true))
	b := e.browser(remoteA)
	b.mustLogin("nina", "Harbor-Pine-Sextant-17")
	w := b.get("/overview")
	require.Equal(t, http.StatusSeeOther, w.Code)
	assert.Equal(t, "/account/password", w.Header().Get("Location"))
	page := must200(t, b.get("/account/password"), "password page")
	assert.Contains(t, page, `id="must-change"`)
	e.pushPending(t, time.Minute)
	w = b.post("/action/confirm", formOf("csrf", csrfOf(t, page), "version", "2", "confirmed", "yes"))
	assert.Equal(t, http.StatusForbidden, w.Code)
	assert.NotNil(t, e.tx.Status().Pending)

	newPW := "Lagoon-Ember-Violin-52"
	w = b.post("/account/password", formOf("csrf", csrfOf(t, page), "old", "Harbor-Pine-Sextant-17", "password", newPW, "password2", newPW))
	require.Equal(t, http.StatusSeeOther, w.Code, w.Body.String())
	assert.Equal(t, "/login?why=password", w.Header().Get("Location"))
	b.mustLogin("nina", newPW)
	must200(t, b.get("/overview"), "overview")
	assert.Equal(t, remoteA, e.lastRecord(t, audit.ActionPasswordChange).Details[audit.DetailRemote])
}

// TestBadRequests: oversized and malformed forms, traversal in asset
// URLs, unknown paths and methods are refused; nothing reaches a file
// outside the embedded assets.
func TestBadRequests(t *testing.T) {
	e := newEnv(t, exampleFactory(t))
	b := e.browser(remoteA)
	b.mustLogin("ada", pwAdmin)
	token := b.token()

	big := formOf("csrf", token, "name", strings.Repeat("x", maxForm))
	assert.Equal(t, http.StatusRequestEntityTooLarge, b.post("/accounts/add", big).Code)
	assert.Equal(t, http.StatusRequestEntityTooLarge, b.post("/login", big).Code)
	bad := httptestPost("/action/island", "csrf="+token+"&on=%zz")
	assert.Equal(t, http.StatusBadRequest, b.do(bad).Code)
	assert.False(t, e.tx.Status().Island)

	js := b.get("/static/console.js")
	require.Equal(t, http.StatusOK, js.Code)
	assert.Equal(t, "text/javascript; charset=utf-8", js.Header().Get("Content-Type"))
	assert.Equal(t, http.StatusNotModified, b.do(withHeader(httptestGet("/static/console.js"), "If-None-Match", js.Header().Get("ETag"))).Code)
	for _, path := range []string{
		"/static/../console.go", "/static/%2e%2e/console.go", "/static/..%2fconsole.go", "/static/%2e%2e%2f%2e%2e%2fgo.mod",
		"/static/..%5cconsole.go", "/static/templates%2flayout.html", "/static/", "/static/nothing.css", "/static/.", "/static/assets",
		"/static//etc/passwd", "/../../etc/passwd", "/static/console.js/x",
	} {
		w := b.get(path)
		assert.Contains(t, []int{http.StatusNotFound, http.StatusMovedPermanently, http.StatusTemporaryRedirect, http.StatusSeeOther}, w.Code, path)
		body := w.Body.String()
		assert.NotContains(t, body, "package console", path)
		assert.NotContains(t, body, "module github.com", path)
		assert.NotContains(t, body, "root:", path)
		assert.NotContains(t, body, `{{define`, path)
	}
	assert.Equal(t, http.StatusMethodNotAllowed, b.do(httptestReq(http.MethodDelete, "/overview")).Code)
	assert.Equal(t, http.StatusMethodNotAllowed, b.do(httptestReq(http.MethodGet, "/action/confirm")).Code)
	assert.Equal(t, http.StatusBadRequest, b.get("/live/events?since=x").Code)
}

// TestLiveEvents: the events page's refresh answers the events newer than
// the newest shown, newest first.
func TestLiveEvents(t *testing.T) {
	e := newEnv(t, exampleFactory(t))
	b := e.browser(remoteA)
	b.mustLogin("vera", pwViewer)
	e.events.add(zoneEvent("198.18.10.5"))
	page := must200(t, b.get("/events"), "events")
	assert.Contains(t, page, `data-since="1"`)
	e.events.add(zoneEvent("198.18.10.6"))
	e.events.add(zoneEvent("198.18.10.7"))
	w := b.get("/live/events?since=1")
	rows := must200(t, w, "live")
	assert.Equal(t, "3", w.Header().Get("X-Events-Last"))
	assert.NotContains(t, rows, "198.18.10.5")
	assert.Less(t, strings.Index(rows, "198.18.10.7"), strings.Index(rows, "198.18.10.6"))
	assert.NotContains(t, rows, "<html", "a fragment")
}

// TestDisabledAccountSessionEnds: disabling an account ends its console
// session at its next click, with the reason, and records no refusal (the
// cookie is the console's own).
func TestDisabledAccountSessionEnds(t *testing.T) {
	e := newEnv(t, exampleFactory(t))
	otto := e.browser(remoteB)
	otto.mustLogin("otto", pwOperator)
	admin := e.browser(remoteA)
	admin.mustLogin("ada", pwAdmin)
	require.Equal(t, http.StatusSeeOther, admin.act("/accounts/otto/disable", nil, true).Code)
	w := otto.get("/overview")
	require.Equal(t, http.StatusSeeOther, w.Code)
	assert.Equal(t, "/login?why=ended", w.Header().Get("Location"))
	assert.Contains(t, otto.get("/login?why=ended").Body.String(), "the account was disabled")
	_, unauth := e.refused.lists()
	assert.Empty(t, unauth)
}
