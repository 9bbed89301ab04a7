package auth

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

const wrongPw = "not the right password"

func TestLockoutAfterFailures(t *testing.T) {
	e := newEnv(t, true)
	e.addUser("alice", RoleOperator, pwAlice)
	e.sink.reset()
	for i := 1; i <= 4; i++ {
		_, err := e.login("alice", wrongPw)
		wantErr(t, err, ErrBadCredentials, i)
		u, _ := e.m.User(e.admin, "alice")
		eq(t, u.RecentFailures, i, "failures counted")
		check(t, !u.Locked, "locked after %d failures", i)
	}
	_, err := e.login("alice", wrongPw)
	wantErr(t, err, ErrBadCredentials, "5th failure")
	u, _ := e.m.User(e.admin, "alice")
	check(t, u.Locked, "not locked after 5 failures")
	eq(t, u.LockedUntil, e.clock.Now().Add(15*time.Minute), "lock end")

	// Locked: even the right password is refused, and says until when.
	_, err = e.login("alice", pwAlice)
	wantErr(t, err, ErrLocked, "right password while locked")
	var le *LockedError
	check(t, errors.As(err, &le) && le.Until.Equal(u.LockedUntil), "locked error %v", err)
	check(t, strings.Contains(err.Error(), "administrator"), "locked error gives no advice: %v", err)

	eq(t, len(e.sink.find(ActionLoginFailure)), 6, "login-failure events")
	lock := e.sink.find(ActionLockout)
	eq(t, len(lock), 1, "lockout events")
	eq(t, lock[0].Actor, ActorSystem, "lockout actor")
	eq(t, lock[0].Target, "alice", "lockout target")
	eq(t, lock[0].Detail[DetailLockedUntil], "2025-03-01T08:15:00Z", "lockout until")
	for _, ev := range e.sink.all() {
		for k, v := range ev.Detail {
			check(t, !strings.Contains(v, pwAlice) && !strings.Contains(v, wrongPw) && !strings.Contains(v, "$argon2"),
				"event detail %s=%q leaks a secret", k, v)
		}
	}

	// The lock survives a restart.
	m2 := e.reopen()
	_, _, err = m2.Login(e.ctx, "alice", pwAlice, "")
	wantErr(t, err, ErrLocked, "after restart")
}

func TestCorrectLoginResetsFailures(t *testing.T) {
	e := newEnv(t, true)
	e.addUser("alice", RoleOperator, pwAlice)
	for i := 0; i < 4; i++ {
		_, _ = e.login("alice", wrongPw)
	}
	e.mustLogin("alice", pwAlice)
	for i := 0; i < 4; i++ {
		_, _ = e.login("alice", wrongPw)
	}
	u, _ := e.m.User(e.admin, "alice")
	check(t, !u.Locked, "locked although a success came between the failures")
	eq(t, u.RecentFailures, 4, "failures since the success")
}

func TestLockoutExpiresWithClock(t *testing.T) {
	e := newEnv(t, true)
	e.addUser("alice", RoleOperator, pwAlice)
	for i := 0; i < 5; i++ {
		_, _ = e.login("alice", wrongPw)
	}
	e.clock.Advance(15*time.Minute - time.Second)
	_, err := e.login("alice", pwAlice)
	wantErr(t, err, ErrLocked, "one second before the end")
	e.clock.Advance(time.Second)
	e.mustLogin("alice", pwAlice)
	u, _ := e.m.User(e.admin, "alice")
	check(t, !u.Locked && u.RecentFailures == 0, "after expiry: %+v", u)
}

func TestFailuresOutsideWindowDoNotCount(t *testing.T) {
	e := newEnv(t, true)
	e.addUser("alice", RoleOperator, pwAlice)
	for i := 0; i < 4; i++ {
		_, _ = e.login("alice", wrongPw)
		e.clock.Advance(time.Minute)
	}
	e.clock.Advance(15 * time.Minute) // the first four fall out of the window
	for i := 0; i < 4; i++ {
		_, _ = e.login("alice", wrongPw)
	}
	u, _ := e.m.User(e.admin, "alice")
	check(t, !u.Locked, "locked by failures spread over more than the window")
	eq(t, u.RecentFailures, 4, "failures in window")
	_, _ = e.login("alice", wrongPw)
	u, _ = e.m.User(e.admin, "alice")
	check(t, u.Locked, "not locked by 5 failures in the window")
}

func TestLockoutUntilUnlockedAndAdminUnlock(t *testing.T) {
	e := newEnv(t, true, func(p *Policy) { p.LockoutUntilUnlocked = true; p.LockoutThreshold = 3 })
	e.addUser("alice", RoleOperator, pwAlice)
	for i := 0; i < 3; i++ {
		_, _ = e.login("alice", wrongPw)
	}
	e.clock.Advance(30 * 24 * time.Hour)
	_, err := e.login("alice", pwAlice)
	var le *LockedError
	check(t, errors.As(err, &le) && le.Until.IsZero(), "want a lock without end, got %v", err)
	eq(t, e.sink.find(ActionLockout)[0].Detail[DetailLockedUntil], "unlock", "lockout detail")

	op := Actor{Name: "op", Role: RoleOperator}
	wantErr(t, e.m.Unlock(e.ctx, op, "alice"), ErrForbidden, "operator unlocks")
	must(t, e.m.Unlock(e.ctx, e.admin, "alice"))
	ul := e.sink.find(ActionUnlock)
	eq(t, len(ul), 2, "unlock events (denied + success)")
	eq(t, ul[1].Actor+"/"+ul[1].Target+"/"+string(ul[1].Result), "root_admin/alice/success", "unlock event")
	e.mustLogin("alice", pwAlice)
	must(t, e.m.Unlock(e.ctx, e.admin, "alice")) // not locked: nothing to do
	eq(t, len(e.sink.find(ActionUnlock)), 2, "no event for a no-op unlock")
}

