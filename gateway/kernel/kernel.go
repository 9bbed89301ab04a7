// Package kernel is table inet zonegate as the change transactions
// (package changes) see it: a zone model compiled with the daemon's
// firewall options (proxy ports, NFLOG group; island mode per apply) and
// applied through package firewall's kernel, whose fingerprints and
// counters it hands on in the transactions' terms. Package firewall's
// netlink kernel and the in-memory one of firewalltest both fit under it.
package kernel

import (
	"github.com/zonegate/zonegate/firewall"
	"github.com/zonegate/zonegate/gateway/changes"
	"github.com/zonegate/zonegate/gateway/zone"
)

// Netlink is what a Table needs from the kernel: table inet zonegate and
// the connections through the gateway. *firewall.Kernel implements it
// over netlink; *firewalltest.Kernel in memory.
type Netlink interface {
	// Apply replaces table inet zonegate with rs in one transaction and
	// reads it back; Changed is false when the kernel already held rs.
	Apply(rs *firewall.Ruleset) (firewall.Result, error)
	// Current reads table inet zonegate back; nil when it does not exist.
	Current() (firewall.Fingerprint, error)
	// Generation is the ruleset generation, which moves with every
	// committed transaction on any table.
	Generation() (uint32, error)
	// Counters reads the named counters of table inet zonegate.
	Counters() ([]firewall.CounterValue, error)
	// FlushDisallowed removes the tracked connections between zones that
	// m (with opt) does not allow and returns how many.
	FlushDisallowed(m *zone.Model, opt firewall.Options) (uint, error)
}

var _ Netlink = (*firewall.Kernel)(nil)

// Table is table inet zonegate of one kernel, built with one set of
// firewall options. It implements changes.Kernel.
type Table struct {
	nl   Netlink
	opts firewall.Options
}

var _ changes.Kernel = (*Table)(nil)

// New returns the table of nl, compiled with opts (their Island is set
// per apply).
func New(nl Netlink, opts firewall.Options) *Table { return &Table{nl: nl, opts: opts} }

// Options are the firewall options of an apply in island mode or not.
func (t *Table) Options(island bool) firewall.Options {
	o := t.opts
	o.Island = island
	return o
}

// Ruleset is the ruleset of m in island mode or not; with m nil, the
// lockdown ruleset, which forwards nothing.
func (t *Table) Ruleset(m *zone.Model, island bool) *firewall.Ruleset {
	if m == nil {
		return firewall.Lockdown(t.Options(true))
	}
	return firewall.Compile(m, t.Options(island))
}

// Apply compiles m (nil: lockdown) and applies it; the result carries the
// fingerprint and generation firewall's Apply verified.
func (t *Table) Apply(m *zone.Model, island bool) (changes.Applied, error) {
	res, err := t.nl.Apply(t.Ruleset(m, island))
	return changes.Applied{Changed: res.Changed, Fingerprint: fingerprintOf(res.Fingerprint),
		Generation: res.Generation, GenerationErr: res.GenerationErr}, err
}

// Current reads the table back; nil when it does not exist.
func (t *Table) Current() (changes.Fingerprint, error) {
	fp, err := t.nl.Current()
	if err != nil {
		return nil, err
	}
	return fingerprintOf(fp), nil
}

// Generation is the kernel's ruleset generation.
func (t *Table) Generation() (uint32, error) { return t.nl.Generation() }

// Counters reads the table's named counters.
func (t *Table) Counters() ([]changes.Counter, error) {
	cs, err := t.nl.Counters()
	if err != nil {
		return nil, err
	}
	out := make([]changes.Counter, len(cs))
	for i, c := range cs {
		out[i] = changes.Counter(c)
	}
	return out, nil
}

// FlushDisallowed removes the tracked connections m (in island mode or
// not) no longer allows.
func (t *Table) FlushDisallowed(m *zone.Model, island bool) (uint, error) {
	return t.nl.FlushDisallowed(m, t.Options(island))
}

// fingerprint is a firewall.Fingerprint as a changes.Fingerprint.
type fingerprint firewall.Fingerprint

// fingerprintOf is nil (no table, or unknown) for a nil fp.
func fingerprintOf(fp firewall.Fingerprint) changes.Fingerprint {
	if fp == nil {
		return nil
	}
	return fingerprint(fp)
}

// of is the firewall form of a fingerprint made by this package; nil for
// anything else (no table).
func of(f changes.Fingerprint) firewall.Fingerprint {
	fp, _ := f.(fingerprint)
	return firewall.Fingerprint(fp)
}

func (f fingerprint) Equal(actual changes.Fingerprint) bool {
	return actual != nil && firewall.Fingerprint(f).Equal(of(actual))
}

func (f fingerprint) Summary(actual changes.Fingerprint) string {
	return firewall.Fingerprint(f).Summary(of(actual))
}

func (f fingerprint) Diff(actual changes.Fingerprint, max int) string {
	return firewall.Fingerprint(f).Diff(of(actual), max)
}
