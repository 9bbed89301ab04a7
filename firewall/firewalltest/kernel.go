// Package firewalltest is an in-memory stand-in for the kernel side of
// package firewall, for tests of code that applies rulesets (the daemon)
// without root or netlink: it keeps table inet zonegate as a fingerprint,
// counts the ruleset generation, records every apply, can be told to fail,
// and can change its table behind the caller's back to simulate drift.
package firewalltest

import (
	"errors"
	"sync"

	"github.com/zonegate/zonegate/firewall"
	"github.com/zonegate/zonegate/gateway/zone"
)

// ErrInjected is the error a Kernel returns when it was told to fail
// with a nil error.
var ErrInjected = errors.New("firewalltest: injected failure")

// Kernel is a fake kernel holding table inet zonegate. The zero value is
// not usable; use NewKernel. It is safe for concurrent use.
type Kernel struct {
	mu         sync.Mutex
	table      firewall.Fingerprint // nil: no table
	gen        uint32
	applied    []*firewall.Ruleset
	flushes    int
	counters   []firewall.CounterValue
	applyErrs  []error // consumed one per Apply; a nil entry succeeds
	failApply  error   // every Apply fails while set
	failGen    error
	failRead   error
	failFlush  error
	flushCount uint
}

// NewKernel returns a kernel without table inet zonegate, at generation 1.
func NewKernel() *Kernel { return &Kernel{gen: 1} }

// Apply installs rs like firewall.Kernel.Apply: nothing changes when the
// table already holds rs; otherwise the table is replaced and the
// generation moves. The Result carries the fingerprint of rs and the
// generation after the apply (GenerationErr while FailGeneration is in
// force). Injected failures leave the table as it was.
func (k *Kernel) Apply(rs *firewall.Ruleset) (firewall.Result, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	res := firewall.Result{Sets: len(rs.Sets), Fingerprint: firewall.Expected(rs)}
	for _, ch := range rs.Chains {
		res.Rules += len(ch.Rules)
	}
	if len(k.applyErrs) > 0 {
		err := k.applyErrs[0]
		k.applyErrs = k.applyErrs[1:]
		if err != nil {
			return res, err
		}
	}
	if k.failApply != nil {
		return res, k.failApply
	}
	k.applied = append(k.applied, rs)
	if k.table == nil || !k.table.Equal(res.Fingerprint) {
		k.table = res.Fingerprint
		k.gen++
		res.Changed = true
	}
	if k.failGen != nil {
		res.GenerationErr = k.failGen
	} else {
		res.Generation = k.gen
	}
	return res, nil
}

// Current returns the table's fingerprint; nil when there is none.
func (k *Kernel) Current() (firewall.Fingerprint, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.failRead != nil {
		return nil, k.failRead
	}
	return append(firewall.Fingerprint(nil), k.table...), nil
}

// Generation returns the ruleset generation.
func (k *Kernel) Generation() (uint32, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.failGen != nil {
		return 0, k.failGen
	}
	return k.gen, nil
}

// Counters returns the counters set with SetCounters.
func (k *Kernel) Counters() ([]firewall.CounterValue, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.failRead != nil {
		return nil, k.failRead
	}
	return append([]firewall.CounterValue(nil), k.counters...), nil
}

// FlushDisallowed counts the call and returns the count set with
// SetFlushed.
func (k *Kernel) FlushDisallowed(m *zone.Model, opt firewall.Options) (uint, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.flushes++
	if k.failFlush != nil {
		return 0, k.failFlush
	}
	return k.flushCount, nil
}

func orInjected(err error) error {
	if err == nil {
		return ErrInjected
	}
	return err
}

// FailApply makes every Apply fail with err (ErrInjected when nil) until
// Heal is called.
func (k *Kernel) FailApply(err error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.failApply = orInjected(err)
}

// FailApplies queues the results of the next applies: a nil entry
// succeeds, a non-nil one fails with that error.
func (k *Kernel) FailApplies(errs ...error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.applyErrs = append(k.applyErrs, errs...)
}

// FailGeneration makes Generation fail with err (ErrInjected when nil)
// until Heal is called.
func (k *Kernel) FailGeneration(err error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.failGen = orInjected(err)
}

// FailRead makes Current and Counters fail with err (ErrInjected when
// nil) until Heal is called.
func (k *Kernel) FailRead(err error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.failRead = orInjected(err)
}

// FailFlush makes FlushDisallowed fail with err (ErrInjected when nil)
// until Heal is called.
func (k *Kernel) FailFlush(err error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.failFlush = orInjected(err)
}

// Heal ends every injected failure.
func (k *Kernel) Heal() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.applyErrs, k.failApply, k.failGen, k.failRead, k.failFlush = nil, nil, nil, nil, nil
}

// Tamper replaces the table with fp (nil: deletes it) and moves the
// generation, like `nft` run by hand.
func (k *Kernel) Tamper(fp firewall.Fingerprint) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.table = append(firewall.Fingerprint(nil), fp...)
	if fp == nil {
		k.table = nil
	}
	k.gen++
}

// TouchOtherTable moves the generation without changing table inet
// zonegate, like a change to another program's table.
func (k *Kernel) TouchOtherTable() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.gen++
}

// SetCounters sets what Counters returns.
func (k *Kernel) SetCounters(cs []firewall.CounterValue) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.counters = append([]firewall.CounterValue(nil), cs...)
}

// SetFlushed sets how many connections FlushDisallowed reports removed.
func (k *Kernel) SetFlushed(n uint) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.flushCount = n
}

// Applied returns the rulesets applied successfully, oldest first
// (including those that changed nothing).
func (k *Kernel) Applied() []*firewall.Ruleset {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]*firewall.Ruleset(nil), k.applied...)
}

// Flushes returns how often FlushDisallowed was called.
func (k *Kernel) Flushes() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.flushes
}

// Holds reports whether the table is exactly what applying rs installs.
func (k *Kernel) Holds(rs *firewall.Ruleset) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.table != nil && k.table.Equal(firewall.Expected(rs))
}
