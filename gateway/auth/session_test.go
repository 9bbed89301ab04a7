package auth

import (
	"strings"
	"testing"
	"time"
)

func TestTokenFormat(t *testing.T) {
	e := newEnv(t, true)
	tok, exp, err := e.m.Login(e.ctx, "root_admin", pwAdmin, "uid=0 pid=42")
	must(t, err)
	check(t, strings.HasPrefix(tok, tokenPrefix) && len(tok) == len(tokenPrefix)+43, "token %q", tok)
	eq(t, exp, e.clock.Now().Add(8*time.Hour), "default lifetime")
	s, err := e.m.Authenticate(tok)
	must(t, err)
	eq(t, s.User, "root_admin", "user")
	eq(t, s.Client, "uid=0 pid=42", "client")
	ev := e.sink.find(ActionLoginSuccess)
	eq(t, len(ev), 1, "login events")
	eq(t, ev[0].Detail[DetailRemote], "uid=0 pid=42", "remote detail")

	// Only the hash of the token is kept.
	e.m.sessMu.Lock()
	for k := range e.m.sessions {
		check(t, !strings.Contains(string(k[:]), tok[len(tokenPrefix):]), "token stored in clear")
	}
	e.m.sessMu.Unlock()
	// And none of it is on disk.
	check(t, !strings.Contains(string(e.fileBytes()), tok[len(tokenPrefix):len(tokenPrefix)+10]), "token on disk")

	for _, bad := range []string{"", tokenPrefix, tok + "A", tok[:len(tok)-1], strings.Replace(tok, tokenPrefix, "zgs2_", 1),
		tokenPrefix + strings.Repeat("A", 43), tok[:len(tok)-1] + "!"} {
		_, err := e.m.Authenticate(bad)
		wantErr(t, err, ErrInvalidSession, bad)
	}
}

func TestSessionExpiry(t *testing.T) {
	e := newEnv(t, true, func(p *Policy) { p.SessionLifetime = time.Hour; p.SessionIdle = -1 })
	tok := e.mustLogin("root_admin", pwAdmin)
	e.clock.Advance(59 * time.Minute)
	_, err := e.m.Authenticate(tok)
	must(t, err)
	e.clock.Advance(time.Minute)
	_, err = e.m.Authenticate(tok)
	wantErr(t, err, ErrInvalidSession, "at expiry")
	eq(t, e.m.SessionCount(), 0, "expired session kept")
}

func TestSessionIdle(t *testing.T) {
	e := newEnv(t, true) // idle 30 min, lifetime 8 h
	tok := e.mustLogin("root_admin", pwAdmin)
	for i := 0; i < 10; i++ { // active use keeps it alive beyond the idle time
		e.clock.Advance(20 * time.Minute)
		_, err := e.m.Authenticate(tok)
		must(t, err)
	}
	e.clock.Advance(30 * time.Minute)
	_, err := e.m.Authenticate(tok)
	wantErr(t, err, ErrInvalidSession, "after 30 idle minutes")
}

