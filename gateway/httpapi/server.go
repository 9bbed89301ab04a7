// Package httpapi is the HTTP side of zonegate's management API: routing,
// the bearer-token and role check, JSON decoding with size limits, the
// mapping of errors to HTTP statuses, and the Unix socket with its owner,
// mode and peer credentials. What the calls do is behind two small
// interfaces, Backend (change transactions and status, implemented by the
// daemon) and Accounts (implemented by *auth.Manager), so the HTTP layer
// is tested with fakes and without a kernel. The wire types are those of
// package gateway/api; the errors of package changes get their statuses
// here. Calls refused for want of a session are aggregated for the audit
// log (Unauthenticated).
package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/zonegate/zonegate/gateway/api"
	"github.com/zonegate/zonegate/gateway/audit"
	"github.com/zonegate/zonegate/gateway/auth"
	"github.com/zonegate/zonegate/gateway/zone"
)

// Backend is what the API needs from the daemon. Errors that are an
// *api.Error are answered with its status and body; auth, audit and change
// transaction errors are mapped here; anything else is a 500.
type Backend interface {
	Push(ctx context.Context, actor string, model []byte, comment string, confirmWithin time.Duration) (api.PushResult, error)
	Confirm(ctx context.Context, actor string) (api.ModelVersion, error)
	Rollback(ctx context.Context, actor string, version int) (int, error)
	SetIsland(ctx context.Context, actor string, on bool) error
	History() ([]api.ModelVersion, error)
	Status() (api.Status, error)
	// ConfirmWithin is the confirm window of a push that names none.
	ConfirmWithin() time.Duration
	// Refused records, best effort, a call refused for lack of permission.
	Refused(rec audit.Record)
	// Unauthenticated reports a call refused with 401 (no token, bad or
	// expired token): peer is the socket's client, route the API route
	// ("GET /v1/status", never the raw path), why the reason. It must not
	// block: the daemon aggregates these and records them later.
	Unauthenticated(peer PeerCred, route, why string)
	// RunningModel is the text of the running model version.
	RunningModel() (api.RunningModel, error)
	// Events returns the aggregated data-plane events newer than since,
	// waiting up to wait for one (GET /v1/events).
	Events(ctx context.Context, since uint64, wait time.Duration) (api.EventsResult, error)
}

// Accounts is what the API needs from the local accounts; *auth.Manager
// implements it.
type Accounts interface {
	Init(ctx context.Context, username, password string) error
	Login(ctx context.Context, username, password, client string) (token string, expires time.Time, err error)
	Logout(ctx context.Context, token string) error
	Authenticate(token string) (auth.Session, error)
	ChangePassword(ctx context.Context, actor auth.Actor, oldPassword, newPassword string) error
	Users(actor auth.Actor) ([]auth.User, error)
	AddUser(ctx context.Context, actor auth.Actor, name string, role auth.Role, password string, mustChange bool) error
	DeleteUser(ctx context.Context, actor auth.Actor, name string) error
	DisableUser(ctx context.Context, actor auth.Actor, name string) error
	EnableUser(ctx context.Context, actor auth.Actor, name string) error
	SetRole(ctx context.Context, actor auth.Actor, name string, role auth.Role) error
	Unlock(ctx context.Context, actor auth.Actor, name string) error
	ResetPassword(ctx context.Context, actor auth.Actor, name, newPassword string, mustChange bool) error
}

// MaxConfirmWithin bounds the confirm window a push may ask for.
const MaxConfirmWithin = 24 * time.Hour

// Body limits of the requests: a push carries a model file as a JSON
// string, which may take up to twice its size.
const (
	limitSmall       = 1 << 10
	limitCredentials = 8 << 10
	limitPush        = zone.MaxFileSize * 2
)

// server routes the API's calls to a Backend and Accounts.
type server struct {
	b        Backend
	accounts Accounts
}

// Handler returns the API's HTTP handler.
func Handler(b Backend, accounts Accounts) http.Handler {
	s := &server{b: b, accounts: accounts}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+api.PathInit, s.hInit)
	mux.HandleFunc("POST "+api.PathLogin, s.hLogin)
	mux.HandleFunc("POST "+api.PathLogout, s.authed("", s.hLogout))
	mux.HandleFunc("GET "+api.PathStatus, s.authed(auth.PermViewStatus, s.hStatus))
	mux.HandleFunc("GET "+api.PathHistory, s.authed(auth.PermViewStatus, s.hHistory))
	mux.HandleFunc("GET "+api.PathModel, s.authed(auth.PermViewStatus, s.hModel))
	mux.HandleFunc("POST "+api.PathPush, s.authed(auth.PermPushModel, s.hPush))
	mux.HandleFunc("POST "+api.PathConfirm, s.authed(auth.PermConfirm, s.hConfirm))
	mux.HandleFunc("POST "+api.PathRollback, s.authed(auth.PermRollback, s.hRollback))
	mux.HandleFunc("POST "+api.PathIsland, s.authed(auth.PermIslandMode, s.hIsland))
	mux.HandleFunc("POST "+api.PathPassword, s.authed("", s.hPassword))
	mux.HandleFunc("GET "+api.PathUsers, s.authed("", s.hUsers))
	mux.HandleFunc("POST "+api.PathUsers, s.authed("", s.hAddUser))
	mux.HandleFunc("DELETE "+api.PathUsers+"/{name}", s.authed("", s.hDeleteUser))
	mux.HandleFunc("POST "+api.PathUsers+"/{name}/{action}", s.authed("", s.hUserAction))
	mux.HandleFunc("GET "+api.PathEvents, s.authed(auth.PermViewAudit, s.hEvents))
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// errBadRequest marks a request the API cannot take as it is.
var errBadRequest = errors.New("bad request")

