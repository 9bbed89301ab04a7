package auth

import (
	"fmt"
	"testing"
)

func TestPasswordReuseRefused(t *testing.T) {
	e := newEnv(t, true) // History 5: the current one and 4 before it
	e.addUser("alice", RoleOperator, pwAlice)
	alice := Actor{Name: "alice", Role: RoleOperator}
	pw := func(i int) string { return fmt.Sprintf("lantern harbor violet %d", i) }

	cur := pwAlice
	wantErr(t, e.m.ChangePassword(e.ctx, alice, cur, cur), ErrWeakPassword, "same as current")
	for i := 1; i <= 5; i++ {
		must(t, e.m.ChangePassword(e.ctx, alice, cur, pw(i)))
		cur = pw(i)
	}
	// The last five are pw(1)..pw(5): all refused, by change and by reset.
	for i := 1; i <= 5; i++ {
		wantErr(t, e.m.ChangePassword(e.ctx, alice, cur, pw(i)), ErrWeakPassword, "reuse by change", i)
		wantErr(t, e.m.ResetPassword(e.ctx, e.admin, "alice", pw(i), false), ErrWeakPassword, "reuse by reset", i)
	}
	eq(t, len(e.m.lookup("alice").PreviousHashes), 4, "kept previous hashes")
	// The sixth most recent (the initial one) is allowed again.
	must(t, e.m.ChangePassword(e.ctx, alice, cur, pwAlice))
	e.mustLogin("alice", pwAlice)

	// Refusals say why without the password.
	err := e.m.ChangePassword(e.ctx, alice, pwAlice, pw(5))
	wantErr(t, err, ErrWeakPassword, "reuse")
	eq(t, err.Error(), "password refused: used recently: choose one that differs from the last 5 passwords", "message")
}

func TestChangePasswordWrongOldCountsAsFailure(t *testing.T) {
	e := newEnv(t, true)
	e.addUser("alice", RoleOperator, pwAlice)
	alice := Actor{Name: "alice", Role: RoleOperator}
	before := e.fileBytes()
	for i := 0; i < 5; i++ {
		wantErr(t, e.m.ChangePassword(e.ctx, alice, wrongPw, pwAlice2), ErrBadCredentials, i)
	}
	wantErr(t, e.m.ChangePassword(e.ctx, alice, pwAlice, pwAlice2), ErrLocked, "change while locked")
	_, err := e.login("alice", pwAlice)
	wantErr(t, err, ErrLocked, "login after failed changes")
	check(t, string(before) != string(e.fileBytes()), "failures not saved")
	e.m.endSessions("alice")
	must(t, e.m.Unlock(e.ctx, e.admin, "alice"))
	e.mustLogin("alice", pwAlice) // the password did not change
}
