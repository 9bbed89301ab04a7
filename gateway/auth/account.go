package auth

import (
	"encoding/hex"
	"time"
)

// account is one user as stored in the account file. Accounts in the
// Manager's committed state are never modified: changes work on copies.
type account struct {
	// ID is random and never reused: sessions are bound to it, so a user
	// deleted and created again under the same name gets no old sessions.
	ID       string `json:"id"`
	Name     string `json:"name"`
	Role     Role   `json:"role"`
	Disabled bool   `json:"disabled,omitempty"`
	// PasswordHash is the argon2id PHC string of the current password.
	PasswordHash string `json:"password_hash"`
	// PreviousHashes are the PHC strings of earlier passwords, newest
	// first, at most Policy.History-1 of them.
	PreviousHashes []string `json:"previous_hashes,omitempty"`
	// MustChange is set by a reset that requires a new password at the
	// next login.
	MustChange bool `json:"must_change,omitempty"`
	// Epoch changes whenever existing sessions must end: password change
	// or reset, disable.
	Epoch           uint64    `json:"epoch"`
	Created         time.Time `json:"created"`
	PasswordChanged time.Time `json:"password_changed"`
	// Failures are the times of failed logins in the current window.
	Failures []time.Time `json:"failures,omitempty"`
	// Locked is set by a lockout; the lock ends at LockedUntil, or only
	// through Unlock when LockedUntil is zero.
	Locked      bool      `json:"locked,omitempty"`
	LockedUntil time.Time `json:"locked_until,omitzero"`
}

func (a *account) clone() *account {
	c := *a
	c.PreviousHashes = append([]string(nil), a.PreviousHashes...)
	c.Failures = append([]time.Time(nil), a.Failures...)
	return &c
}

// lockedAt reports whether the account is locked at now.
func (a *account) lockedAt(now time.Time) bool {
	return a.Locked && (a.LockedUntil.IsZero() || now.Before(a.LockedUntil))
}

// recentFailures returns the failures inside the window ending at now.
func (a *account) recentFailures(now time.Time, window time.Duration) []time.Time {
	var out []time.Time
	for _, t := range a.Failures {
		if now.Sub(t) < window && !t.After(now) {
			out = append(out, t)
		}
	}
	return out
}

// setPassword makes hash the current password, keeping the previous one in
// the history, and ends all sessions and any lock.
func (a *account) setPassword(hash string, history int, now time.Time) {
	if a.PasswordHash != "" && history > 1 {
		a.PreviousHashes = append([]string{a.PasswordHash}, a.PreviousHashes...)
	}
	if n := history - 1; len(a.PreviousHashes) > n {
		a.PreviousHashes = a.PreviousHashes[:max(n, 0)]
	}
	a.PasswordHash = hash
	a.PasswordChanged = now
	a.Epoch++
	a.clearLock()
}

// clearLock ends a lock and forgets the failed logins.
func (a *account) clearLock() {
	a.Failures = nil
	a.Locked = false
	a.LockedUntil = time.Time{}
}

// accounts is the committed set of accounts by name.
type accounts map[string]*account

func (as accounts) clone() accounts {
	c := make(accounts, len(as))
	for k, a := range as {
		c[k] = a.clone()
	}
	return c
}

// enabledAdmins counts the enabled administrators.
func (as accounts) enabledAdmins() int {
	n := 0
	for _, a := range as {
		if a.Role == RoleAdmin && !a.Disabled {
			n++
		}
	}
	return n
}

func newAccountID() string { return hex.EncodeToString(randomBytes(16)) }

// User is what the package tells about an account. It holds no secrets.
type User struct {
	Name     string
	Role     Role
	Disabled bool
	// MustChangePassword: the user has to change the password after the
	// next login before doing anything else.
	MustChangePassword bool
	// Locked: too many failed logins. The lock ends at LockedUntil, or
	// only through Unlock when LockedUntil is zero.
	Locked          bool
	LockedUntil     time.Time
	RecentFailures  int
	Created         time.Time
	PasswordChanged time.Time
}

func (a *account) user(now time.Time, window time.Duration) User {
	u := User{
		Name: a.Name, Role: a.Role, Disabled: a.Disabled, MustChangePassword: a.MustChange,
		Created: a.Created, PasswordChanged: a.PasswordChanged,
		RecentFailures: len(a.recentFailures(now, window)),
	}
	if a.lockedAt(now) {
		u.Locked, u.LockedUntil = true, a.LockedUntil
	}
	return u
}
