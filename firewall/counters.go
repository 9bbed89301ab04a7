package firewall

import (
	"fmt"
	"sort"

	"github.com/google/nftables"
)

// CounterValue is one named counter of table inet zonegate.
type CounterValue struct {
	Name    string `json:"name"`
	Packets uint64 `json:"packets"`
	Bytes   uint64 `json:"bytes"`
}

// Counters reads the named counters of table inet zonegate, sorted by
// name; none when the table does not exist.
func Counters(t Target) ([]CounterValue, error) {
	conn, err := t.conn()
	if err != nil {
		return nil, err
	}
	defer conn.CloseLasting()
	tbl, err := conn.ListTableOfFamily(TableName, nftables.TableFamilyINet)
	if err != nil {
		if isNotExist(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("list table inet %s: %w", TableName, err)
	}
	objs, err := conn.GetObjects(tbl)
	if err != nil {
		return nil, fmt.Errorf("read counters: %w", err)
	}
	var out []CounterValue
	for _, o := range objs {
		if c, ok := o.(*nftables.CounterObj); ok {
			out = append(out, CounterValue{Name: c.Name, Packets: c.Packets, Bytes: c.Bytes})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Lockdown is the ruleset for a gateway that knows no model at all: every
// forwarded packet is counted and dropped, and the gateway's own services
// stay reachable so that an operator can install a model. With a model
// known, use Compile with Options.Island instead, which keeps management
// access to the management zones only.
func Lockdown(opt Options) *Ruleset {
	opt = opt.withDefaults()
	c := &compiler{opt: opt, rs: &Ruleset{}}
	fwd := c.addChain(&Chain{Name: ChainForward, Hook: HookForward, Type: "filter", Priority: 0, Policy: "drop"})
	fwd.Rules = append(fwd.Rules,
		c.logDrop("zonegate lockdown drop forward: "),
		rule("no zone model applied: nothing is forwarded", c.counter(CounterDropFwd), Drop),
	)
	return c.rs
}
