package auth

import "fmt"

// Actor is who asks for a change: normally Session.Actor of the request's
// session. The user management methods check the actor's role themselves.
// Actor is a plain value: code in the daemon can build one (for example an
// administrator actor named "@console" for a recovery command run as root
// on the gateway), so the check guards against mistakes in the API layer,
// not against code inside the daemon.
type Actor struct {
	// Name is the user name, or a reserved name starting with '@'.
	Name string
	Role Role
	// MustChangePassword limits the actor to changing its own password.
	MustChangePassword bool
}

// authorize checks that a may use permission p.
func (a Actor) authorize(p Permission) error {
	if a.MustChangePassword && p != PermChangeOwnPassword {
		return ErrMustChangePassword
	}
	if !a.Role.Can(p) {
		return fmt.Errorf("%w: %s needs role %s or higher; %s has role %s", ErrForbidden, p, p.Role(), a.Name, a.Role)
	}
	return nil
}