func TestResetPasswordUnlocks(t *testing.T) {
	e := newEnv(t, true)
	e.addUser("alice", RoleOperator, pwAlice)
	for i := 0; i < 5; i++ {
		_, _ = e.login("alice", wrongPw)
	}
	must(t, e.m.ResetPassword(e.ctx, e.admin, "alice", pwAlice2, true))
	tok := e.mustLogin("alice", pwAlice2)
	s, err := e.m.Authenticate(tok)
	must(t, err)
	check(t, s.MustChangePassword, "reset with must-change")
	ev := e.sink.find(ActionPasswordReset)
	eq(t, len(ev), 1, "reset events")
	eq(t, ev[0].Detail[DetailMustChange], "true", "must change detail")
}

// Unknown, locked and disabled users cost exactly one hash, like a real
// wrong password, so timing does not reveal which user names exist.
func TestUnknownUserCostsOneHash(t *testing.T) {
	e := newEnv(t, true)
	e.addUser("alice", RoleOperator, pwAlice)
	e.addUser("bob", RoleOperator, pwBob)
	must(t, e.m.DisableUser(e.ctx, e.admin, "bob"))
	var c countingDerive
	c.install(e.m.hasher)
	count := func(user, pw string) int64 {
		before := c.calls.Load()
		_, _ = e.login(user, pw)
		return c.calls.Load() - before
	}
	eq(t, count("alice", wrongPw), 1, "known user, wrong password")
	eq(t, count("mallory", wrongPw), 1, "unknown user")
	eq(t, count("Not A Name!", wrongPw), 1, "invalid user name")
	eq(t, count("bob", wrongPw), 1, "disabled user")
	for i := 0; i < 4; i++ {
		_, _ = e.login("alice", wrongPw)
	}
	eq(t, count("alice", pwAlice), 1, "locked user")
	eq(t, count("mallory", strings.Repeat("x", 2000)), 0, "over-long password, unknown user")
	eq(t, count("alice", strings.Repeat("x", 2000)), 0, "over-long password, known user")

	// The unknown name is not recorded when it is not a valid user name
	// (it may be a password typed in the wrong field).
	for _, ev := range e.sink.find(ActionLoginFailure) {
		check(t, !strings.Contains(ev.Actor+ev.Target, "Not A Name"), "invalid user name logged: %+v", ev)
	}
}

func TestLoginSinkFailures(t *testing.T) {
	e := newEnv(t, true)
	e.addUser("alice", RoleOperator, pwAlice)
	e.sink.setFail(func(Event) bool { return true })

	// Failing sink on a successful login: no session without audit.
	tok, _, err := e.m.Login(e.ctx, "alice", pwAlice, "")
	wantErr(t, err, ErrAudit, "login with failing sink")
	eq(t, tok, "", "token despite refusal")
	eq(t, e.m.SessionCount(), 0, "sessions")

	// Failing sink on a failed login: still failed, and still counted.
	for i := 0; i < 5; i++ {
		_, err = e.login("alice", wrongPw)
		wantErr(t, err, ErrBadCredentials, "wrong password with failing sink")
	}
	e.sink.setFail(nil)
	_, err = e.login("alice", pwAlice)
	wantErr(t, err, ErrLocked, "failures counted although the sink failed")
}

func TestRehashOnLoginWhenParamsChange(t *testing.T) {
	e := newEnv(t, true)
	e.addUser("alice", RoleOperator, pwAlice)
	old := e.m.lookup("alice").PasswordHash
	check(t, strings.Contains(old, "m=64,t=1,p=1"), "old hash %s", old)

	stronger := fastPolicy()
	stronger.Argon2 = Params{Memory: 256, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}
	m2 := e.open(stronger)
	tok, _, err := m2.Login(e.ctx, "alice", pwAlice, "")
	must(t, err)
	_, err = m2.Authenticate(tok)
	must(t, err)
	upgraded := m2.lookup("alice").PasswordHash
	check(t, strings.Contains(upgraded, "$m=256,t=2,p=1$"), "hash not upgraded: %s", upgraded)
	// Saved, and still the same password; sessions and history unaffected.
	m3 := e.open(stronger)
	eq(t, m3.lookup("alice").PasswordHash, upgraded, "upgraded hash saved")
	_, _, err = m3.Login(e.ctx, "alice", pwAlice, "")
	must(t, err)
	eq(t, len(m3.lookup("alice").PreviousHashes), 0, "upgrade is not a password change")
}

func TestBusyWhenHashSlotsTaken(t *testing.T) {
	e := newEnv(t, true, func(p *Policy) { p.MaxConcurrentHashes = 1; p.HashWait = 50 * time.Millisecond })
	e.m.hasher.sem <- struct{}{} // hold the only slot
	start := time.Now()
	_, err := e.login("root_admin", pwAdmin)
	wantErr(t, err, ErrBusy, "login with no free slot")
	check(t, time.Since(start) >= 50*time.Millisecond, "gave up before HashWait")

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	_, _, err = e.m.Login(ctx, "root_admin", pwAdmin, "")
	wantErr(t, err, ErrBusy, "context ended")
	check(t, errors.Is(err, context.DeadlineExceeded), "busy error does not carry the context's: %v", err)
	<-e.m.hasher.sem
	e.mustLogin("root_admin", pwAdmin)
	u, _ := e.m.User(e.admin, "root_admin")
	eq(t, u.RecentFailures, 0, "busy refusals counted as failures")
}
