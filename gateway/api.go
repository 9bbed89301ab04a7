package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sys/unix"

	"github.com/zonegate/zonegate/firewall"
	"github.com/zonegate/zonegate/gateway/audit"
	"github.com/zonegate/zonegate/gateway/auth"
	"github.com/zonegate/zonegate/gateway/zone"
	"github.com/zonegate/zonegate/protocols/inspect"
)

// The management API is HTTP with JSON bodies over a Unix socket (mode
// 0660). Every call but init and login needs "Authorization: Bearer TOKEN"
// from /v1/login; each call checks the session's role.

type ctxKey int

const peerKey ctxKey = 1

// serveAPI listens on the settings' socket and serves the API.
func (d *Daemon) serveAPI() (io.Closer, error) {
	path := d.set.API.Socket
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("create the API socket's directory: %w", err)
	}
	if c, err := net.Dial("unix", path); err == nil {
		c.Close()
		return nil, fmt.Errorf("another zonegate answers on %s: stop it or set api.socket", path)
	}
	_ = os.Remove(path)
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o660); err != nil {
		ln.Close()
		return nil, err
	}
	if g := d.set.API.Group; g != "" {
		grp, err := user.LookupGroup(g)
		if err != nil {
			ln.Close()
			return nil, fmt.Errorf("api.group %q: %w", g, err)
		}
		gid, _ := strconv.Atoi(grp.Gid)
		if err := os.Chown(path, 0, gid); err != nil {
			ln.Close()
			return nil, err
		}
	}
	srv := &http.Server{
		Handler:           d.apiHandler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			return context.WithValue(ctx, peerKey, peerOf(c))
		},
	}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			d.log.Error("management API stopped", zap.Error(err))
		}
	}()
	d.log.Info("management API listening", zap.String("socket", path))
	return srv, nil
}

// peerOf names the local process at the other end of the socket.
func peerOf(c net.Conn) string {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return "local"
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return "local"
	}
	var cred *unix.Ucred
	_ = raw.Control(func(fd uintptr) { cred, err = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED) })
	if err != nil || cred == nil {
		return "local"
	}
	return fmt.Sprintf("local uid=%d pid=%d", cred.Uid, cred.Pid)
}

func peer(r *http.Request) string {
	if p, ok := r.Context().Value(peerKey).(string); ok {
		return p
	}
	return "local"
}

func (d *Daemon) apiHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/init", d.hInit)
	mux.HandleFunc("POST /v1/login", d.hLogin)
	mux.HandleFunc("POST /v1/logout", d.authed("", d.hLogout))
	mux.HandleFunc("GET /v1/status", d.authed(auth.PermViewStatus, d.hStatus))
	mux.HandleFunc("GET /v1/history", d.authed(auth.PermViewStatus, d.hHistory))
	mux.HandleFunc("POST /v1/push", d.authed(auth.PermPushModel, d.hPush))
	mux.HandleFunc("POST /v1/confirm", d.authed(auth.PermConfirm, d.hConfirm))
	mux.HandleFunc("POST /v1/rollback", d.authed(auth.PermRollback, d.hRollback))
	mux.HandleFunc("POST /v1/island", d.authed(auth.PermIslandMode, d.hIsland))
	mux.HandleFunc("POST /v1/password", d.authed("", d.hPassword))
	mux.HandleFunc("GET /v1/users", d.authed("", d.hUsers))
	mux.HandleFunc("POST /v1/users", d.authed("", d.hAddUser))
	mux.HandleFunc("DELETE /v1/users/{name}", d.authed("", d.hDeleteUser))
	mux.HandleFunc("POST /v1/users/{name}/{action}", d.authed("", d.hUserAction))
	return mux
}

