package auth

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Options configure a Manager.
type Options struct {
	// Path of the account file, for example
	// /var/lib/zonegate/accounts.json. Its directory is created (mode 0700)
	// at the first save.
	Path string
	// Sink receives every account event (required): the audit log.
	Sink EventSink
	// Policy; zero fields take their defaults (see DefaultPolicy).
	Policy Policy
	// Now is the clock (default time.Now). Tests inject their own.
	Now func() time.Time
}

// Manager holds the accounts and sessions. It is safe for concurrent use.
//
// Changes are serialized: each one is checked against the current
// accounts, sent to the sink, saved and only then made visible. Password
// hashing runs before that, without any lock held. Authenticate and the
// reading methods are never blocked by hashing, the sink or disk writes.
type Manager struct {
	path   string
	sink   EventSink
	policy Policy
	now    func() time.Time
	hasher *hasher

	// changeMu serializes changes: check, sink, save, publish.
	changeMu sync.Mutex
	// mu guards accts, which is replaced as a whole and never modified.
	mu    sync.RWMutex
	accts accounts

	sessMu   sync.Mutex
	sessions map[tokenKey]*session

	// unknown locks user names without an account like accounts.
	unknown unknownNames

	// beforeRename is passed to writeFileAtomic (tests simulate crashes).
	beforeRename func(tmp string) error
}

// Open loads the account file at opts.Path (a missing file means no
// accounts yet: call Init) and returns a Manager. A corrupt file or one
// readable by others is an error; Open never replaces it.
func Open(opts Options) (*Manager, error) {
	if opts.Path == "" {
		return nil, errors.New("auth: no account file path given")
	}
	if opts.Sink == nil {
		return nil, errors.New("auth: no event sink given: account events must go to the audit log")
	}
	p := opts.Policy.withDefaults()
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	as, err := loadAccounts(opts.Path)
	if err != nil {
		return nil, err
	}
	removeStaleTemps(opts.Path)
	return &Manager{
		path:     opts.Path,
		sink:     opts.Sink,
		policy:   p,
		now:      opts.Now,
		hasher:   newHasher(p.Argon2, p.MaxConcurrentHashes, p.HashWait),
		accts:    as,
		sessions: map[tokenKey]*session{},
	}, nil
}

// Policy returns the policy in force, with defaults applied.
func (m *Manager) Policy() Policy { return m.policy }

// Initialized reports whether any account exists. When it does not, the
// daemon should tell the operator to run init on the local console.
func (m *Manager) Initialized() bool { return len(m.snapshot()) > 0 }

func (m *Manager) snapshot() accounts {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.accts
}

func (m *Manager) lookup(name string) *account { return m.snapshot()[name] }

// newEvent returns an event stamped with the Manager's clock.
func (m *Manager) newEvent(actor string, action Action, target string, result Result) Event {
	return Event{Time: m.now(), Actor: actor, Action: action, Target: target, Result: result, Detail: map[string]string{}}
}

// emit sends ev to the sink. For events whose failure changes nothing (the
// request is refused anyway) the error is ignored by the callers.
func (m *Manager) emit(ctx context.Context, ev Event) error {
	if remote := RemoteOf(ctx); remote != "" && ev.Detail[DetailRemote] == "" {
		if ev.Detail == nil {
			ev.Detail = map[string]string{}
		}
		ev.Detail[DetailRemote] = cutString(remote, maxClientLen)
	}
	if len(ev.Detail) == 0 {
		ev.Detail = nil
	}
	if err := m.sink.AccountEvent(ctx, ev); err != nil {
		return fmt.Errorf("%w: %v", ErrAudit, err)
	}
	return nil
}

// refuse records a refused request (best effort) and returns err.
func (m *Manager) refuse(ctx context.Context, actor string, action Action, target string, err error) error {
	res := ResultFailure
	if errors.Is(err, ErrForbidden) || errors.Is(err, ErrMustChangePassword) {
		res = ResultDenied
	}
	ev := m.newEvent(actor, action, target, res)
	ev.Detail[DetailReason] = err.Error()
	_ = m.emit(ctx, ev)
	return err
}

// errNoChange tells change that fn found nothing to do.
var errNoChange = errors.New("no change")

// change applies fn to a copy of the accounts and commits the result:
// under changeMu it runs fn, refuses changes that would leave no enabled
// administrator, sends ev to the sink (an error refuses the change), saves
// the file and publishes the new accounts. fn fills in ev and returns
// errNoChange when there is nothing to do (change returns nil), an error
// wrapping ErrUnchanged when there is nothing to do and the caller must be
// told so (change returns it, records nothing), or an error to refuse.
func (m *Manager) change(ctx context.Context, actor string, action Action, target string, fn func(next accounts, ev *Event) error) error {
	m.changeMu.Lock()
	defer m.changeMu.Unlock()
	cur := m.snapshot()
	next := cur.clone()
	ev := m.newEvent(actor, action, target, ResultSuccess)
	err := fn(next, &ev)
	if errors.Is(err, errNoChange) {
		return nil
	}
	if errors.Is(err, ErrUnchanged) {
		return err // nothing to do and nothing to record
	}
	if err == nil && cur.enabledAdmins() > 0 && next.enabledAdmins() == 0 {
		err = fmt.Errorf("%w (%s)", ErrLastAdmin, target)
	}
	if err != nil {
		return m.refuse(ctx, actor, action, target, err)
	}
	if err := m.emit(ctx, ev); err != nil {
		return err
	}
	if err := m.save(next); err != nil {
		fail := ev
		fail.Result = ResultFailure
		fail.Detail = map[string]string{DetailCommit: "failed", DetailReason: err.Error()}
		_ = m.emit(ctx, fail)
		return err
	}
	m.publish(next)
	return nil
}

func (m *Manager) publish(next accounts) {
	m.mu.Lock()
	m.accts = next
	m.mu.Unlock()
}

func (m *Manager) save(as accounts) error {
	data, err := encodeAccounts(as)
	if err != nil {
		return fmt.Errorf("%w: encoding: %v", ErrStorage, err)
	}
	if err := writeFileAtomic(m.path, data, m.beforeRename); err != nil {
		return fmt.Errorf("%w: saving %s: %v; the change was not made: check the file system (space, read-only mount), then retry", ErrStorage, m.path, err)
	}
	return nil
}
