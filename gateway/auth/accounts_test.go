package auth

import (
	"strings"
	"testing"
)

func TestInitCreatesFirstAdminOnce(t *testing.T) {
	e := newEnv(t, false)
	check(t, !e.m.Initialized(), "new manager claims accounts")
	_, err := e.login("root_admin", pwAdmin)
	wantErr(t, err, ErrBadCredentials, "login before init")

	wantErr(t, e.m.Init(e.ctx, "root_admin", "short"), ErrWeakPassword, "weak first password")
	wantErr(t, e.m.Init(e.ctx, "Root", pwAdmin), ErrInvalidUsername, "bad name")
	check(t, !e.m.Initialized(), "refused init created something")

	must(t, e.m.Init(e.ctx, "root_admin", pwAdmin))
	check(t, e.m.Initialized(), "init created nothing")
	ev := e.sink.find(ActionCreate)
	eq(t, len(ev), 3, "create events (2 refused, 1 success)")
	last := ev[2]
	eq(t, last.Actor, ActorInit, "actor")
	eq(t, last.Target, "root_admin", "target")
	eq(t, last.Result, ResultSuccess, "result")
	eq(t, last.Detail[DetailRole], "admin", "role detail")

	wantErr(t, e.m.Init(e.ctx, "second", pwAlice), ErrInitialized, "second init")
	users, err := e.m.Users(e.admin)
	must(t, err)
	eq(t, len(users), 1, "users after second init")
	eq(t, users[0].Role, RoleAdmin, "first user role")

	// The file exists with mode 0600 and the admin can log in.
	tok := e.mustLogin("root_admin", pwAdmin)
	s, err := e.m.Authenticate(tok)
	must(t, err)
	eq(t, s.Role, RoleAdmin, "session role")
}

func TestUserLifecycle(t *testing.T) {
	e := newEnv(t, true)
	e.addUser("alice", RoleOperator, pwAlice)
	wantErr(t, e.m.AddUser(e.ctx, e.admin, "alice", RoleViewer, pwBob, false), ErrUserExists, "duplicate")
	wantErr(t, e.m.AddUser(e.ctx, e.admin, "bob", Role(7), pwBob, false), ErrInvalidRole, "bad role")
	wantErr(t, e.m.AddUser(e.ctx, e.admin, "bob", RoleViewer, "bob-is-the-best-1", false), ErrWeakPassword, "user name in password")
	must(t, e.m.AddUser(e.ctx, e.admin, "bob", RoleViewer, pwBob, true))

	users, err := e.m.Users(e.admin)
	must(t, err)
	names := []string{}
	for _, u := range users {
		names = append(names, u.Name)
	}
	eq(t, strings.Join(names, ","), "alice,bob,root_admin", "sorted users")
	eq(t, users[1].MustChangePassword, true, "bob must change")

	must(t, e.m.SetRole(e.ctx, e.admin, "alice", RoleEngineer))
	u, err := e.m.User(e.admin, "alice")
	must(t, err)
	eq(t, u.Role, RoleEngineer, "role after SetRole")
	rc := e.sink.find(ActionRoleChange)
	eq(t, len(rc), 1, "role change events")
	eq(t, rc[0].Detail[DetailOldRole], "operator", "old role")
	eq(t, rc[0].Detail[DetailRole], "engineer", "new role")

	must(t, e.m.DisableUser(e.ctx, e.admin, "alice"))
	_, err = e.login("alice", pwAlice)
	wantErr(t, err, ErrDisabled, "login of disabled user")
	_, err = e.login("alice", "wrong but long enough")
	wantErr(t, err, ErrBadCredentials, "disabled user, wrong password: not told it is disabled")
	must(t, e.m.DisableUser(e.ctx, e.admin, "alice")) // no-op
	must(t, e.m.EnableUser(e.ctx, e.admin, "alice"))
	e.mustLogin("alice", pwAlice)
	eq(t, len(e.sink.find(ActionDisable)), 1, "disable events (the no-op records nothing)")
	eq(t, len(e.sink.find(ActionEnable)), 1, "enable events")

	must(t, e.m.DeleteUser(e.ctx, e.admin, "alice"))
	_, err = e.login("alice", pwAlice)
	wantErr(t, err, ErrBadCredentials, "login of deleted user")
	wantErr(t, e.m.DeleteUser(e.ctx, e.admin, "alice"), ErrNoUser, "delete twice")
	wantErr(t, e.m.SetRole(e.ctx, e.admin, "nobody", RoleAdmin), ErrNoUser, "set role of unknown")

	// Everything survived a restart.
	m2 := e.reopen()
	users, err = m2.Users(e.admin)
	must(t, err)
	eq(t, len(users), 2, "users after reopen")
	eq(t, users[0].Name, "bob", "bob after reopen")
	eq(t, users[0].MustChangePassword, true, "must change after reopen")
}

