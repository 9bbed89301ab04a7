package changes

import (
	"fmt"
	"time"

	"github.com/zonegate/zonegate/gateway/zone"
)

// PushResult says what a push did.
type PushResult struct {
	Version   int
	Digest    string
	Unchanged bool     // the model runs already: nothing was changed
	Diff      []string // what changed, one line each (zones, assets, conduits, rules)
	Deadline  time.Time
	Warnings  []string // lint warnings, and what could not be recorded
}

// Status is the running configuration as front ends show it.
type Status struct {
	Gateway string // the running model's gateway name; "" while none runs
	Version int    // the running version; 0 while none runs
	Digest  string
	Pending *zone.Pending // the change waiting for confirmation, if any
	// Island is true in island mode, asked for or not; IslandReason
	// says why.
	Island       bool
	IslandReason string
	Drift        DriftStats
}

// DriftStats describes the drift watcher.
type DriftStats struct {
	Checks   uint64
	Detected uint64
	Last     time.Time // of the last drift detected
}

// Status reports the running configuration.
func (c *Transactions) Status() Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := Status{Version: c.state.Current, Island: c.state.Island || c.islandWhy != "", IslandReason: c.islandWhy,
		Drift: DriftStats{Checks: c.drift.checks, Detected: c.drift.detected, Last: c.drift.last}}
	if p := c.state.Pending; p != nil {
		pending := *p
		st.Pending = &pending
	}
	if c.running != nil {
		st.Gateway, st.Digest = c.running.Gateway.Name, c.running.Digest()
	}
	if c.state.Island && st.IslandReason == "" {
		st.IslandReason = "turned on with `zonegate island on`"
	}
	return st
}

// RunningModel is the running model version with its text as pushed.
type RunningModel struct {
	Version int
	Digest  string
	Text    []byte
}

// RunningModel returns the running model version; ErrNoModel while none
// runs.
func (c *Transactions) RunningModel() (RunningModel, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state.Current == 0 || c.running == nil {
		return RunningModel{}, ErrNoModel
	}
	text, err := c.store.Model(c.state.Current)
	if err != nil {
		return RunningModel{}, fmt.Errorf("read model version %d from the state directory: %w", c.state.Current, err)
	}
	return RunningModel{Version: c.state.Current, Digest: c.running.Digest(), Text: text}, nil
}

// Running returns the running model; nil while none runs.
func (c *Transactions) Running() *zone.Model {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.running
}

// Counters reads the named counters of the ruleset.
func (c *Transactions) Counters() ([]Counter, error) { return c.kernel.Counters() }

// VersionText returns the text of a kept model version as it was pushed
// or imported (the history's diff between two versions reads two).
func (c *Transactions) VersionText(version int) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.store.Model(version)
}

// History lists the kept model versions, oldest first.
func (c *Transactions) History() ([]zone.ModelVersion, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.store.Versions()
}
