package auth

import (
	"encoding/json"
	"testing"
)

func TestParseRole(t *testing.T) {
	for _, r := range Roles() {
		got, err := ParseRole(r.String())
		must(t, err)
		eq(t, got, r, "round trip")
	}
	got, err := ParseRole(" Admin ")
	must(t, err)
	eq(t, got, RoleAdmin, "case and spaces")
	for _, bad := range []string{"", "root", "administrator", "superuser", "0"} {
		_, err := ParseRole(bad)
		wantErr(t, err, ErrInvalidRole, bad)
	}
}

func TestRoleAllowsIsOrdered(t *testing.T) {
	roles := Roles()
	for i, r := range roles {
		for j, req := range roles {
			eq(t, r.Allows(req), i >= j, r.String()+" allows "+req.String())
		}
		check(t, !r.Allows(0), "nothing requires the zero role")
		check(t, !Role(0).Allows(r), "the zero role allows nothing")
		check(t, !Role(99).Allows(r), "an invalid role allows nothing")
	}
}

func TestPermissions(t *testing.T) {
	cases := []struct {
		role    Role
		allowed []Permission
		denied  []Permission
	}{
		{RoleViewer, []Permission{PermViewStatus, PermViewAudit, PermChangeOwnPassword},
			[]Permission{PermConfirm, PermRollback, PermIslandMode, PermPushModel, PermManageUsers, PermManageSettings}},
		{RoleOperator, []Permission{PermViewAudit, PermConfirm, PermRollback, PermIslandMode},
			[]Permission{PermPushModel, PermManageUsers, PermManageSettings}},
		{RoleEngineer, []Permission{PermIslandMode, PermPushModel},
			[]Permission{PermManageUsers, PermManageSettings}},
		{RoleAdmin, []Permission{PermViewStatus, PermPushModel, PermManageUsers, PermManageSettings}, nil},
	}
	for _, c := range cases {
		for _, p := range c.allowed {
			check(t, c.role.Can(p), "%s should have %s", c.role, p)
		}
		for _, p := range c.denied {
			check(t, !c.role.Can(p), "%s should not have %s", c.role, p)
		}
		check(t, !c.role.Can("format-disk"), "unknown permissions are denied")
	}
	eq(t, len(Permissions()), 9, "permissions")
}

func TestRoleJSON(t *testing.T) {
	b, err := json.Marshal(struct{ R Role }{RoleEngineer})
	must(t, err)
	eq(t, string(b), `{"R":"engineer"}`, "marshal")
	var v struct{ R Role }
	must(t, json.Unmarshal([]byte(`{"R":"operator"}`), &v))
	eq(t, v.R, RoleOperator, "unmarshal")
	check(t, json.Unmarshal([]byte(`{"R":"god"}`), &v) != nil, "unknown role name accepted")
	check(t, json.Unmarshal([]byte(`{"R":4}`), &v) != nil, "numeric role accepted")
	_, err = json.Marshal(struct{ R Role }{0})
	check(t, err != nil, "zero role marshalled")
}

func TestValidateUsername(t *testing.T) {
	for _, ok := range []string{"a", "_svc", "alice", "bob.smith", "op-1", "x_y.z-9", "abcdefghijklmnopqrstuvwxyz012345"} {
		must(t, ValidateUsername(ok))
	}
	for _, bad := range []string{"", "Alice", "1abc", "-x", ".x", "a b", "a/b", "a:b", "@init", "abcdefghijklmnopqrstuvwxyz0123456", "ali\x00ce", "élodie"} {
		wantErr(t, ValidateUsername(bad), ErrInvalidUsername, bad)
	}
}