// StatusOf maps an error to the HTTP status of its answer.
func StatusOf(err error) int {
	var ae *api.Error
	switch {
	case errors.As(err, &ae) && ae.Status != 0:
		return ae.Status
	case errors.Is(err, auth.ErrBadCredentials), errors.Is(err, auth.ErrInvalidSession):
		return http.StatusUnauthorized
	case errors.Is(err, auth.ErrForbidden), errors.Is(err, auth.ErrMustChangePassword),
		errors.Is(err, auth.ErrLocked), errors.Is(err, auth.ErrDisabled):
		return http.StatusForbidden
	case errors.Is(err, auth.ErrNoUser):
		return http.StatusNotFound
	case errors.Is(err, auth.ErrUserExists), errors.Is(err, auth.ErrInitialized), errors.Is(err, auth.ErrLastAdmin):
		return http.StatusConflict
	case errors.Is(err, auth.ErrWeakPassword), errors.Is(err, auth.ErrInvalidUsername), errors.Is(err, auth.ErrInvalidRole),
		errors.Is(err, errBadRequest):
		return http.StatusBadRequest
	case errors.Is(err, auth.ErrBusy), errors.Is(err, audit.ErrFull), errors.Is(err, audit.ErrUnavailable), errors.Is(err, auth.ErrAudit):
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// fail answers with the error's status and an api.Error body.
func fail(w http.ResponseWriter, err error) {
	err = changeError(err)
	body := api.Error{Message: err.Error()}
	var ae *api.Error
	if errors.As(err, &ae) {
		body.Message, body.Diagnostics = ae.Message, ae.Diagnostics
	}
	writeJSON(w, StatusOf(err), body)
}

// decode reads a JSON body of at most limit bytes; unknown fields are
// refused.
func decode(r *http.Request, limit int64, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, limit))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: the request body is not the expected JSON: %v", errBadRequest, err)
	}
	return nil
}

type handler func(w http.ResponseWriter, r *http.Request, s auth.Session)

// bearer is the request's token, if any.
func bearer(r *http.Request) (string, bool) {
	return strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
}

// authed checks the bearer token and, when perm is set, the permission.
func (s *server) authed(perm auth.Permission, h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		token, ok := bearer(r)
		if !ok {
			s.b.Unauthenticated(PeerOf(r), route(r), "no token")
			fail(w, fmt.Errorf("%w: log in first with `zonegate login`", auth.ErrInvalidSession))
			return
		}
		sess, err := s.accounts.Authenticate(token)
		if err != nil {
			err = fmt.Errorf("%w (log in again with `zonegate login`)", err)
			if StatusOf(err) == http.StatusUnauthorized {
				s.b.Unauthenticated(PeerOf(r), route(r), "invalid or expired token")
			}
			fail(w, err)
			return
		}
		if perm != "" && !sess.Can(perm) {
			s.b.Refused(audit.Record{Actor: sess.User, Category: audit.CategoryConfig, Action: audit.Action(perm), Object: r.URL.Path,
				Result: audit.ResultDenied, Details: map[string]string{audit.DetailRole: sess.Role.String(), audit.DetailRemote: Peer(r)}})
			if sess.MustChangePassword && sess.Role.Can(perm) {
				fail(w, fmt.Errorf("%w: %s may only change the password (`zonegate user passwd`)", auth.ErrMustChangePassword, sess.User))
				return
			}
			fail(w, fmt.Errorf("%w: %s needs a role that may %s; %s is %s", auth.ErrForbidden, r.URL.Path, perm, sess.User, sess.Role))
			return
		}
		h(w, r, sess)
	}
}

// route is the API route a request matched ("POST /v1/users/{name}/{action}"):
// it names the call without the caller's own text, so records of refused
// calls aggregate per route.
func route(r *http.Request) string {
	if r.Pattern != "" {
		return r.Pattern
	}
	return r.Method + " (unrouted)"
}

func (s *server) hInit(w http.ResponseWriter, r *http.Request) {
	var c api.Credentials
	if err := decode(r, limitCredentials, &c); err != nil {
		fail(w, err)
		return
	}
	if err := s.accounts.Init(r.Context(), c.User, c.Password); err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, api.InitResult{User: c.User, Role: auth.RoleAdmin.String()})
}

