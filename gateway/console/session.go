package console

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/zonegate/zonegate/gateway/audit"
	"github.com/zonegate/zonegate/gateway/auth"
)

// The cookies. The __Host- prefix makes the browser refuse them unless
// they are Secure, for the path / and without a domain: no other host
// and no plain-HTTP page can set or read them.
const (
	sessionCookie = "__Host-zonegate"       // the session token of auth
	loginCookie   = "__Host-zonegate-login" // random; the login form's CSRF token derives from it
)

// maxForm bounds the body of a form; the largest holds two passwords.
const maxForm = 16 << 10

// sessions are the console's side of its logins: which address each
// logged in from, when it last clicked, and a message for its next page.
// The session itself (user, role, lifetime) is auth's, looked up by the
// cookie's token on every request.
type sessions struct {
	idle time.Duration
	// key derives the CSRF tokens; a new one at every start (auth's
	// sessions end with the daemon anyway).
	key [32]byte

	mu sync.Mutex
	m  map[[32]byte]*clientSession
}

// clientSession is one console login.
type clientSession struct {
	host       string // the client's IP address at login
	lastActive time.Time
	expires    time.Time
	flash      string
}

func newSessions(idle time.Duration) *sessions {
	s := &sessions{idle: idle, m: map[[32]byte]*clientSession{}}
	if _, err := rand.Read(s.key[:]); err != nil {
		panic("console: no randomness for the CSRF key: " + err.Error())
	}
	return s
}

func tokenKey(token string) [32]byte { return sha256.Sum256([]byte(token)) }

// add starts a console session for a login's token, and forgets those
// idle for longer than the timeout.
func (s *sessions) add(token, host string, now, expires time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, cs := range s.m {
		if now.Sub(cs.lastActive) >= s.idle || !now.Before(cs.expires) {
			delete(s.m, k)
		}
	}
	s.m[tokenKey(token)] = &clientSession{host: host, lastActive: now, expires: expires}
}

func (s *sessions) get(token string) *clientSession {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[tokenKey(token)]
}

func (s *sessions) drop(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, tokenKey(token))
}

// touch counts a click; idle reports whether the session had been idle
// for too long before it.
func (s *sessions) touch(cs *clientSession, now time.Time, activity bool) (idle bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if now.Sub(cs.lastActive) >= s.idle {
		return true
	}
	if activity {
		cs.lastActive = now
	}
	return false
}

// setFlash leaves a message for the session's next page; takeFlash
// returns and clears it.
func (s *sessions) setFlash(cs *clientSession, msg string) {
	s.mu.Lock()
	cs.flash = msg
	s.mu.Unlock()
}

func (s *sessions) takeFlash(cs *clientSession) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	msg := cs.flash
	cs.flash = ""
	return msg
}

// mac is a token derived from the CSRF key: kind separates the session
// forms' tokens from the login form's.
func (s *sessions) mac(kind, secret string) string {
	h := hmac.New(sha256.New, s.key[:])
	h.Write([]byte(kind + "\n" + secret))
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}

// validToken compares a form's token with the expected one in constant
// time.
func validToken(got, want string) bool {
	return got != "" && hmac.Equal([]byte(got), []byte(want))
}

