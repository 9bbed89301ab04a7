package auth

import (
	"reflect"
	"strings"
	"testing"
)

// When the sink refuses the event of a change, the change is not made: the
// accounts in memory, the file on disk and the sessions stay as they were.
func TestSinkRefusalLeavesStoreUnchanged(t *testing.T) {
	e := newEnv(t, true)
	e.addUser("alice", RoleOperator, pwAlice)
	e.addUser("bob", RoleViewer, pwBob)
	must(t, e.m.DisableUser(e.ctx, e.admin, "bob"))
	for i := 0; i < 5; i++ {
		_, _ = e.login("alice", wrongPw) // alice is locked
	}
	e.clock.Advance(20 * e.m.policy.LockoutDuration) // the lock has expired...
	for i := 0; i < 5; i++ {
		_, _ = e.login("alice", wrongPw) // ...and alice is locked again
	}
	tok := e.mustLogin("root_admin", pwAdmin)

	changes := map[Action]func() error{
		ActionCreate:         func() error { return e.m.AddUser(e.ctx, e.admin, "carol", RoleViewer, pwAlice2, false) },
		ActionDelete:         func() error { return e.m.DeleteUser(e.ctx, e.admin, "bob") },
		ActionDisable:        func() error { return e.m.DisableUser(e.ctx, e.admin, "alice") },
		ActionEnable:         func() error { return e.m.EnableUser(e.ctx, e.admin, "bob") },
		ActionRoleChange:     func() error { return e.m.SetRole(e.ctx, e.admin, "bob", RoleAdmin) },
		ActionPasswordReset:  func() error { return e.m.ResetPassword(e.ctx, e.admin, "bob", pwAlice2, false) },
		ActionUnlock:         func() error { return e.m.Unlock(e.ctx, e.admin, "alice") },
		ActionPasswordChange: func() error { return e.m.ChangePassword(e.ctx, e.admin, pwAdmin, pwAlice2) },
	}
	for action, do := range changes {
		before := e.fileBytes()
		snap := e.m.snapshot()
		beforeAccts := snap.clone()
		e.sink.setFail(func(ev Event) bool { return ev.Action == action && ev.Result == ResultSuccess })
		err := do()
		e.sink.setFail(nil)
		wantErr(t, err, ErrAudit, action)
		if string(e.fileBytes()) != string(before) {
			t.Errorf("%s: file changed although the sink refused", action)
		}
		if !reflect.DeepEqual(e.m.snapshot(), beforeAccts) {
			t.Errorf("%s: accounts in memory changed although the sink refused", action)
		}
		_, err = e.m.Authenticate(tok)
		must(t, err)
		// And after a restart, nothing changed either.
		m2 := e.reopen()
		if !reflect.DeepEqual(m2.snapshot(), beforeAccts) {
			t.Errorf("%s: accounts on disk changed although the sink refused", action)
		}
	}
	// Init, with a fresh manager.
	e2 := newEnv(t, false)
	e2.sink.setFail(func(Event) bool { return true })
	wantErr(t, e2.m.Init(e2.ctx, "root_admin", pwAdmin), ErrAudit, "init")
	check(t, !e2.m.Initialized(), "init made without audit")
	check(t, !fileExists(e2.path), "init wrote the file without audit")
}

// The sink sees the event before the change is saved.
func TestSinkCalledBeforeSave(t *testing.T) {
	e := newEnv(t, true)
	var sawFile string
	e.sink.setFail(func(ev Event) bool {
		if ev.Action == ActionCreate {
			sawFile = string(e.fileBytes())
		}
		return false
	})
	e.addUser("alice", RoleOperator, pwAlice)
	check(t, sawFile != "" && !contains(sawFile, `"alice"`), "file already had the user when the sink was called")
	check(t, contains(string(e.fileBytes()), `"alice"`), "user not saved")
}

// If saving fails after the sink accepted the event, the change is not
// made and a failure event follows.
func TestSaveFailureAfterSink(t *testing.T) {
	e := newEnv(t, true)
	e.m.beforeRename = func(string) error { return errSimulatedCrash }
	err := e.m.AddUser(e.ctx, e.admin, "alice", RoleOperator, pwAlice, false)
	wantErr(t, err, ErrStorage, "add with failing disk")
	check(t, e.m.lookup("alice") == nil, "user visible although not saved")
	ev := e.sink.find(ActionCreate)
	eq(t, len(ev), 2, "create events")
	eq(t, ev[0].Result, ResultSuccess, "first event")
	eq(t, ev[1].Result, ResultFailure, "follow-up event")
	eq(t, ev[1].Detail[DetailCommit], "failed", "follow-up detail")
}

// Every event of a full scenario has keys the audit log accepts and no
// password, hash or token anywhere.
func TestEventsCarryNoSecrets(t *testing.T) {
	e := newEnv(t, false)
	must(t, e.m.Init(e.ctx, "root_admin", pwAdmin))
	e.addUser("alice", RoleOperator, pwAlice)
	wantErr(t, e.m.AddUser(e.ctx, e.admin, "bob", RoleViewer, "password1234", false), ErrWeakPassword, "weak")
	tok := e.mustLogin("alice", pwAlice)
	for i := 0; i < 5; i++ {
		_, _ = e.login("alice", wrongPw)
	}
	_, _ = e.login(pwAlice2, pwAlice2) // a password typed as the user name
	must(t, e.m.Unlock(e.ctx, e.admin, "alice"))
	must(t, e.m.ChangePassword(e.ctx, Actor{Name: "alice", Role: RoleOperator}, pwAlice, pwAlice2))
	must(t, e.m.ResetPassword(e.ctx, e.admin, "alice", pwBob, true))
	must(t, e.m.SetRole(e.ctx, e.admin, "alice", RoleEngineer))
	must(t, e.m.DisableUser(e.ctx, e.admin, "alice"))
	must(t, e.m.EnableUser(e.ctx, e.admin, "alice"))
	_ = e.m.Logout(e.ctx, e.mustLogin("root_admin", pwAdmin))
	_ = e.m.Logout(e.ctx, tok)
	must(t, e.m.DeleteUser(e.ctx, e.admin, "alice"))

	secretWords := []string{"password", "passwd", "secret", "token", "hash", "salt", "session_id", "credential"}
	secrets := []string{pwAdmin, pwAlice, pwAlice2, pwBob, wrongPw, "password1234", "$argon2", tokenPrefix}
	seen := map[Action]bool{}
	for _, ev := range e.sink.all() {
		seen[ev.Action] = true
		check(t, ev.Time.Equal(e.clock.Now()), "event time not from the clock: %v", ev.Time)
		all := ev.Actor + "|" + ev.Target
		for k, v := range ev.Detail {
			check(t, k != "" && strings.Trim(k, "abcdefghijklmnopqrstuvwxyz0123456789_") == "", "detail key %q", k)
			for _, w := range secretWords {
				check(t, !strings.Contains(k, w), "detail key %q names a secret", k)
			}
			all += "|" + v
		}
		for _, s := range secrets {
			check(t, !strings.Contains(all, s), "event %+v contains a secret", ev)
		}
	}
	for _, a := range []Action{ActionCreate, ActionDelete, ActionDisable, ActionEnable, ActionRoleChange, ActionPasswordChange,
		ActionPasswordReset, ActionLoginSuccess, ActionLoginFailure, ActionLockout, ActionUnlock, ActionLogout} {
		check(t, seen[a], "scenario produced no %s event", a)
	}
}