// apiError is the body of every error answer.
type apiError struct {
	Error       string   `json:"error"`
	Diagnostics []string `json:"diagnostics,omitempty"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// fail maps an error to an HTTP status and a JSON body.
func fail(w http.ResponseWriter, err error) {
	status := http.StatusInternalServerError
	body := apiError{Error: err.Error()}
	var me *ModelError
	switch {
	case errors.As(err, &me):
		status, body.Error = http.StatusUnprocessableEntity, fmt.Sprintf("the model has %d error(s); nothing was changed", len(me.Diagnostics))
		for _, diag := range me.Diagnostics {
			body.Diagnostics = append(body.Diagnostics, diag.String())
		}
	case errors.Is(err, auth.ErrBadCredentials), errors.Is(err, auth.ErrInvalidSession):
		status = http.StatusUnauthorized
	case errors.Is(err, auth.ErrForbidden), errors.Is(err, auth.ErrMustChangePassword):
		status = http.StatusForbidden
	case errors.Is(err, auth.ErrLocked), errors.Is(err, auth.ErrDisabled):
		status = http.StatusForbidden
	case errors.Is(err, auth.ErrNoUser):
		status = http.StatusNotFound
	case errors.Is(err, auth.ErrUserExists), errors.Is(err, auth.ErrInitialized), errors.Is(err, auth.ErrLastAdmin),
		errors.Is(err, ErrPending), errors.Is(err, ErrNothingPending), errors.Is(err, ErrNoPrevious):
		status = http.StatusConflict
	case errors.Is(err, auth.ErrWeakPassword), errors.Is(err, auth.ErrInvalidUsername), errors.Is(err, auth.ErrInvalidRole), errors.Is(err, errBadRequest):
		status = http.StatusBadRequest
	case errors.Is(err, auth.ErrBusy):
		status = http.StatusServiceUnavailable
	case errors.Is(err, errAuditUnavailable), errors.Is(err, audit.ErrFull), errors.Is(err, auth.ErrAudit):
		status = http.StatusServiceUnavailable
	}
	writeJSON(w, status, body)
}

var errBadRequest = errors.New("bad request")

// decode reads a JSON body of at most limit bytes.
func decode(r *http.Request, limit int64, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, limit))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: the request body is not the expected JSON: %v", errBadRequest, err)
	}
	return nil
}

type handler func(w http.ResponseWriter, r *http.Request, s auth.Session)

// authed checks the bearer token and, when perm is set, the permission.
func (d *Daemon) authed(perm auth.Permission, h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok {
			fail(w, fmt.Errorf("%w: log in first with `zonegate login`", auth.ErrInvalidSession))
			return
		}
		s, err := d.accounts.Authenticate(token)
		if err != nil {
			fail(w, fmt.Errorf("%w (log in again with `zonegate login`)", err))
			return
		}
		if perm != "" && !s.Can(perm) {
			d.recordBestEffort(audit.Record{Actor: s.User, Category: audit.CategoryConfig, Action: audit.Action(perm), Object: r.URL.Path,
				Result: audit.ResultDenied, Details: map[string]string{audit.DetailRole: s.Role.String(), audit.DetailRemote: peer(r)}})
			if s.MustChangePassword && s.Role.Can(perm) {
				fail(w, fmt.Errorf("%w: %s may only change the password (`zonegate user passwd`)", auth.ErrMustChangePassword, s.User))
				return
			}
			fail(w, fmt.Errorf("%w: %s needs a role that may %s; %s is %s", auth.ErrForbidden, r.URL.Path, perm, s.User, s.Role))
			return
		}
		h(w, r, s)
	}
}

type credentials struct {
	User     string `json:"user"`
	Password string `json:"password"`
}

func (d *Daemon) hInit(w http.ResponseWriter, r *http.Request) {
	var c credentials
	if err := decode(r, 8<<10, &c); err != nil {
		fail(w, err)
		return
	}
	if err := d.accounts.Init(r.Context(), c.User, c.Password); err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]string{"user": c.User, "role": auth.RoleAdmin.String()})
}

func (d *Daemon) hLogin(w http.ResponseWriter, r *http.Request) {
	var c credentials
	if err := decode(r, 8<<10, &c); err != nil {
		fail(w, err)
		return
	}
	token, exp, err := d.accounts.Login(r.Context(), c.User, c.Password, peer(r))
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"token": token, "expires": exp})
}

func (d *Daemon) hLogout(w http.ResponseWriter, r *http.Request, s auth.Session) {
	token, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if err := d.accounts.Logout(r.Context(), token); err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"logged_out": s.User})
}

type pushRequest struct {
	Model         string `json:"model"`
	Comment       string `json:"comment"`
	ConfirmWithin string `json:"confirm_within"` // Go duration; empty: the settings' default; "0": confirm at once
}

func (d *Daemon) hPush(w http.ResponseWriter, r *http.Request, s auth.Session) {
	var req pushRequest
	if err := decode(r, zone.MaxFileSize*2, &req); err != nil {
		fail(w, err)
		return
	}
	d.mu.Lock()
	within := time.Duration(d.set.Changes.ConfirmWithin)
	d.mu.Unlock()
	if req.ConfirmWithin != "" {
		v, err := time.ParseDuration(req.ConfirmWithin)
		if err != nil || v < 0 || v > 24*time.Hour {
			fail(w, fmt.Errorf("%w: confirm_within %q must be a duration from 0 to 24h, such as 2m", errBadRequest, req.ConfirmWithin))
			return
		}
		within = v
	}
	res, err := d.Push(r.Context(), s.User, []byte(req.Model), req.Comment, within)
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

func (d *Daemon) hConfirm(w http.ResponseWriter, r *http.Request, s auth.Session) {
	v, err := d.Confirm(r.Context(), s.User)
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (d *Daemon) hRollback(w http.ResponseWriter, r *http.Request, s auth.Session) {
	var req struct {
		Version int `json:"version"`
	}
	if err := decode(r, 1<<10, &req); err != nil {
		fail(w, err)
		return
	}
	v, err := d.Rollback(r.Context(), s.User, req.Version)
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"version": v})
}

func (d *Daemon) hIsland(w http.ResponseWriter, r *http.Request, s auth.Session) {
	var req struct {
		On bool `json:"on"`
	}
	if err := decode(r, 1<<10, &req); err != nil {
		fail(w, err)
		return
	}
	if err := d.SetIsland(r.Context(), s.User, req.On); err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"island": req.On})
}

func (d *Daemon) hHistory(w http.ResponseWriter, r *http.Request, s auth.Session) {
	vs, err := d.History()
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, vs)
}

func (d *Daemon) hStatus(w http.ResponseWriter, r *http.Request, s auth.Session) {
	st, err := d.Status()
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (d *Daemon) hPassword(w http.ResponseWriter, r *http.Request, s auth.Session) {
	var req struct {
		Old string `json:"old"`
		New string `json:"new"`
	}
	if err := decode(r, 8<<10, &req); err != nil {
		fail(w, err)
		return
	}
	if err := d.accounts.ChangePassword(r.Context(), s.Actor(), req.Old, req.New); err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"user": s.User})
}

// userView is a user as the API shows it.
type userView struct {
	Name               string    `json:"name"`
	Role               string    `json:"role"`
	Disabled           bool      `json:"disabled"`
	Locked             bool      `json:"locked"`
	LockedUntil        time.Time `json:"locked_until,omitempty"`
	MustChangePassword bool      `json:"must_change_password"`
	Created            time.Time `json:"created"`
	PasswordChanged    time.Time `json:"password_changed"`
}

func (d *Daemon) hUsers(w http.ResponseWriter, r *http.Request, s auth.Session) {
	us, err := d.accounts.Users(s.Actor())
	if err != nil {
		fail(w, err)
		return
	}
	out := make([]userView, len(us))
	for i, u := range us {
		out[i] = userView{u.Name, u.Role.String(), u.Disabled, u.Locked, u.LockedUntil, u.MustChangePassword, u.Created, u.PasswordChanged}
	}
	writeJSON(w, http.StatusOK, out)
}

type userRequest struct {
	Name       string `json:"name"`
	Role       string `json:"role"`
	Password   string `json:"password"`
	MustChange bool   `json:"must_change"`
}

func (d *Daemon) hAddUser(w http.ResponseWriter, r *http.Request, s auth.Session) {
	var req userRequest
	if err := decode(r, 8<<10, &req); err != nil {
		fail(w, err)
		return
	}
	role, err := auth.ParseRole(req.Role)
	if err != nil {
		fail(w, err)
		return
	}
	if err := d.accounts.AddUser(r.Context(), s.Actor(), req.Name, role, req.Password, req.MustChange); err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]string{"user": req.Name, "role": role.String()})
}

func (d *Daemon) hDeleteUser(w http.ResponseWriter, r *http.Request, s auth.Session) {
	name := r.PathValue("name")
	if err := d.accounts.DeleteUser(r.Context(), s.Actor(), name); err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"deleted": name})
}

func (d *Daemon) hUserAction(w http.ResponseWriter, r *http.Request, s auth.Session) {
	name, action := r.PathValue("name"), r.PathValue("action")
	var req userRequest
	if r.ContentLength != 0 {
		if err := decode(r, 8<<10, &req); err != nil {
			fail(w, err)
			return
		}
	}
	ctx, actor := r.Context(), s.Actor()
	var err error
	switch action {
	case "disable":
		err = d.accounts.DisableUser(ctx, actor, name)
	case "enable":
		err = d.accounts.EnableUser(ctx, actor, name)
	case "unlock":
		err = d.accounts.Unlock(ctx, actor, name)
	case "role":
		var role auth.Role
		if role, err = auth.ParseRole(req.Role); err == nil {
			err = d.accounts.SetRole(ctx, actor, name, role)
		}
	case "reset":
		err = d.accounts.ResetPassword(ctx, actor, name, req.Password, req.MustChange)
	default:
		err = fmt.Errorf("%w: unknown user action %q (disable, enable, unlock, role, reset)", errBadRequest, action)
	}
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"user": name, "done": action})
}

// Status is what `zonegate status` shows.
type Status struct {
	Gateway      string                  `json:"gateway"`
	Version      int                     `json:"version"`
	Digest       string                  `json:"digest"`
	Pending      *Pending                `json:"pending,omitempty"`
	Island       bool                    `json:"island"`
	IslandReason string                  `json:"island_reason,omitempty"`
	Counters     []firewall.CounterValue `json:"counters"`
	Modbus       []ModbusCount           `json:"modbus"`
	Audit        *audit.Stats            `json:"audit,omitempty"`
	Drift        driftStats              `json:"drift"`
	Sessions     int                     `json:"sessions"`
}

// ModbusCount is one non-zero request counter of the Modbus proxy.
type ModbusCount struct {
	Conduit  string `json:"conduit"`
	Function int    `json:"function"`
	Verdict  string `json:"verdict"`
	Count    uint64 `json:"count"`
}

// Status reports the running configuration and the counters.
func (d *Daemon) Status() (Status, error) {
	d.mu.Lock()
	st := Status{Version: d.state.Current, Pending: d.state.Pending, Island: d.state.Island || d.islandWhy != "",
		IslandReason: d.islandWhy, Drift: d.drift, Sessions: d.accounts.SessionCount()}
	if d.running != nil {
		st.Gateway, st.Digest = d.running.Gateway.Name, d.running.Digest()
	}
	if d.state.Island && st.IslandReason == "" {
		st.IslandReason = "turned on with `zonegate island on`"
	}
	d.mu.Unlock()
	cs, err := firewall.Counters(d.cfg.Target)
	if err != nil {
		return st, err
	}
	st.Counters = cs
	for _, rc := range d.inspection.requests() {
		if rc.Protocol == inspect.Modbus.Name {
			st.Modbus = append(st.Modbus, ModbusCount{rc.Conduit, rc.Function, rc.Verdict, rc.Count})
		}
	}
	if d.audit != nil {
		as := d.audit.Stats()
		st.Audit = &as
	}
	return st, nil
}