// hostOf is the IP address of a request's client.
func hostOf(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func setCookie(w http.ResponseWriter, name, value string, maxAge time.Duration) {
	c := &http.Cookie{Name: name, Value: value, Path: "/", Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode}
	if maxAge > 0 {
		c.MaxAge = int(maxAge / time.Second)
	} else if maxAge < 0 {
		c.MaxAge = -1
	}
	http.SetCookie(w, c)
}

func clearCookie(w http.ResponseWriter, name string) { setCookie(w, name, "", -1) }

// request is an authenticated request on its way to a page or action.
type request struct {
	w      http.ResponseWriter
	r      *http.Request
	sess   auth.Session
	token  string
	cs     *clientSession
	csrf   string // the token the session's forms carry
	remote string // the client's address, for the audit records
}

// Why a request has no session, for the login page's message.
type noSession string

const (
	noCookie    noSession = ""
	badCookie   noSession = "invalid"
	expiredTime noSession = "expired"
	idleTime    noSession = "idle"
	movedCookie noSession = "moved"
	endedAuth   noSession = "ended"
	signedOut   noSession = "signed-out"
	newPassword noSession = "password"
)

// loginMessages are the login page's messages by reason.
var loginMessages = map[noSession]string{
	badCookie:   "Your session is no longer valid (the gateway restarted, or you were signed out elsewhere): sign in again.",
	expiredTime: "Your session reached its lifetime: sign in again.",
	idleTime:    "You were signed out after a time without activity: sign in again.",
	movedCookie: "Your session cookie was used from another address than the one you signed in from, so the session was ended: sign in again.",
	endedAuth:   "Your session was ended (signed out elsewhere, the account was disabled or its password changed, or 30 minutes without any request): sign in again.",
	signedOut:   "You are signed out.",
	newPassword: "Your password was changed, which ends your sessions: sign in with the new one.",
}

// authenticate finds the request's session. activity says whether the
// request is a click (which the idle timeout counts) or a page's own
// refresh. A cookie that does not authenticate is cleared and reported
// to the Recorder; a cookie used from another address than its login's
// ends its session.
func (c *Console) authenticate(w http.ResponseWriter, r *http.Request, activity bool) (*request, noSession) {
	ck, err := r.Cookie(sessionCookie)
	if err != nil || ck.Value == "" {
		return nil, noCookie
	}
	token := ck.Value
	now := c.now()
	cs := c.sessions.get(token)
	sess, err := c.cfg.Accounts.Authenticate(token)
	switch {
	case err != nil && cs != nil:
		// A session of this console that the accounts ended.
		c.sessions.drop(token)
		clearCookie(w, sessionCookie)
		if !now.Before(cs.expires) {
			return nil, expiredTime
		}
		return nil, endedAuth
	case err != nil || cs == nil:
		// Unknown, ended or forged, or a session of the API's.
		c.sessions.drop(token)
		clearCookie(w, sessionCookie)
		c.cfg.Recorder.Unauthenticated(r.RemoteAddr, route(r), "invalid or expired session cookie")
		return nil, badCookie
	case hostOf(r) != cs.host:
		c.endSession(r, token)
		clearCookie(w, sessionCookie)
		c.cfg.Recorder.Unauthenticated(r.RemoteAddr, route(r), fmt.Sprintf("session cookie of %s's login from %s used from another address; the session was ended", sess.User, cs.host))
		return nil, movedCookie
	case c.sessions.touch(cs, now, activity):
		c.endSession(r, token)
		clearCookie(w, sessionCookie)
		return nil, idleTime
	}
	return &request{w: w, r: r, sess: sess, token: token, cs: cs, csrf: c.sessions.mac("csrf", token), remote: r.RemoteAddr}, ""
}

// endSession logs a session out (auth records the logout).
func (c *Console) endSession(r *http.Request, token string) {
	c.sessions.drop(token)
	if err := c.cfg.Accounts.Logout(r.Context(), token); err != nil && !errors.Is(err, auth.ErrInvalidSession) {
		c.log.Warn("console logout failed", zap.Error(err))
	}
}

// route names a request's route for the audit records ("POST
// /accounts/{name}/{action}"), without the caller's own text.
func route(r *http.Request) string {
	if r.Pattern != "" {
		return r.Pattern
	}
	return r.Method + " (unrouted)"
}

// toLogin sends the browser to the login page with the reason's message.
func toLogin(w http.ResponseWriter, r *http.Request, why noSession) {
	target := "/login"
	if why != noCookie {
		target += "?why=" + string(why)
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// viewFunc renders a page of an authenticated request.
type viewFunc func(rq *request) error

// view serves a page: a session (else the login page), a password change
// first when the account must change it, the permission, then the page.
func (c *Console) view(path string, perm auth.Permission, h viewFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		rq, why := c.authenticate(w, r, true)
		if rq == nil {
			toLogin(w, r, why)
			return
		}
		if rq.sess.MustChangePassword && path != "/account/password" {
			http.Redirect(w, r, "/account/password", http.StatusSeeOther)
			return
		}
		if perm != "" && !rq.sess.Can(perm) {
			c.refuse(rq, perm, auth.ErrForbidden)
			return
		}
		if err := h(rq); err != nil {
			c.fail(rq, err)
		}
	}
}

// live serves a page's own refresh: no activity, 401 without a session
// (the page's script then reloads it, which leads to the login page).
func (c *Console) live(perm auth.Permission, h viewFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		rq, _ := c.authenticate(w, r, false)
		if rq == nil || rq.sess.MustChangePassword || (perm != "" && !rq.sess.Can(perm)) {
			http.Error(w, "sign in again", http.StatusUnauthorized)
			return
		}
		if err := h(rq); err != nil {
			c.log.Warn("console refresh failed", zap.String("path", r.URL.Path), zap.Error(err))
			http.Error(w, "the gateway could not answer; the page retries", http.StatusServiceUnavailable)
		}
	}
}

// act serves a form: its size and syntax, a session (else the login
// page; reported to the Recorder), the form's CSRF token and the
// request's origin, the permission (refusals recorded as the API records
// them), then the action.
func (c *Console) act(perm auth.Permission, h viewFunc) http.HandlerFunc {
	return c.form(perm, true, h)
}

// actAccounts serves an account administration form like act, but leaves
// the role check to the accounts, which refuse and record it as they do
// for the API (category account).
func (c *Console) actAccounts(h viewFunc) http.HandlerFunc {
	return c.form(auth.PermManageUsers, false, h)
}

// form is act; check says whether it checks perm itself (perm names the
// action in the records of refused forms either way).
func (c *Console) form(perm auth.Permission, check bool, h viewFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxForm)
		if err := r.ParseForm(); err != nil {
			badForm(w, err)
			return
		}
		rq, why := c.authenticate(w, r, true)
		if rq == nil {
			if why == noCookie {
				c.cfg.Recorder.Unauthenticated(r.RemoteAddr, route(r), "no session cookie")
			}
			toLogin(w, r, why)
			return
		}
		if !validToken(r.PostForm.Get("csrf"), rq.csrf) || !sameOrigin(r) {
			c.refuse(rq, perm, errCSRF)
			return
		}
		if check && perm != "" && !rq.sess.Can(perm) {
			c.refuse(rq, perm, auth.ErrForbidden)
			return
		}
		if err := h(rq); err != nil {
			c.fail(rq, err)
		}
	}
}

