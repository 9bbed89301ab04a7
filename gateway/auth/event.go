package auth

import (
	"context"
	"time"
)

// Action says what happened to an account. The strings are those of the
// audit log's account actions (gateway/audit), so a sink can convert them
// directly.
type Action string

// Account actions.
const (
	ActionCreate         Action = "create"
	ActionDelete         Action = "delete"
	ActionDisable        Action = "disable"
	ActionEnable         Action = "enable"
	ActionRoleChange     Action = "role-change"
	ActionPasswordChange Action = "password-change"
	ActionPasswordReset  Action = "password-reset"
	ActionLoginSuccess   Action = "login-success"
	ActionLoginFailure   Action = "login-failure"
	ActionLockout        Action = "lockout"
	ActionUnlock         Action = "unlock"
	ActionLogout         Action = "logout"
)

// Result is the outcome of an event.
type Result string

// Results. They match the audit log's results.
const (
	// ResultSuccess: the change is about to be saved (the sink is called
	// before saving) or the login succeeded.
	ResultSuccess Result = "success"
	// ResultFailure: the request was refused for a reason other than
	// rights (wrong password, policy, last administrator, storage error).
	ResultFailure Result = "failure"
	// ResultDenied: the actor's role does not allow the request.
	ResultDenied Result = "denied"
)

// Detail keys used in events. Values never hold a password, a hash or a
// token, and keys avoid the words the audit log refuses as secret-looking.
const (
	DetailRole        = "role"         // the role set, or the user's role
	DetailOldRole     = "old_role"     // the role before a role change
	DetailRemote      = "remote"       // the client given to Login
	DetailReason      = "reason"       // why a request was refused
	DetailMustChange  = "must_change"  // "true" when a reset requires a change at next login
	DetailFailures    = "failures"     // failed logins counted in the window
	DetailLockedUntil = "locked_until" // RFC 3339, or "unlock" when only an admin can unlock
	DetailCommit      = "commit"       // "failed" on the follow-up event when saving failed
)

// Reserved actor names. They start with '@' and so are never user names.
const (
	// ActorInit is the actor of Init (the first administrator, created on
	// the local console).
	ActorInit = "@init"
	// ActorSystem is the actor of events the package itself causes, such
	// as a lockout.
	ActorSystem = "@system"
)

// Event is one account event.
type Event struct {
	// Time of the event (the Manager's clock).
	Time time.Time
	// Actor is the user who did it: the session's user for management
	// actions, the user trying to log in for logins, or ActorInit,
	// ActorSystem.
	Actor string
	// Action is what was done.
	Action Action
	// Target is the user the action applies to. For logins of user names
	// that are not valid, it is "(invalid user name)": such input may be a
	// password typed into the wrong field.
	Target string
	// Result is the outcome.
	Result Result
	// Detail holds extra facts (see the Detail constants); nil if none.
	Detail map[string]string
}

// EventSink receives account events; the daemon passes its audit log. For
// changes, AccountEvent is called before the change is saved, and the
// change is refused if it returns an error, so it must return only once the
// record is durable. It is called from many goroutines, and while the
// Manager holds the lock that serializes changes: it must not call the
// Manager's changing methods or Login (Authenticate and reads are fine).
type EventSink interface {
	AccountEvent(ctx context.Context, ev Event) error
}

// remoteKey is the context key of WithRemote.
type remoteKey struct{}

// WithRemote returns ctx carrying the address a request came from (a web
// console's client, "198.18.60.10:51234"). The events a Manager method
// sends while serving that ctx name it in DetailRemote, unless they name a
// remote of their own (a login's client), so an administrator's account
// changes say where they were made.
func WithRemote(ctx context.Context, remote string) context.Context {
	return context.WithValue(ctx, remoteKey{}, remote)
}

// RemoteOf is the address WithRemote put into ctx; "" when none.
func RemoteOf(ctx context.Context) string {
	s, _ := ctx.Value(remoteKey{}).(string)
	return s
}

// SinkFunc adapts a function to EventSink.
type SinkFunc func(ctx context.Context, ev Event) error

// AccountEvent calls f.
func (f SinkFunc) AccountEvent(ctx context.Context, ev Event) error { return f(ctx, ev) }
