package firewall

import "github.com/zonegate/zonegate/gateway/zone"

// Kernel is table inet zonegate in one network namespace, reached over
// netlink: the methods are the package functions bound to a Target, so a
// caller can hold them behind an interface and tests can put a fake in
// their place.
type Kernel struct{ target Target }

// NewKernel returns the kernel of t's namespace. The Kernel uses t's
// namespace file but does not close it.
func NewKernel(t Target) *Kernel { return &Kernel{target: t} }

// Apply replaces table inet zonegate with rs; see the package function Apply.
func (k *Kernel) Apply(rs *Ruleset) (Result, error) { return Apply(k.target, rs) }

// Current reads table inet zonegate back; see the package function Current.
func (k *Kernel) Current() (Fingerprint, error) { return Current(k.target) }

// Generation returns the ruleset generation; see the package function Generation.
func (k *Kernel) Generation() (uint32, error) { return Generation(k.target) }

// Counters reads the named counters; see the package function Counters.
func (k *Kernel) Counters() ([]CounterValue, error) { return Counters(k.target) }

// FlushDisallowed deletes the conntrack entries m no longer allows; see
// the package function FlushDisallowed.
func (k *Kernel) FlushDisallowed(m *zone.Model, opt Options) (uint, error) {
	return FlushDisallowed(k.target, m, opt)
}
