package console

import (
	"context"
	"errors"
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/zonegate/zonegate/gateway/api"
	"github.com/zonegate/zonegate/gateway/audit"
	"github.com/zonegate/zonegate/gateway/auth"
	"github.com/zonegate/zonegate/gateway/changes"
	"github.com/zonegate/zonegate/gateway/internal/clock"
	"github.com/zonegate/zonegate/gateway/zone"
)

// Changes is what the console asks of the change transactions;
// *changes.Transactions implements it. The actor names the user and the
// client's address for the audit records.
type Changes interface {
	Confirm(ctx context.Context, actor changes.Actor) (zone.ModelVersion, error)
	Rollback(ctx context.Context, actor changes.Actor, version int) (int, error)
	SetIsland(ctx context.Context, actor changes.Actor, on bool) error
	History() ([]zone.ModelVersion, error)
	// VersionText is the text of a kept version (the history's diff).
	VersionText(version int) ([]byte, error)
	// Running is the running model; nil while none runs.
	Running() *zone.Model
}

// Accounts is what the console asks of the local accounts; *auth.Manager
// implements it. The console passes the client's address in the context
// (auth.WithRemote), so that account changes name it.
type Accounts interface {
	Login(ctx context.Context, username, password, client string) (token string, expires time.Time, err error)
	Logout(ctx context.Context, token string) error
	Authenticate(token string) (auth.Session, error)
	ChangePassword(ctx context.Context, actor auth.Actor, oldPassword, newPassword string) error
	Users(actor auth.Actor) ([]auth.User, error)
	User(actor auth.Actor, name string) (auth.User, error)
	AddUser(ctx context.Context, actor auth.Actor, name string, role auth.Role, password string, mustChange bool) error
	DisableUser(ctx context.Context, actor auth.Actor, name string) error
	EnableUser(ctx context.Context, actor auth.Actor, name string) error
	Unlock(ctx context.Context, actor auth.Actor, name string) error
	ResetPassword(ctx context.Context, actor auth.Actor, name, newPassword string, mustChange bool) error
	Policy() auth.Policy
}

// Events is the reading side of the data-plane event pipeline, as
// GET /v1/events answers it: the aggregates newer than since, waiting up
// to wait for one.
type Events interface {
	Events(ctx context.Context, since uint64, wait time.Duration) (api.EventsResult, error)
}

// AuditLog reads and verifies the audit log; AuditDir is the daemon's.
type AuditLog interface {
	// Read calls fn for the records that match f, in log order (see
	// audit.Read).
	Read(f audit.Filter, fn func(audit.Entry) error) error
	// Verify checks the whole log (see audit.Verify).
	Verify() (*audit.Report, error)
}

// AuditDir is the AuditLog of the log in a directory, read with the
// gateway's own keys.
type AuditDir string

// Read reads the log's records.
func (d AuditDir) Read(f audit.Filter, fn func(audit.Entry) error) error {
	return audit.Read(string(d), f, fn)
}

// Verify verifies the log with the keys in its directory.
func (d AuditDir) Verify() (*audit.Report, error) {
	return audit.Verify(string(d), audit.VerifyOptions{})
}

// Recorder records what the console refuses. Neither call may block for
// long.
type Recorder interface {
	// Refused records, best effort, a request refused although its
	// session is valid: wanting a role, or without the form's CSRF token.
	Refused(rec audit.Record)
	// Unauthenticated reports a request refused for want of a valid
	// session (a cookie that is unknown, expired or used from another
	// address, a form sent without one): remote is the client's address,
	// route the console's route, why the reason. The daemon aggregates
	// these per client and route, as it does the API's.
	Unauthenticated(remote, route, why string)
}

// Config is what the console shows and acts on.
type Config struct {
	Changes  Changes
	Accounts Accounts
	// Status is the gateway's status as the API shows it.
	Status func() (api.Status, error)
	Events Events
	// Audit reads the audit log; nil when it is not available.
	Audit    AuditLog
	Recorder Recorder
	// IdleTimeout ends a session after this long without a click (the
	// pages' own refreshes do not count); the session's absolute lifetime
	// is the accounts' (passwords.session_lifetime).
	IdleTimeout time.Duration
	// Fingerprint is the SHA-256 fingerprint of the console's certificate,
	// shown on the overview.
	Fingerprint string
	// Clock is the time source (idle timeout, countdowns); default the
	// system clock.
	Clock clock.Clock
	Log   *zap.Logger
}

// DefaultIdleTimeout is the idle timeout when Config names none.
const DefaultIdleTimeout = 15 * time.Minute

// Console serves the web console.
type Console struct {
	cfg      Config
	clock    clock.Clock
	log      *zap.Logger
	sessions *sessions
	pages    *templates
	verify   verifyCache
}

// New returns a console; Handler serves it.
func New(cfg Config) (*Console, error) {
	if cfg.Changes == nil || cfg.Accounts == nil || cfg.Status == nil || cfg.Events == nil || cfg.Recorder == nil {
		return nil, errors.New("console: Changes, Accounts, Status, Events and Recorder are required")
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real()
	}
	if cfg.Log == nil {
		cfg.Log = zap.NewNop()
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	t, err := parseTemplates()
	if err != nil {
		return nil, err
	}
	return &Console{cfg: cfg, clock: cfg.Clock, log: cfg.Log, sessions: newSessions(cfg.IdleTimeout), pages: t}, nil
}

// Handler returns the console's HTTP handler. Every answer carries the
// security headers; unknown paths are 404.
func (c *Console) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /static/{name}", serveAsset)
	mux.HandleFunc("GET /favicon.ico", serveFavicon)
	mux.HandleFunc("GET /login", c.loginPage)
	mux.HandleFunc("POST /login", c.login)
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, pageOverview, http.StatusSeeOther) })

	for _, p := range []struct {
		path string
		perm auth.Permission
		h    viewFunc
	}{
		{"/overview", "", c.overview},
		{"/drawing", "", c.drawing},
		{"/conduits", "", c.conduits},
		{"/events", auth.PermViewAudit, c.events},
		{"/audit", auth.PermViewAudit, c.auditLog},
		{"/history", "", c.history},
		{"/accounts", "", c.accounts},
		{"/account/password", auth.PermChangeOwnPassword, c.passwordPage},
	} {
		mux.HandleFunc("GET "+p.path, c.view(p.path, p.perm, p.h))
	}
	mux.HandleFunc("GET /live/overview", c.live("", c.liveOverview))
	mux.HandleFunc("GET /live/drawing", c.live("", c.liveDrawing))
	mux.HandleFunc("GET /live/events", c.live(auth.PermViewAudit, c.liveEvents))

	mux.HandleFunc("POST /logout", c.act("", c.logout))
	mux.HandleFunc("POST /account/password", c.act(auth.PermChangeOwnPassword, c.changePassword))
	mux.HandleFunc("POST /action/confirm", c.act(auth.PermConfirm, c.confirm))
	mux.HandleFunc("POST /action/rollback", c.act(auth.PermRollback, c.rollback))
	mux.HandleFunc("POST /action/island", c.act(auth.PermIslandMode, c.island))
	mux.HandleFunc("POST /accounts/add", c.actAccounts(c.addUser))
	mux.HandleFunc("POST /accounts/{name}/{action}", c.actAccounts(c.userAction))
	return secure(mux)
}

// The names of the pages in the navigation.
const pageOverview = "/overview"

// now is the console's clock.
func (c *Console) now() time.Time { return c.clock.Now() }