func (s *server) hLogin(w http.ResponseWriter, r *http.Request) {
	var c api.Credentials
	if err := decode(r, limitCredentials, &c); err != nil {
		fail(w, err)
		return
	}
	token, exp, err := s.accounts.Login(r.Context(), c.User, c.Password, Peer(r))
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, api.LoginResult{Token: token, Expires: exp})
}

func (s *server) hLogout(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	token, _ := bearer(r)
	if err := s.accounts.Logout(r.Context(), token); err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, api.LogoutResult{LoggedOut: sess.User})
}

func (s *server) hPush(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	var req api.PushRequest
	if err := decode(r, limitPush, &req); err != nil {
		fail(w, err)
		return
	}
	within := s.b.ConfirmWithin()
	if req.ConfirmWithin != "" {
		v, err := time.ParseDuration(req.ConfirmWithin)
		if err != nil || v < 0 || v > MaxConfirmWithin {
			fail(w, fmt.Errorf("%w: confirm_within %q must be a duration from 0 to 24h, such as 2m", errBadRequest, req.ConfirmWithin))
			return
		}
		within = v
	}
	res, err := s.b.Push(r.Context(), sess.User, []byte(req.Model), req.Comment, within)
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

func (s *server) hConfirm(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	v, err := s.b.Confirm(r.Context(), sess.User)
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *server) hRollback(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	var req api.RollbackRequest
	if err := decode(r, limitSmall, &req); err != nil {
		fail(w, err)
		return
	}
	v, err := s.b.Rollback(r.Context(), sess.User, req.Version)
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, api.RollbackResult{Version: v})
}

func (s *server) hIsland(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	var req api.IslandRequest
	if err := decode(r, limitSmall, &req); err != nil {
		fail(w, err)
		return
	}
	if err := s.b.SetIsland(r.Context(), sess.User, req.On); err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, api.IslandResult{Island: req.On})
}

func (s *server) hHistory(w http.ResponseWriter, r *http.Request, _ auth.Session) {
	vs, err := s.b.History()
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, vs)
}

func (s *server) hModel(w http.ResponseWriter, r *http.Request, _ auth.Session) {
	m, err := s.b.RunningModel()
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, m)
}

func (s *server) hStatus(w http.ResponseWriter, r *http.Request, _ auth.Session) {
	st, err := s.b.Status()
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (s *server) hPassword(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	var req api.PasswordRequest
	if err := decode(r, limitCredentials, &req); err != nil {
		fail(w, err)
		return
	}
	if err := s.accounts.ChangePassword(r.Context(), sess.Actor(), req.Old, req.New); err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, api.PasswordResult{User: sess.User})
}

func (s *server) hUsers(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	us, err := s.accounts.Users(sess.Actor())
	if err != nil {
		fail(w, err)
		return
	}
	out := make([]api.User, len(us))
	for i, u := range us {
		out[i] = api.User{Name: u.Name, Role: u.Role.String(), Disabled: u.Disabled, Locked: u.Locked, LockedUntil: u.LockedUntil,
			MustChangePassword: u.MustChangePassword, Created: u.Created, PasswordChanged: u.PasswordChanged}
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *server) hAddUser(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	var req api.UserRequest
	if err := decode(r, limitCredentials, &req); err != nil {
		fail(w, err)
		return
	}
	role, err := auth.ParseRole(req.Role)
	if err != nil {
		fail(w, err)
		return
	}
	if err := s.accounts.AddUser(r.Context(), sess.Actor(), req.Name, role, req.Password, req.MustChange); err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, api.UserResult{User: req.Name, Role: role.String()})
}

func (s *server) hDeleteUser(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	name := r.PathValue("name")
	if err := s.accounts.DeleteUser(r.Context(), sess.Actor(), name); err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, api.DeleteResult{Deleted: name})
}

func (s *server) hUserAction(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	name, action := r.PathValue("name"), r.PathValue("action")
	var req api.UserRequest
	if r.ContentLength != 0 {
		if err := decode(r, limitCredentials, &req); err != nil {
			fail(w, err)
			return
		}
	}
	ctx, actor := r.Context(), sess.Actor()
	var err error
	switch action {
	case api.ActionDisable:
		err = s.accounts.DisableUser(ctx, actor, name)
	case api.ActionEnable:
		err = s.accounts.EnableUser(ctx, actor, name)
	case api.ActionUnlock:
		err = s.accounts.Unlock(ctx, actor, name)
	case api.ActionRole:
		var role auth.Role
		if role, err = auth.ParseRole(req.Role); err == nil {
			err = s.accounts.SetRole(ctx, actor, name, role)
		}
	case api.ActionReset:
		err = s.accounts.ResetPassword(ctx, actor, name, req.Password, req.MustChange)
	default:
		err = fmt.Errorf("%w: unknown user action %q (disable, enable, unlock, role, reset)", errBadRequest, action)
	}
	unchanged := errors.Is(err, auth.ErrUnchanged)
	if err != nil && !unchanged {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, api.UserActionResult{User: name, Done: action, Unchanged: unchanged})
}
