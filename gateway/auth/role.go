package auth

import (
	"fmt"
	"strings"
)

// Role is a user's role. Roles are ordered: each includes the rights of the
// roles below it (viewer < operator < engineer < admin). The zero Role is
// no role and allows nothing.
type Role int

// Roles, lowest first.
const (
	// RoleViewer may read the gateway's status and the audit log.
	RoleViewer Role = iota + 1
	// RoleOperator may also confirm and roll back changes and switch
	// island mode.
	RoleOperator
	// RoleEngineer may also push zone models.
	RoleEngineer
	// RoleAdmin may also manage users and the gateway's settings.
	RoleAdmin
)

var roleNames = [...]string{RoleViewer: "viewer", RoleOperator: "operator", RoleEngineer: "engineer", RoleAdmin: "admin"}

// Roles returns all roles, lowest first.
func Roles() []Role { return []Role{RoleViewer, RoleOperator, RoleEngineer, RoleAdmin} }

// ParseRole parses a role name (viewer, operator, engineer, admin; case
// does not matter).
func ParseRole(s string) (Role, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	for _, r := range Roles() {
		if roleNames[r] == s {
			return r, nil
		}
	}
	return 0, fmt.Errorf("%w (got %q)", ErrInvalidRole, s)
}

// Valid reports whether r is one of the four roles.
func (r Role) Valid() bool { return r >= RoleViewer && r <= RoleAdmin }

// String returns the role's name, as used in the account file and events.
func (r Role) String() string {
	if !r.Valid() {
		return fmt.Sprintf("role(%d)", int(r))
	}
	return roleNames[r]
}

// Allows reports whether r includes the rights of required. An invalid
// role allows nothing, and nothing requires less than viewer.
func (r Role) Allows(required Role) bool {
	return r.Valid() && required.Valid() && r >= required
}

// Can reports whether r grants the permission p.
func (r Role) Can(p Permission) bool { return r.Allows(p.Role()) }

// MarshalText encodes the role as its name.
func (r Role) MarshalText() ([]byte, error) {
	if !r.Valid() {
		return nil, fmt.Errorf("%w (got %d)", ErrInvalidRole, int(r))
	}
	return []byte(r.String()), nil
}

// UnmarshalText decodes a role name.
func (r *Role) UnmarshalText(b []byte) error {
	v, err := ParseRole(string(b))
	if err != nil {
		return err
	}
	*r = v
	return nil
}
