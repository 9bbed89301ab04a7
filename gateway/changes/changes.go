// Package changes runs the change transactions of a gateway on its running
// configuration: the fail-close ruleset at start, the boot of the running
// model, push (with a confirm deadline after which the change undoes
// itself), confirm, rollback (by hand and at the deadline), island mode,
// the model file's reload, the history of model versions, and drift
// repair. Every change is recorded in the audit log, and one that cannot
// be recorded is refused.
//
// The package knows nothing of how requests arrive (API, console, SIGHUP)
// or how the kernel is reached: it depends only on the small interfaces
// below, which the daemon fills with package firewall's kernel (through
// gateway/kernel), the version store, the audit log, the inspecting
// proxies and a clock. Tests drive it with in-memory fakes, without root.
package changes

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/zonegate/zonegate/gateway/audit"
	"github.com/zonegate/zonegate/gateway/internal/clock"
	"github.com/zonegate/zonegate/gateway/versions"
	"github.com/zonegate/zonegate/gateway/zone"
)

// Kernel is table inet zonegate as the transactions need it.
type Kernel interface {
	// Apply installs the ruleset of m, in island mode or not (m nil: the
	// lockdown ruleset, which forwards nothing), in one transaction, reads
	// it back and says what it verified; Changed is false when the kernel
	// already held it.
	Apply(m *zone.Model, island bool) (Applied, error)
	// Current reads the table back; nil when it does not exist.
	Current() (Fingerprint, error)
	// Generation is the ruleset generation, which moves with every
	// committed transaction on any table.
	Generation() (uint32, error)
	// Counters reads the named counters of the table.
	Counters() ([]Counter, error)
	// FlushDisallowed removes the tracked connections between zones that
	// m (in island mode or not) does not allow and returns how many.
	FlushDisallowed(m *zone.Model, island bool) (uint, error)
}

// Applied is what an Apply verified.
type Applied struct {
	Changed bool
	// Fingerprint is the table the apply installs: after a successful
	// apply, what the kernel holds; after a failed one, what it meant to
	// install (nil when unknown).
	Fingerprint Fingerprint
	// Generation is the ruleset generation the table was verified at;
	// GenerationErr says why it is unknown.
	Generation    uint32
	GenerationErr error
}

// Fingerprint describes a table as the kernel side normalises it: what an
// apply installed or what a read found. The transactions only compare
// them and describe their differences.
type Fingerprint interface {
	// Equal reports whether actual describes the same ruleset.
	Equal(actual Fingerprint) bool
	// Summary says in a few words which objects of actual (nil: no table)
	// differ from this expected table.
	Summary(actual Fingerprint) string
	// Diff lists up to max differing lines.
	Diff(actual Fingerprint, max int) string
}

// Counter is one named counter of the table.
type Counter struct {
	Name    string
	Packets uint64
	Bytes   uint64
}

// Store keeps the model versions and the state that survives a restart;
// *versions.Store implements it. Its user serialises the calls.
type Store interface {
	LoadState() (versions.State, error)
	SaveState(versions.State) error
	Add(model []byte, v zone.ModelVersion) (zone.ModelVersion, error)
	SetState(version int, state string) error
	Meta(version int) (zone.ModelVersion, error)
	Model(version int) ([]byte, error)
	ModelPath(version int) string
	Versions() ([]zone.ModelVersion, error)
	Prune(inUse ...int) error
	SetKeep(keep int)
}

// Recorder writes the transactions' audit records; *audit.Recorder
// implements it.
type Recorder interface {
	// Record writes a record durably; the change is refused when it fails.
	Record(ctx context.Context, r audit.Record) error
	// RecordBestEffort writes a record of something that happens anyway.
	RecordBestEffort(r audit.Record)
	// Writable refuses a change early when its record could not be
	// written anyway.
	Writable() error
}

// Installer is a part of the gateway that follows the applied model
// besides the ruleset, such as the policies of the inspecting proxies
// (*inspection.Proxies).
type Installer interface {
	// Prepare readies what m needs without changing anything, so that a
	// model it cannot take fails before the ruleset changes; install puts
	// it in place once the ruleset of m (in island mode or not) is
	// applied.
	Prepare(m *zone.Model) (install func(island bool), err error)
}

// Cutter is implemented by an Installer that holds connections of its own
// (the inspecting proxies: a client's connection is redirected to them,
// so the client knows it by the device's address). Cut ends those the
// ruleset of m (in island mode or not) no longer allows, and stops taking
// new ones m does not route, before that ruleset is applied and the
// tracked connections it no longer allows are flushed: the resets still
// leave through the old NAT state, with the addresses the clients know,
// instead of hanging the clients until their own timeouts.
type Cutter interface {
	Cut(m *zone.Model, island bool)
}

