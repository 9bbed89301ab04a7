// Package registry lists the inspected protocols whose rules blocks the
// zone model reads: one line per protocol in builtin below. Package
// gateway/zone looks every `inspect:` value and every rules block up here,
// so that adding a protocol's block changes no line of the zone model.
//
// It is separate from package rulesblock (the contract) because it imports
// each protocol's model-side package, which imports the contract; and
// separate from protocols/inspect because the proxies import that package
// and must not link the model's YAML reading.
package registry

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/zonegate/zonegate/protocols/modbus/modbusrules"
	"github.com/zonegate/zonegate/protocols/rulesblock"
)

// builtin are the protocols zonegate inspects, in the order messages list
// them.
var builtin = []rulesblock.Protocol{
	modbusrules.Protocol, // inspect: modbus
}

var (
	mu        sync.Mutex // serialises Register
	protocols atomic.Pointer[[]rulesblock.Protocol]
)

func init() {
	for _, p := range builtin {
		Register(p)
	}
}

// Register adds a protocol after the built-in ones. It panics when the
// protocol is incomplete or its name is taken: it is meant for a
// program's (or a test's) start, before models are loaded.
func Register(p rulesblock.Protocol) {
	if err := p.Validate(); err != nil {
		panic("registry: " + err.Error())
	}
	mu.Lock()
	defer mu.Unlock()
	var list []rulesblock.Protocol
	if cur := protocols.Load(); cur != nil {
		list = slices.Clone(*cur)
	}
	if slices.ContainsFunc(list, func(q rulesblock.Protocol) bool { return q.Name == p.Name }) {
		panic(fmt.Sprintf("registry: protocol %q is registered twice", p.Name))
	}
	list = append(list, p)
	protocols.Store(&list)
}

// All returns the registered protocols, built-in ones first.
func All() []rulesblock.Protocol { return slices.Clone(*protocols.Load()) }

// Lookup returns the protocol called name.
func Lookup(name string) (rulesblock.Protocol, bool) {
	for _, p := range *protocols.Load() {
		if p.Name == name {
			return p, true
		}
	}
	return rulesblock.Protocol{}, false
}

// Names returns the names of the registered protocols.
func Names() []string {
	list := *protocols.Load()
	out := make([]string, len(list))
	for i, p := range list {
		out[i] = p.Name
	}
	return out
}
