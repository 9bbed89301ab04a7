package modbus

import "sync/atomic"

// LivePolicy holds the current Policy of a conduit. The proxy loads it for
// every request, so Store applies a new policy (for example on SIGHUP) to
// the next request of every open connection without dropping any. A
// LivePolicy holding nil denies everything.
type LivePolicy struct{ p atomic.Pointer[Policy] }

// NewLivePolicy returns a LivePolicy holding p.
func NewLivePolicy(p *Policy) *LivePolicy {
	l := &LivePolicy{}
	l.p.Store(p)
	return l
}

// Load returns the current policy, never nil.
func (l *LivePolicy) Load() *Policy {
	if p := l.p.Load(); p != nil {
		return p
	}
	return denyAll
}

// Store replaces the policy.
func (l *LivePolicy) Store(p *Policy) { l.p.Store(p) }

// denyAll is used when a LivePolicy holds nil: fail closed. It is built
// directly rather than compiled, so there is no error to ignore: enforce
// mode, exception answers, no unit allowed (anyUnit false, no unit bit set)
// and no rule, which is what Compile(Spec{Units: []uint8{}}) returns.
var denyAll = &Policy{mode: ModeEnforce, onDeny: DenyException, spec: Spec{Units: []uint8{}, Rules: []Rule{}}}