// errCSRF is a form without the session's CSRF token, or from another
// origin.
var errCSRF = errors.New("the form was not sent from this console's own page (missing or wrong form token, or another origin): reload the page and try again")

// sameOrigin: a browser's Origin header, when it sends one, names this
// console ("null", which browsers send from sandboxed or opaque origins,
// does not).
func sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	return o == "" || o == "https://"+r.Host
}

// badForm answers a form the console cannot read.
func badForm(w http.ResponseWriter, err error) {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		http.Error(w, fmt.Sprintf("the form is larger than %d bytes", maxForm), http.StatusRequestEntityTooLarge)
		return
	}
	http.Error(w, "the form cannot be read: "+err.Error(), http.StatusBadRequest)
}

// refuse answers 403 and records the refusal as the API does: the user,
// the permission as the action, the path, the role and the client.
func (c *Console) refuse(rq *request, perm auth.Permission, why error) {
	action := audit.Action(perm)
	if perm == "" {
		action = audit.Action(strings.TrimPrefix(rq.r.URL.Path, "/"))
	}
	details := map[string]string{audit.DetailRole: rq.sess.Role.String(), audit.DetailRemote: rq.remote}
	msg := why.Error()
	if errors.Is(why, auth.ErrForbidden) {
		msg = fmt.Sprintf("%s: %s needs a role that may %s; %s is %s", auth.ErrForbidden, rq.r.URL.Path, perm, rq.sess.User, rq.sess.Role)
	} else {
		details[audit.DetailReason] = "missing or wrong form token, or another origin"
	}
	c.cfg.Recorder.Refused(audit.Record{Actor: rq.sess.User, Category: audit.CategoryConfig, Action: action, Object: rq.r.URL.Path,
		Result: audit.ResultDenied, Details: details})
	c.errorPage(rq, http.StatusForbidden, msg)
}
