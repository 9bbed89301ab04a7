package auth

import (
	"sync"
	"time"
)

// maxUnknownNames bounds the failed-login state kept for user names that
// have no account.
const maxUnknownNames = 4096

// unknownNames counts failed logins of valid user names that have no
// account, so that such a name locks exactly like an account: after
// Policy.LockoutThreshold failures within Policy.LockoutWindow, Login
// answers with the same *LockedError (same message, same end time) that a
// locked account gets. Without this, "account locked" after five attempts
// would tell an attacker which names exist.
//
// The state lives in memory only (an account's lock survives a restart,
// a name without an account starts afresh); at most maxUnknownNames names
// are kept, expired entries first to go.
type unknownNames struct {
	mu    sync.Mutex
	names map[string]*unknownName
}

type unknownName struct {
	failures []time.Time
	locked   bool
	until    time.Time // zero: until an administrator unlocks (never, for a name without an account)
}

func (u *unknownName) lockedAt(now time.Time) bool {
	return u.locked && (u.until.IsZero() || now.Before(u.until))
}

// locked returns the lock error for name if it is locked.
func (n *unknownNames) locked(name string, now time.Time) *LockedError {
	n.mu.Lock()
	defer n.mu.Unlock()
	if g := n.names[name]; g != nil && g.lockedAt(now) {
		return &LockedError{User: name, Until: g.until}
	}
	return nil
}

// failed counts a failed login of name under policy p, locking the name
// when the threshold is reached (as loginFailed does for accounts).
func (n *unknownNames) failed(name string, now time.Time, p *Policy) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.names == nil {
		n.names = map[string]*unknownName{}
	}
	g := n.names[name]
	if g == nil {
		n.makeRoom(now, p)
		g = &unknownName{}
		n.names[name] = g
	}
	if g.lockedAt(now) {
		return
	}
	g.locked = false
	kept := g.failures[:0]
	for _, f := range g.failures {
		if now.Sub(f) < p.LockoutWindow {
			kept = append(kept, f)
		}
	}
	g.failures = append(kept, now)
	if len(g.failures) >= p.LockoutThreshold {
		g.failures, g.locked, g.until = nil, true, time.Time{}
		if !p.LockoutUntilUnlocked {
			g.until = now.Add(p.LockoutDuration)
		}
	}
}

// makeRoom drops expired entries, or any entry, when the map is full.
func (n *unknownNames) makeRoom(now time.Time, p *Policy) {
	if len(n.names) < maxUnknownNames {
		return
	}
	for k, g := range n.names {
		if !g.lockedAt(now) && (len(g.failures) == 0 || now.Sub(g.failures[len(g.failures)-1]) >= p.LockoutWindow) {
			delete(n.names, k)
		}
	}
	for k := range n.names {
		if len(n.names) < maxUnknownNames {
			break
		}
		delete(n.names, k)
	}
}
