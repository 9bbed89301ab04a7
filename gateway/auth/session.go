package auth

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"time"
)

// tokenPrefix marks zonegate session tokens, so that secret scanners and
// people recognise one in a log or a paste.
const tokenPrefix = "zgs1_"

// tokenKey is the SHA-256 of a token's 32 random bytes: the only form in
// which a token is kept.
type tokenKey [32]byte

// session is a live session. It is bound to the account's ID and epoch:
// deleting the user, disabling it or changing its password ends it.
type session struct {
	user     string
	id       string
	epoch    uint64
	client   string
	issued   time.Time
	expires  time.Time
	lastUsed time.Time
}

// Session is an authenticated management session, as returned by
// Authenticate. Role and MustChangePassword are the user's current ones.
type Session struct {
	User string
	Role Role
	// MustChangePassword: until the password is changed, the session may
	// do nothing but ChangePassword (Can returns false for everything
	// else).
	MustChangePassword bool
	// Client is what was given to Login.
	Client  string
	Issued  time.Time
	Expires time.Time
}

// Actor returns the session's user as the actor of a change.
func (s Session) Actor() Actor {
	return Actor{Name: s.User, Role: s.Role, MustChangePassword: s.MustChangePassword}
}

// Can reports whether the session may use permission p.
func (s Session) Can(p Permission) bool { return s.Actor().authorize(p) == nil }

func newToken() (string, tokenKey) {
	raw := randomBytes(32)
	return tokenPrefix + base64.RawURLEncoding.EncodeToString(raw), sha256.Sum256(raw)
}

func parseToken(token string) (tokenKey, bool) {
	s, ok := strings.CutPrefix(token, tokenPrefix)
	if !ok || len(s) != base64.RawURLEncoding.EncodedLen(32) {
		return tokenKey{}, false
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil || len(raw) != 32 {
		return tokenKey{}, false
	}
	return sha256.Sum256(raw), true
}

// newSession starts a session for a and returns its token and expiry. It
// drops expired sessions and, beyond Policy.MaxSessionsPerUser, the user's
// oldest one.
func (m *Manager) newSession(a *account, client string, now time.Time) (string, time.Time) {
	token, key := newToken()
	s := &session{user: a.Name, id: a.ID, epoch: a.Epoch, client: client,
		issued: now, expires: now.Add(m.policy.SessionLifetime), lastUsed: now}
	m.sessMu.Lock()
	defer m.sessMu.Unlock()
	var oldestKey tokenKey
	var oldest *session
	count := 0
	for k, o := range m.sessions {
		if m.expired(o, now) {
			delete(m.sessions, k)
			continue
		}
		if o.user == a.Name {
			count++
			if oldest == nil || o.issued.Before(oldest.issued) {
				oldest, oldestKey = o, k
			}
		}
	}
	if count >= m.policy.MaxSessionsPerUser && oldest != nil {
		delete(m.sessions, oldestKey)
	}
	m.sessions[key] = s
	return token, s.expires
}

func (m *Manager) expired(s *session, now time.Time) bool {
	if !now.Before(s.expires) {
		return true
	}
	return m.policy.SessionIdle > 0 && now.Sub(s.lastUsed) >= m.policy.SessionIdle
}

// Authenticate returns the session of token. It fails with
// ErrInvalidSession if the token is malformed or unknown, the session has
// expired (lifetime or idle time), the user was deleted or disabled, or
// the user's password changed after the login. Each successful call
// counts as activity for the idle limit.
func (m *Manager) Authenticate(token string) (Session, error) {
	key, ok := parseToken(token)
	if !ok {
		return Session{}, ErrInvalidSession
	}
	now := m.now()
	m.sessMu.Lock()
	s := m.sessions[key]
	if s == nil || m.expired(s, now) {
		delete(m.sessions, key)
		m.sessMu.Unlock()
		return Session{}, ErrInvalidSession
	}
	sc := *s
	m.sessMu.Unlock()

	a := m.lookup(sc.user)
	if a == nil || a.ID != sc.id || a.Epoch != sc.epoch || a.Disabled {
		m.sessMu.Lock()
		delete(m.sessions, key)
		m.sessMu.Unlock()
		return Session{}, ErrInvalidSession
	}
	m.sessMu.Lock()
	if s := m.sessions[key]; s != nil && now.After(s.lastUsed) {
		s.lastUsed = now
	}
	m.sessMu.Unlock()
	return Session{User: a.Name, Role: a.Role, MustChangePassword: a.MustChange,
		Client: sc.client, Issued: sc.issued, Expires: sc.expires}, nil
}

// Logout ends the session of token and sends a logout event (whose failure
// does not keep the session alive). It fails with ErrInvalidSession for a
// token that has no session.
func (m *Manager) Logout(ctx context.Context, token string) error {
	key, ok := parseToken(token)
	if !ok {
		return ErrInvalidSession
	}
	m.sessMu.Lock()
	s := m.sessions[key]
	delete(m.sessions, key)
	m.sessMu.Unlock()
	if s == nil {
		return ErrInvalidSession
	}
	ev := m.newEvent(s.user, ActionLogout, s.user, ResultSuccess)
	ev.Detail[DetailRemote] = s.client
	_ = m.emit(ctx, ev)
	return nil
}

// endSessions ends all sessions of user.
func (m *Manager) endSessions(user string) {
	m.sessMu.Lock()
	defer m.sessMu.Unlock()
	for k, s := range m.sessions {
		if s.user == user {
			delete(m.sessions, k)
		}
	}
}

// SessionCount returns the number of live sessions (for status pages and
// metrics).
func (m *Manager) SessionCount() int {
	now := m.now()
	m.sessMu.Lock()
	defer m.sessMu.Unlock()
	n := 0
	for _, s := range m.sessions {
		if !m.expired(s, now) {
			n++
		}
	}
	return n
}