func TestSessionEndsWithUserChanges(t *testing.T) {
	e := newEnv(t, true)
	e.addUser("alice", RoleOperator, pwAlice)
	e.addUser("bob", RoleViewer, pwBob)

	// Disabled user: token refused, and enabling does not revive it.
	tok := e.mustLogin("alice", pwAlice)
	must(t, e.m.DisableUser(e.ctx, e.admin, "alice"))
	_, err := e.m.Authenticate(tok)
	wantErr(t, err, ErrInvalidSession, "disabled user")
	must(t, e.m.EnableUser(e.ctx, e.admin, "alice"))
	_, err = e.m.Authenticate(tok)
	wantErr(t, err, ErrInvalidSession, "re-enabled user, old token")

	// Role change: visible on the next request.
	tok = e.mustLogin("alice", pwAlice)
	must(t, e.m.SetRole(e.ctx, e.admin, "alice", RoleViewer))
	s, err := e.m.Authenticate(tok)
	must(t, err)
	eq(t, s.Role, RoleViewer, "role after change")
	check(t, !s.Can(PermConfirm), "demoted session keeps operator rights")

	// Password changed (by the user or reset by an admin): all sessions end.
	tok1, tok2 := e.mustLogin("alice", pwAlice), e.mustLogin("alice", pwAlice)
	must(t, e.m.ChangePassword(e.ctx, Actor{Name: "alice", Role: RoleViewer}, pwAlice, pwAlice2))
	for _, tk := range []string{tok1, tok2} {
		_, err = e.m.Authenticate(tk)
		wantErr(t, err, ErrInvalidSession, "after password change")
	}
	tok = e.mustLogin("alice", pwAlice2)
	must(t, e.m.ResetPassword(e.ctx, e.admin, "alice", "a brand new secret phrase", false))
	_, err = e.m.Authenticate(tok)
	wantErr(t, err, ErrInvalidSession, "after reset")

	// Deleted, then created again under the same name: the old token stays dead.
	tok = e.mustLogin("bob", pwBob)
	must(t, e.m.DeleteUser(e.ctx, e.admin, "bob"))
	_, err = e.m.Authenticate(tok)
	wantErr(t, err, ErrInvalidSession, "deleted user")
	e.addUser("bob", RoleViewer, pwBob)
	_, err = e.m.Authenticate(tok)
	wantErr(t, err, ErrInvalidSession, "recreated user, old token")

	// Other users' sessions are untouched.
	_, err = e.m.Authenticate(e.mustLogin("root_admin", pwAdmin))
	must(t, err)
}

func TestPasswordChangedBehindTheSessionsBack(t *testing.T) {
	// A session whose account epoch changed without going through
	// endSessions (as after a restart with an edited file) is refused.
	e := newEnv(t, true)
	tok := e.mustLogin("root_admin", pwAdmin)
	next := e.m.snapshot().clone()
	next["root_admin"].Epoch++
	e.m.publish(next)
	_, err := e.m.Authenticate(tok)
	wantErr(t, err, ErrInvalidSession, "epoch changed")
}

func TestLogout(t *testing.T) {
	e := newEnv(t, true)
	tok := e.mustLogin("root_admin", pwAdmin)
	other := e.mustLogin("root_admin", pwAdmin)
	must(t, e.m.Logout(e.ctx, tok))
	_, err := e.m.Authenticate(tok)
	wantErr(t, err, ErrInvalidSession, "after logout")
	wantErr(t, e.m.Logout(e.ctx, tok), ErrInvalidSession, "second logout")
	_, err = e.m.Authenticate(other)
	must(t, err)
	eq(t, len(e.sink.find(ActionLogout)), 1, "logout events")
	// A failing sink does not keep a session alive.
	e.sink.setFail(func(Event) bool { return true })
	must(t, e.m.Logout(e.ctx, other))
	_, err = e.m.Authenticate(other)
	wantErr(t, err, ErrInvalidSession, "after logout with failing sink")
}

func TestMaxSessionsPerUser(t *testing.T) {
	e := newEnv(t, true, func(p *Policy) { p.MaxSessionsPerUser = 3 })
	var toks []string
	for i := 0; i < 4; i++ {
		toks = append(toks, e.mustLogin("root_admin", pwAdmin))
		e.clock.Advance(time.Second)
	}
	_, err := e.m.Authenticate(toks[0])
	wantErr(t, err, ErrInvalidSession, "oldest session beyond the limit")
	for _, tk := range toks[1:] {
		_, err := e.m.Authenticate(tk)
		must(t, err)
	}
	eq(t, e.m.SessionCount(), 3, "sessions")
}

func TestSessionsDoNotSurviveRestart(t *testing.T) {
	e := newEnv(t, true)
	tok := e.mustLogin("root_admin", pwAdmin)
	m2 := e.reopen()
	_, err := m2.Authenticate(tok)
	wantErr(t, err, ErrInvalidSession, "token after restart")
}