// Logger receives the transactions' log messages as a message and
// alternating keys and values; *zap.SugaredLogger implements it.
type Logger interface {
	Infow(msg string, keysAndValues ...any)
	Warnw(msg string, keysAndValues ...any)
	Errorw(msg string, keysAndValues ...any)
}

// Config is what the transactions work with.
type Config struct {
	Kernel   Kernel
	Store    Store
	Recorder Recorder
	// Installers follow every apply of a model, in this order.
	Installers []Installer
	// Clock gives the time of versions and the confirm deadline and ticks
	// the drift watcher.
	Clock clock.Clock
	Log   Logger
	// ModelFile is the settings' model file, applied at the first start
	// and re-read on SIGHUP; "" when models are only pushed.
	ModelFile string
}

// Actor is who asks for a change, as its audit records name them.
type Actor struct {
	// User is the account, or "zonegate" and "local:SIGHUP" for the
	// daemon itself: the records' actor.
	User string
	// Peer is where the request came from, such as a console's client
	// address; when set, the records carry it as their "remote" detail.
	Peer string
}

// The daemon's own actors.
var (
	daemonActor = Actor{User: "zonegate"}
	sighupActor = Actor{User: "local:SIGHUP"}
)

// Errors of change requests; front ends map them to their answers (the
// API to HTTP statuses).
var (
	// ErrPending: a pushed model waits for confirmation; confirm or roll
	// it back first.
	ErrPending = errors.New("a pushed model is waiting for confirmation: run `zonegate confirm` or `zonegate rollback` first")
	// ErrNothingPending: there is nothing to confirm.
	ErrNothingPending = errors.New("nothing to confirm: no pushed model is waiting")
	// ErrNoPrevious: there is no earlier model to go back to.
	ErrNoPrevious = errors.New("there is no earlier model to roll back to (see `zonegate history`)")
	// ErrNoModel: no model version runs (island mode).
	ErrNoModel = errors.New("no model version runs (island mode): push one with `zonegate push FILE`")
)

// ModelError is a rejected model with its FILE:LINE:COLUMN problems.
type ModelError struct{ Diagnostics zone.Diagnostics }

func (e *ModelError) Error() string {
	return fmt.Sprintf("the model has %d error(s); nothing was changed:\n%s", len(e.Diagnostics), e.Diagnostics.Error())
}

// HistoryError says that a change took effect but the model version
// history could not be updated to show it: `zonegate history` shows a
// wrong state for the version until it is fixed.
type HistoryError struct {
	Version int
	State   string // the state the version should have
	Err     error
}

func (e *HistoryError) Error() string {
	return fmt.Sprintf("the change took effect, but the version history could not record model version %d as %s (check that the state directory is writable and not full): %v", e.Version, e.State, e.Err)
}

func (e *HistoryError) Unwrap() error { return e.Err }

// Transactions runs the change transactions on the running configuration.
// Its methods are safe for concurrent use; changes run one at a time.
type Transactions struct {
	kernel     Kernel
	store      Store
	rec        Recorder
	installers []Installer
	clock      clock.Clock
	log        Logger
	modelFile  string

	// mu serialises changes to the running configuration.
	mu        sync.Mutex
	state     versions.State
	running   *zone.Model // nil while no model could be applied
	islandWhy string      // why the gateway is in island mode without being asked to
	expected  Fingerprint // what drift repair defends
	fallback  *zone.Model // island mode of it is what drift repair restores while no model runs; nil: lockdown
	timer     clock.Timer // pending confirm deadline
	drift     driftState
}

// New reads the state from the store; FailClose, then Boot, bring the
// model up.
func New(cfg Config) (*Transactions, error) {
	if cfg.Clock == nil {
		cfg.Clock = clock.Real()
	}
	if cfg.Log == nil {
		cfg.Log = nopLogger{}
	}
	state, err := cfg.Store.LoadState()
	if err != nil {
		return nil, err
	}
	return &Transactions{kernel: cfg.Kernel, store: cfg.Store, rec: cfg.Recorder, installers: cfg.Installers,
		clock: cfg.Clock, log: cfg.Log, modelFile: cfg.ModelFile, state: state}, nil
}

type nopLogger struct{}

func (nopLogger) Infow(string, ...any)  {}
func (nopLogger) Warnw(string, ...any)  {}
func (nopLogger) Errorw(string, ...any) {}

// SetKeep changes how many model versions stay on disk.
func (c *Transactions) SetKeep(keep int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.store.SetKeep(keep)
}

func (c *Transactions) now() time.Time { return c.clock.Now() }
