package gateway

import (
	"github.com/zonegate/zonegate/firewall"
	"github.com/zonegate/zonegate/gateway/zone"
)

// Kernel is what the daemon needs from the kernel: table inet zonegate
// and the connections through the gateway. firewall.Kernel implements it
// over netlink; the tests use an in-memory fake.
type Kernel interface {
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

var _ Kernel = (*firewall.Kernel)(nil)
