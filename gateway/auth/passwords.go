package auth

import (
	"context"
	"errors"
	"fmt"
	"strconv"
)

// errChangedMeanwhile refuses a password change that raced with another.
var errChangedMeanwhile = errors.New("the account changed while the password was being hashed: retry")

// ChangePassword changes the actor's own password. The current password
// is required, and a wrong one counts as a failed login (towards lockout).
// The new password must satisfy the policy and differ from the last
// Policy.History passwords. All of the user's sessions end, including the
// one that asked: log in again with the new password. This is also how a
// session with MustChangePassword gets a normal session.
func (m *Manager) ChangePassword(ctx context.Context, actor Actor, oldPassword, newPassword string) error {
	name := actor.Name
	target := loggableName(name)
	if err := actor.authorize(PermChangeOwnPassword); err != nil {
		return m.refuse(ctx, name, ActionPasswordChange, target, err)
	}
	a := m.lookup(name)
	switch {
	case a == nil:
		return m.refuse(ctx, name, ActionPasswordChange, target, fmt.Errorf("%w: %s", ErrNoUser, target))
	case a.Disabled:
		return m.refuse(ctx, name, ActionPasswordChange, target, ErrDisabled)
	case a.lockedAt(m.now()):
		return m.refuse(ctx, name, ActionPasswordChange, target, &LockedError{User: name, Until: a.LockedUntil})
	}
	if err := m.policy.CheckPassword(name, newPassword); err != nil {
		return m.refuse(ctx, name, ActionPasswordChange, target, err)
	}
	ok := false
	if len(oldPassword) <= m.policy.MaxLength {
		var err error
		if ok, _, err = m.hasher.verify(ctx, oldPassword, a.PasswordHash); err != nil {
			return err
		}
	}
	if !ok {
		m.loginFailed(ctx, a, name, "", ActionPasswordChange, "wrong current password")
		return fmt.Errorf("%w: the current password is wrong", ErrBadCredentials)
	}
	return m.setPassword(ctx, name, ActionPasswordChange, a, newPassword, false)
}

// ResetPassword sets a user's password without knowing the old one. With
// mustChange the user has to choose a new password right after the next
// login (recommended, since the administrator knows this one). The reset
// also ends the user's lockout and sessions. The password must satisfy the
// policy and differ from the user's last Policy.History passwords. Needs
// PermManageUsers.
func (m *Manager) ResetPassword(ctx context.Context, actor Actor, name, newPassword string, mustChange bool) error {
	target := loggableName(name)
	if err := actor.authorize(PermManageUsers); err != nil {
		return m.refuse(ctx, actor.Name, ActionPasswordReset, target, err)
	}
	a := m.lookup(name)
	if a == nil {
		return m.refuse(ctx, actor.Name, ActionPasswordReset, target, fmt.Errorf("%w: %s", ErrNoUser, target))
	}
	if err := m.policy.CheckPassword(name, newPassword); err != nil {
		return m.refuse(ctx, actor.Name, ActionPasswordReset, target, err)
	}
	return m.setPassword(ctx, actor.Name, ActionPasswordReset, a, newPassword, mustChange)
}

// setPassword checks the history, hashes password and commits it for a.
func (m *Manager) setPassword(ctx context.Context, actor string, action Action, a *account, password string, mustChange bool) error {
	if err := m.checkHistory(ctx, a, password); err != nil {
		if errors.Is(err, ErrWeakPassword) {
			return m.refuse(ctx, actor, action, a.Name, err)
		}
		return err
	}
	hash, err := m.hasher.hash(ctx, password)
	if err != nil {
		return err
	}
	err = m.change(ctx, actor, action, a.Name, func(next accounts, ev *Event) error {
		n := next[a.Name]
		if n == nil || n.ID != a.ID || n.Epoch != a.Epoch {
			return errChangedMeanwhile
		}
		n.setPassword(hash, m.policy.History, m.now())
		n.MustChange = mustChange
		if action == ActionPasswordReset {
			ev.Detail[DetailMustChange] = strconv.FormatBool(mustChange)
		}
		return nil
	})
	if err == nil {
		m.endSessions(a.Name)
	}
	return err
}

// checkHistory refuses password if it matches the current password or one
// of the previous ones kept (Policy.History in all).
func (m *Manager) checkHistory(ctx context.Context, a *account, password string) error {
	hashes := append([]string{a.PasswordHash}, a.PreviousHashes...)
	if len(hashes) > m.policy.History {
		hashes = hashes[:m.policy.History]
	}
	for _, h := range hashes {
		ok, _, err := m.hasher.verify(ctx, password, h)
		if err != nil {
			return err
		}
		if ok {
			return &PolicyError{Reason: fmt.Sprintf("used recently: choose one that differs from the last %d passwords", m.policy.History)}
		}
	}
	return nil
}