func TestRoleRefusals(t *testing.T) {
	e := newEnv(t, true)
	e.addUser("op", RoleOperator, pwAlice)
	e.addUser("eng", RoleEngineer, pwBob)
	e.sink.reset()
	before := e.fileBytes()

	for _, actor := range []Actor{
		{Name: "op", Role: RoleOperator},
		{Name: "eng", Role: RoleEngineer},
		{Name: "nobody", Role: RoleViewer},
		{Name: "zero"},
	} {
		wantErr(t, e.m.AddUser(e.ctx, actor, "mallory", RoleAdmin, pwAlice2, false), ErrForbidden, actor.Name+" add")
		wantErr(t, e.m.SetRole(e.ctx, actor, actor.Name, RoleAdmin), ErrForbidden, actor.Name+" promote self")
		wantErr(t, e.m.DeleteUser(e.ctx, actor, "root_admin"), ErrForbidden, actor.Name+" delete")
		wantErr(t, e.m.DisableUser(e.ctx, actor, "root_admin"), ErrForbidden, actor.Name+" disable")
		wantErr(t, e.m.EnableUser(e.ctx, actor, "root_admin"), ErrForbidden, actor.Name+" enable")
		wantErr(t, e.m.Unlock(e.ctx, actor, "root_admin"), ErrForbidden, actor.Name+" unlock")
		wantErr(t, e.m.ResetPassword(e.ctx, actor, "root_admin", pwAlice2, false), ErrForbidden, actor.Name+" reset")
		_, err := e.m.Users(actor)
		wantErr(t, err, ErrForbidden, actor.Name+" list")
		_, err = e.m.User(actor, "root_admin")
		wantErr(t, err, ErrForbidden, actor.Name+" show other")
	}
	if string(e.fileBytes()) != string(before) {
		t.Fatal("refused requests changed the account file")
	}
	// Each refused change was recorded as denied.
	evs := e.sink.all()
	eq(t, len(evs), 4*7, "denied events")
	for _, ev := range evs {
		eq(t, ev.Result, ResultDenied, string(ev.Action))
		check(t, ev.Detail[DetailReason] != "", "denied event without reason")
	}
	// A user may read its own record.
	u, err := e.m.User(Actor{Name: "op", Role: RoleOperator}, "op")
	must(t, err)
	eq(t, u.Role, RoleOperator, "own record")
}

func TestSessionPermissions(t *testing.T) {
	e := newEnv(t, true)
	e.addUser("viewer1", RoleViewer, pwAlice)
	s, err := e.m.Authenticate(e.mustLogin("viewer1", pwAlice))
	must(t, err)
	check(t, s.Can(PermViewAudit) && s.Can(PermChangeOwnPassword), "viewer lacks viewer rights")
	check(t, !s.Can(PermConfirm) && !s.Can(PermPushModel) && !s.Can(PermManageUsers), "viewer has more rights")
	wantErr(t, e.m.AddUser(e.ctx, s.Actor(), "x_user", RoleViewer, pwBob, false), ErrForbidden, "viewer adds user")
}

func TestMustChangePassword(t *testing.T) {
	e := newEnv(t, true)
	must(t, e.m.AddUser(e.ctx, e.admin, "alice", RoleAdmin, pwAlice, true))
	tok := e.mustLogin("alice", pwAlice)
	s, err := e.m.Authenticate(tok)
	must(t, err)
	check(t, s.MustChangePassword, "session does not say must change")
	check(t, !s.Can(PermViewStatus) && !s.Can(PermManageUsers), "must-change session has rights")
	check(t, s.Can(PermChangeOwnPassword), "must-change session cannot change password")
	wantErr(t, e.m.AddUser(e.ctx, s.Actor(), "bob", RoleViewer, pwBob, false), ErrMustChangePassword, "admin before change")
	_, err = e.m.Users(s.Actor())
	wantErr(t, err, ErrMustChangePassword, "list before change")

	must(t, e.m.ChangePassword(e.ctx, s.Actor(), pwAlice, pwAlice2))
	_, err = e.m.Authenticate(tok)
	wantErr(t, err, ErrInvalidSession, "old session after change")
	s, err = e.m.Authenticate(e.mustLogin("alice", pwAlice2))
	must(t, err)
	check(t, !s.MustChangePassword && s.Can(PermManageUsers), "after change: %+v", s)
}

func TestLastAdminProtection(t *testing.T) {
	e := newEnv(t, true)
	wantErr(t, e.m.DisableUser(e.ctx, e.admin, "root_admin"), ErrLastAdmin, "disable last admin")
	wantErr(t, e.m.DeleteUser(e.ctx, e.admin, "root_admin"), ErrLastAdmin, "delete last admin")
	wantErr(t, e.m.SetRole(e.ctx, e.admin, "root_admin", RoleEngineer), ErrLastAdmin, "demote last admin")
	for _, ev := range e.sink.all() {
		eq(t, ev.Result, ResultFailure, "refusal recorded as failure: "+string(ev.Action))
	}

	// A disabled second admin does not count.
	e.addUser("admin2", RoleAdmin, pwAlice)
	must(t, e.m.DisableUser(e.ctx, e.admin, "admin2"))
	wantErr(t, e.m.SetRole(e.ctx, e.admin, "root_admin", RoleViewer), ErrLastAdmin, "demote with only a disabled second admin")

	// With a second enabled admin it works, and then that one is the last.
	must(t, e.m.EnableUser(e.ctx, e.admin, "admin2"))
	must(t, e.m.SetRole(e.ctx, e.admin, "root_admin", RoleViewer))
	a2 := Actor{Name: "admin2", Role: RoleAdmin}
	wantErr(t, e.m.DeleteUser(e.ctx, a2, "admin2"), ErrLastAdmin, "delete the new last admin")
	wantErr(t, e.m.DisableUser(e.ctx, a2, "admin2"), ErrLastAdmin, "disable the new last admin")
	must(t, e.m.DeleteUser(e.ctx, a2, "root_admin"))
	users, err := e.m.Users(a2)
	must(t, err)
	eq(t, len(users), 1, "users left")
	eq(t, users[0].Name+"/"+users[0].Role.String(), "admin2/admin", "remaining admin")
}
