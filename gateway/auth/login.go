package auth

import (
	"context"
	"strconv"
	"strings"
	"time"
)

// maxClientLen bounds the client description kept in sessions and events.
const maxClientLen = 128

// Login checks a user name and password and starts a session. client
// describes where the request came from (for example the Unix socket
// peer's uid and pid); it goes into the audit event and the Session.
//
// It returns the session token, to be shown once and sent back with every
// request, and the session's absolute expiry. Errors: ErrBadCredentials
// (unknown user or wrong password; never says which), a *LockedError
// (ErrLocked; after Policy.LockoutThreshold failures, for an existing
// account and for a name without an account alike, with the same message),
// ErrDisabled (only with the right password), ErrBusy,
// ErrAudit (the sink refused the login-success event: no session without an
// audit record). Every attempt costs one password hash, whether or not the
// user exists. Wrong passwords count towards lockout.
func (m *Manager) Login(ctx context.Context, username, password, client string) (token string, expires time.Time, err error) {
	client = cutString(client, maxClientLen)
	target := loggableName(username)
	fail := func(reason string, err error) (string, time.Time, error) {
		ev := m.newEvent(target, ActionLoginFailure, target, ResultFailure)
		ev.Detail[DetailReason] = reason
		ev.Detail[DetailRemote] = client
		_ = m.emit(ctx, ev)
		return "", time.Time{}, err
	}
	// Too long to be a valid password: refused without hashing, whoever
	// the user is, so timing tells nothing either.
	tooLong := len(password) > m.policy.MaxLength
	a := m.lookup(username)
	switch {
	case a == nil:
		if !tooLong {
			if err := m.hasher.burn(ctx, password); err != nil {
				return "", time.Time{}, err
			}
		}
		if ValidateUsername(username) != nil {
			return fail("unknown user", ErrBadCredentials) // can never be an account: nothing to hide
		}
		// Same answers as for an account: locked after as many failures,
		// with the same message, so that nobody learns which names exist.
		now := m.now()
		if le := m.unknown.locked(username, now); le != nil {
			return fail("unknown user", le)
		}
		m.unknown.failed(username, now, &m.policy)
		return fail("unknown user", ErrBadCredentials)
	case a.lockedAt(m.now()):
		if !tooLong {
			if err := m.hasher.burn(ctx, password); err != nil {
				return "", time.Time{}, err
			}
		}
		return fail("account locked", &LockedError{User: a.Name, Until: a.LockedUntil})
	}
	ok, upgrade := false, false
	if !tooLong {
		if ok, upgrade, err = m.hasher.verify(ctx, password, a.PasswordHash); err != nil {
			return "", time.Time{}, err
		}
	}
	if !ok {
		m.loginFailed(ctx, a, target, client, ActionLoginFailure, "wrong password")
		return "", time.Time{}, ErrBadCredentials
	}
	if a.Disabled {
		return fail("account disabled", ErrDisabled)
	}
	newHash := ""
	if upgrade {
		// The stored hash has other parameters than the policy: replace
		// it. If no hashing slot is free, keep the old one for now.
		newHash, _ = m.hasher.hash(ctx, password)
	}
	return m.finishLogin(ctx, a, client, newHash, fail)
}

// finishLogin re-checks the account under changeMu (it may have changed
// while the password was hashed), records the success, saves a cleared
// failure count or an upgraded hash, and starts the session.
func (m *Manager) finishLogin(ctx context.Context, a *account, client, newHash string,
	fail func(string, error) (string, time.Time, error)) (string, time.Time, error) {
	m.changeMu.Lock()
	defer m.changeMu.Unlock()
	now := m.now()
	cur := m.snapshot()[a.Name]
	switch {
	case cur == nil || cur.ID != a.ID || cur.Epoch != a.Epoch:
		return fail("account changed during login", ErrBadCredentials)
	case cur.Disabled:
		return fail("account disabled", ErrDisabled)
	case cur.lockedAt(now):
		return fail("account locked", &LockedError{User: cur.Name, Until: cur.LockedUntil})
	}
	ev := m.newEvent(cur.Name, ActionLoginSuccess, cur.Name, ResultSuccess)
	ev.Detail[DetailRemote] = client
	ev.Detail[DetailRole] = cur.Role.String()
	if cur.MustChange {
		ev.Detail[DetailMustChange] = "true"
	}
	if err := m.emit(ctx, ev); err != nil {
		return "", time.Time{}, err
	}
	if len(cur.Failures) > 0 || cur.Locked || newHash != "" {
		next := m.snapshot().clone()
		n := next[cur.Name]
		n.clearLock()
		if newHash != "" {
			n.PasswordHash = newHash
		}
		// A failed save loses only the cleared counter or the upgrade:
		// the login stands.
		if m.save(next) == nil {
			m.publish(next)
			cur = n
		}
	}
	token, expires := m.newSession(cur, client, now)
	return token, expires, nil
}

// loginFailed counts a failed login for a and locks the account when the
// threshold is reached within the window. It sends the failure event and,
// on locking, a lockout event. The lock holds in memory even if the file
// cannot be saved.
func (m *Manager) loginFailed(ctx context.Context, a *account, actor, client string, action Action, reason string) {
	m.changeMu.Lock()
	defer m.changeMu.Unlock()
	now := m.now()
	ev := m.newEvent(actor, action, a.Name, ResultFailure)
	ev.Detail[DetailReason] = reason
	if client != "" {
		ev.Detail[DetailRemote] = client
	}
	cur := m.snapshot()[a.Name]
	if cur == nil || cur.ID != a.ID || cur.lockedAt(now) {
		_ = m.emit(ctx, ev)
		return
	}
	next := m.snapshot().clone()
	n := next[a.Name]
	n.Failures = append(n.recentFailures(now, m.policy.LockoutWindow), now)
	ev.Detail[DetailFailures] = strconv.Itoa(len(n.Failures))
	var lock *Event
	if len(n.Failures) >= m.policy.LockoutThreshold {
		n.Failures = nil
		n.Locked = true
		n.LockedUntil = time.Time{}
		until := "unlock"
		if !m.policy.LockoutUntilUnlocked {
			n.LockedUntil = now.Add(m.policy.LockoutDuration)
			until = n.LockedUntil.UTC().Format(time.RFC3339)
		}
		le := m.newEvent(ActorSystem, ActionLockout, a.Name, ResultSuccess)
		le.Detail[DetailFailures] = strconv.Itoa(m.policy.LockoutThreshold)
		le.Detail[DetailLockedUntil] = until
		if client != "" {
			le.Detail[DetailRemote] = client
		}
		lock = &le
	}
	if err := m.save(next); err != nil && lock != nil {
		lock.Detail[DetailCommit] = "failed"
	}
	m.publish(next)
	_ = m.emit(ctx, ev)
	if lock != nil {
		_ = m.emit(ctx, *lock)
	}
}

func cutString(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}
