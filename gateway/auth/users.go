package auth

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Init creates the first administrator. It works only while there are no
// accounts at all and fails with ErrInitialized afterwards: the gateway
// has no default account or password. The daemon offers it on the local
// console only. The event's actor is ActorInit.
func (m *Manager) Init(ctx context.Context, username, password string) error {
	if len(m.snapshot()) > 0 {
		return m.refuse(ctx, ActorInit, ActionCreate, loggableName(username), ErrInitialized)
	}
	return m.create(ctx, ActorInit, username, RoleAdmin, password, false, true)
}

// AddUser creates a user with a role and an initial password. Set
// mustChange so that the user has to choose a new password at the first
// login (recommended: the administrator knows the initial one). Needs
// PermManageUsers.
func (m *Manager) AddUser(ctx context.Context, actor Actor, name string, role Role, password string, mustChange bool) error {
	if err := actor.authorize(PermManageUsers); err != nil {
		return m.refuse(ctx, actor.Name, ActionCreate, loggableName(name), err)
	}
	return m.create(ctx, actor.Name, name, role, password, mustChange, false)
}

func (m *Manager) create(ctx context.Context, actor, name string, role Role, password string, mustChange, first bool) error {
	target := loggableName(name)
	if err := ValidateUsername(name); err != nil {
		return m.refuse(ctx, actor, ActionCreate, target, err)
	}
	if !role.Valid() {
		return m.refuse(ctx, actor, ActionCreate, target, fmt.Errorf("%w (got %d)", ErrInvalidRole, int(role)))
	}
	if m.lookup(name) != nil {
		return m.refuse(ctx, actor, ActionCreate, target, fmt.Errorf("%w: %s", ErrUserExists, name))
	}
	if err := m.policy.CheckPassword(name, password); err != nil {
		return m.refuse(ctx, actor, ActionCreate, target, err)
	}
	hash, err := m.hasher.hash(ctx, password)
	if err != nil {
		return err
	}
	return m.change(ctx, actor, ActionCreate, target, func(next accounts, ev *Event) error {
		if first && len(next) > 0 {
			return ErrInitialized
		}
		if next[name] != nil {
			return fmt.Errorf("%w: %s", ErrUserExists, name)
		}
		now := m.now()
		a := &account{ID: newAccountID(), Name: name, Role: role, MustChange: mustChange, Created: now}
		a.setPassword(hash, m.policy.History, now)
		next[name] = a
		ev.Detail[DetailRole] = role.String()
		ev.Detail[DetailMustChange] = strconv.FormatBool(mustChange)
		return nil
	})
}

// DeleteUser deletes a user and ends the user's sessions. Needs
// PermManageUsers; the last enabled administrator cannot be deleted.
func (m *Manager) DeleteUser(ctx context.Context, actor Actor, name string) error {
	err := m.modify(ctx, actor, ActionDelete, name, func(next accounts, a *account, ev *Event) error {
		delete(next, name)
		ev.Detail[DetailRole] = a.Role.String()
		return nil
	})
	if err == nil {
		m.endSessions(name)
	}
	return err
}

// DisableUser disables a user: logins are refused and the user's sessions
// end. Disabling a disabled user does nothing. Needs PermManageUsers; the
// last enabled administrator cannot be disabled.
func (m *Manager) DisableUser(ctx context.Context, actor Actor, name string) error {
	err := m.modify(ctx, actor, ActionDisable, name, func(_ accounts, a *account, _ *Event) error {
		if a.Disabled {
			return errNoChange
		}
		a.Disabled = true
		a.Epoch++
		return nil
	})
	if err == nil {
		m.endSessions(name)
	}
	return err
}

// EnableUser enables a disabled user. Needs PermManageUsers.
func (m *Manager) EnableUser(ctx context.Context, actor Actor, name string) error {
	return m.modify(ctx, actor, ActionEnable, name, func(_ accounts, a *account, _ *Event) error {
		if !a.Disabled {
			return errNoChange
		}
		a.Disabled = false
		return nil
	})
}

// SetRole changes a user's role; the user's sessions get the new role at
// their next request. Needs PermManageUsers; the last enabled
// administrator cannot be demoted. Setting the role the user already has
// changes and records nothing and returns an error wrapping ErrUnchanged.
func (m *Manager) SetRole(ctx context.Context, actor Actor, name string, role Role) error {
	if !role.Valid() {
		return m.refuse(ctx, actor.Name, ActionRoleChange, loggableName(name), fmt.Errorf("%w (got %d)", ErrInvalidRole, int(role)))
	}
	return m.modify(ctx, actor, ActionRoleChange, name, func(_ accounts, a *account, ev *Event) error {
		if a.Role == role {
			return fmt.Errorf("%w: %s already has the role %s", ErrUnchanged, a.Name, role)
		}
		ev.Detail[DetailOldRole] = a.Role.String()
		ev.Detail[DetailRole] = role.String()
		a.Role = role
		return nil
	})
}

// Unlock ends a user's lockout and clears the failed-login count. A user
// that is not locked and has no failures is left alone. Needs
// PermManageUsers.
func (m *Manager) Unlock(ctx context.Context, actor Actor, name string) error {
	return m.modify(ctx, actor, ActionUnlock, name, func(_ accounts, a *account, _ *Event) error {
		if !a.Locked && len(a.Failures) == 0 {
			return errNoChange
		}
		a.clearLock()
		return nil
	})
}

// modify checks that actor may manage users and that name exists, then
// runs fn on the copy of the account inside change.
func (m *Manager) modify(ctx context.Context, actor Actor, action Action, name string, fn func(next accounts, a *account, ev *Event) error) error {
	target := loggableName(name)
	if err := actor.authorize(PermManageUsers); err != nil {
		return m.refuse(ctx, actor.Name, action, target, err)
	}
	return m.change(ctx, actor.Name, action, target, func(next accounts, ev *Event) error {
		a := next[name]
		if a == nil {
			return fmt.Errorf("%w: %s", ErrNoUser, target)
		}
		return fn(next, a, ev)
	})
}

// Users lists all users, sorted by name. Needs PermManageUsers; a user
// learns about itself from its Session.
func (m *Manager) Users(actor Actor) ([]User, error) {
	if err := actor.authorize(PermManageUsers); err != nil {
		return nil, err
	}
	now := m.now()
	var out []User
	for _, a := range m.snapshot() {
		out = append(out, a.user(now, m.policy.LockoutWindow))
	}
	slices.SortFunc(out, func(a, b User) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// User returns one user. Needs PermManageUsers, except for the actor's own
// account.
func (m *Manager) User(actor Actor, name string) (User, error) {
	if actor.Name != name {
		if err := actor.authorize(PermManageUsers); err != nil {
			return User{}, err
		}
	}
	a := m.lookup(name)
	if a == nil {
		return User{}, fmt.Errorf("%w: %s", ErrNoUser, loggableName(name))
	}
	return a.user(m.now(), m.policy.LockoutWindow), nil
}
