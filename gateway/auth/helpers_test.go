package auth

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Small assertion helpers of the older tests; new tests use testify.

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
}

func wantErr(t *testing.T, err, target error, what ...any) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%v: got error %v, want %v", what, err, target)
	}
}

func eq[T comparable](t *testing.T, got, want T, what ...any) {
	t.Helper()
	if got != want {
		t.Fatalf("%v: got %v, want %v", what, got, want)
	}
}

func check(t *testing.T, ok bool, format string, a ...any) {
	t.Helper()
	if !ok {
		t.Fatalf(format, a...)
	}
}

// Passwords that satisfy the default policy.
const (
	pwAdmin  = "violet harbor lantern 42"
	pwAlice  = "copper-meadow-quietly-7"
	pwAlice2 = "seventeen orange kettles"
	pwBob    = "granite Puzzle Riverbank"
)

// fastParams keep argon2 cheap in tests (64 KiB, one pass).
var fastParams = Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

func fastPolicy() Policy {
	p := DefaultPolicy()
	p.Argon2 = fastParams
	return p
}

// fakeClock is an injectable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock {
	return &fakeClock{t: time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// recSink records events and fails when told to.
type recSink struct {
	mu     sync.Mutex
	events []Event
	// fail, when it returns true for an event, makes AccountEvent fail
	// (the event is not recorded).
	fail func(Event) bool
}

func (s *recSink) AccountEvent(_ context.Context, ev Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil && s.fail(ev) {
		return errors.New("disk full (test sink)")
	}
	s.events = append(s.events, ev)
	return nil
}

func (s *recSink) setFail(f func(Event) bool) {
	s.mu.Lock()
	s.fail = f
	s.mu.Unlock()
}

func (s *recSink) all() []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Event(nil), s.events...)
}

func (s *recSink) reset() {
	s.mu.Lock()
	s.events = nil
	s.mu.Unlock()
}

// find returns the events with action a.
func (s *recSink) find(a Action) []Event {
	var out []Event
	for _, ev := range s.all() {
		if ev.Action == a {
			out = append(out, ev)
		}
	}
	return out
}

type env struct {
	t     *testing.T
	m     *Manager
	sink  *recSink
	clock *fakeClock
	path  string
	ctx   context.Context
	admin Actor
}

// newEnv opens a Manager on a new directory with an initialized admin
// "root_admin" unless init is false.
func newEnv(t *testing.T, init bool, tweak ...func(*Policy)) *env {
	t.Helper()
	p := fastPolicy()
	for _, f := range tweak {
		f(&p)
	}
	e := &env{t: t, sink: &recSink{}, clock: newClock(), ctx: context.Background(),
		path: filepath.Join(t.TempDir(), "state", "accounts.json")}
	e.admin = Actor{Name: "root_admin", Role: RoleAdmin}
	e.m = e.open(p)
	if init {
		must(t, e.m.Init(e.ctx, "root_admin", pwAdmin))
		e.sink.reset()
	}
	return e
}

func (e *env) open(p Policy) *Manager {
	e.t.Helper()
	m, err := Open(Options{Path: e.path, Sink: e.sink, Policy: p, Now: e.clock.Now})
	must(e.t, err)
	return m
}

// reopen opens a second Manager on the same file, as after a restart.
func (e *env) reopen() *Manager {
	e.t.Helper()
	return e.open(e.m.policy)
}

func (e *env) fileBytes() []byte {
	e.t.Helper()
	b, err := os.ReadFile(e.path)
	must(e.t, err)
	return b
}

func (e *env) addUser(name string, role Role, pw string) {
	e.t.Helper()
	must(e.t, e.m.AddUser(e.ctx, e.admin, name, role, pw, false))
}

func (e *env) login(name, pw string) (string, error) {
	tok, _, err := e.m.Login(e.ctx, name, pw, "uid=1000")
	return tok, err
}

func (e *env) mustLogin(name, pw string) string {
	e.t.Helper()
	tok, err := e.login(name, pw)
	must(e.t, err)
	return tok
}

// countingDerive wraps the hasher's derivation to count calls and the
// highest number running at once.
type countingDerive struct {
	calls, running, peak atomic.Int64
}

func (c *countingDerive) install(h *hasher) {
	inner := h.derive
	h.derive = func(password, salt []byte, p Params) []byte {
		c.calls.Add(1)
		n := c.running.Add(1)
		for {
			old := c.peak.Load()
			if n <= old || c.peak.CompareAndSwap(old, n) {
				break
			}
		}
		defer c.running.Add(-1)
		return inner(password, salt, p)
	}
}
