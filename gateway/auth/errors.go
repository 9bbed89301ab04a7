package auth

import (
	"errors"
	"fmt"
	"time"
)

// Errors returned by this package. Test for them with errors.Is: most
// returned errors wrap one of these with details and advice.
var (
	// ErrBadCredentials means the user name or the password is wrong. It
	// does not say which.
	ErrBadCredentials = errors.New("wrong user name or password")
	// ErrLocked means the account is locked after too many failed logins.
	// The returned error is a *LockedError that says until when.
	ErrLocked = errors.New("account locked after too many failed logins")
	// ErrDisabled means the account exists but is disabled.
	ErrDisabled = errors.New("account disabled: ask an administrator to enable it")
	// ErrBusy means too many password hashes are running; try again later.
	ErrBusy = errors.New("too many logins in progress: try again in a few seconds")
	// ErrForbidden means the actor's role does not allow the request.
	ErrForbidden = errors.New("permission denied")
	// ErrMustChangePassword means the session may only change its own
	// password until it has done so.
	ErrMustChangePassword = errors.New("password must be changed first: change it, then log in again")
	// ErrNoUser means the named user does not exist.
	ErrNoUser = errors.New("no such user")
	// ErrUserExists means a user with that name already exists.
	ErrUserExists = errors.New("user already exists")
	// ErrInitialized means Init was called but accounts already exist.
	ErrInitialized = errors.New("accounts already exist: log in as an administrator instead of running init")
	// ErrNotInitialized means there are no accounts yet.
	ErrNotInitialized = errors.New("no accounts yet: create the first administrator with init")
	// ErrUnchanged means the request asked for what is already the case
	// (for example SetRole with the user's current role): nothing was
	// changed and nothing was written to the audit log. Show it as
	// "unchanged", not as a failure.
	ErrUnchanged = errors.New("unchanged: the account already is that way")
	// ErrLastAdmin means the change would leave no enabled administrator.
	ErrLastAdmin = errors.New("this is the last enabled administrator: create or enable another admin first")
	// ErrWeakPassword means the password does not satisfy the policy. The
	// returned error is a *PolicyError that says why.
	ErrWeakPassword = errors.New("password refused by the password policy")
	// ErrInvalidUsername means the user name does not have the allowed syntax.
	ErrInvalidUsername = errors.New("invalid user name")
	// ErrInvalidRole means a role name is not one of viewer, operator,
	// engineer, admin.
	ErrInvalidRole = errors.New("invalid role: use viewer, operator, engineer or admin")
	// ErrInvalidSession means the token is unknown, malformed, expired or
	// no longer valid (user deleted or disabled, password changed, logged
	// out). Log in again.
	ErrInvalidSession = errors.New("session invalid or expired: log in again")
	// ErrAudit means the audit log refused the event, so the change was not
	// made (or the login was refused).
	ErrAudit = errors.New("audit log unavailable, change refused: check the audit log's storage, then retry")
	// ErrStorage means the account file could not be read or written.
	ErrStorage = errors.New("account file error")
	// ErrCorrupt means the account file exists but cannot be used. It is
	// never replaced automatically.
	ErrCorrupt = errors.New("account file corrupt")
	// ErrInvalidHash means a stored password hash is not a valid argon2id
	// PHC string with acceptable parameters.
	ErrInvalidHash = errors.New("invalid password hash")
)

// LockedError is returned by Login while an account is locked. Login
// returns it in the same way, with the same message, for a user name that
// does not exist but had as many failed logins: the message does not tell
// whether an account exists.
type LockedError struct {
	User string
	// Until is when the lock ends by itself; zero means only an
	// administrator can unlock the account.
	Until time.Time
}

// Error says until when the account is locked and what to do.
func (e *LockedError) Error() string {
	if e.Until.IsZero() {
		return fmt.Sprintf("account %q locked after too many failed logins: ask an administrator to unlock it", e.User)
	}
	return fmt.Sprintf("account %q locked after too many failed logins until %s: wait, or ask an administrator to unlock it",
		e.User, e.Until.UTC().Format(time.RFC3339))
}

// Unwrap makes errors.Is(err, ErrLocked) true.
func (e *LockedError) Unwrap() error { return ErrLocked }

// PolicyError says why a password was refused. It never contains the
// password.
type PolicyError struct {
	Reason string
}

// Error says why the password was refused.
func (e *PolicyError) Error() string {
	return "password refused: " + e.Reason
}

// Unwrap makes errors.Is(err, ErrWeakPassword) true.
func (e *PolicyError) Unwrap() error { return ErrWeakPassword }
