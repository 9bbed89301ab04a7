// Package registry is the one list of the protocols zonegate inspects: one
// line per protocol in builtin below pairs its model side (the
// rulesblock.Protocol with its name, title, default proxy port and rules
// block) with its runtime side (the proxy.Inspector whose proxy the daemon
// runs). Every part of the gateway derives what it needs from this list:
// the zone model reads each `inspect:` value and rules block through it
// (gateway/zone, gateway/zone/zonedoc), the firewall redirects every
// listed protocol's conduits to its proxy port, and the daemon runs one
// proxy per inspector (gateway/inspection). Adding a protocol changes no
// line of those packages.
//
// Because one entry holds both sides, whatever imports the list links the
// protocols' proxies too (net, zap, protocols/proxy): the zone model
// does. The protocols' model-side packages themselves link no runtime
// (modbusrules checks it), and every program that loads models (zonegate,
// zonelab) runs or probes the proxies anyway.
package registry

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zonegate/zonegate/protocols/modbus/modbusrules"
	"github.com/zonegate/zonegate/protocols/modbustcp"
	"github.com/zonegate/zonegate/protocols/modbustls"
	"github.com/zonegate/zonegate/protocols/opcua/opcuarules"
	"github.com/zonegate/zonegate/protocols/opcuatcp"
	"github.com/zonegate/zonegate/protocols/proxy"
	"github.com/zonegate/zonegate/protocols/rulesblock"
)

// Protocol is one inspected protocol: its model side, with its name
// (Name, Title, DefaultPort, promoted from the embedded rulesblock.Protocol
// and its inspect.Protocol), and its runtime side.
type Protocol struct {
	// Protocol is the model side: how the zone model reads, checks,
	// writes, lints and describes the protocol's rules block.
	rulesblock.Protocol
	// Inspector is the runtime side: it compiles a conduit's rules into
	// a policy and makes the protocol's proxy. Its Protocol() is the
	// model side's inspect.Protocol. nil: this build reads and describes
	// the protocol's blocks but cannot inspect them (the daemon refuses a
	// model with such a conduit); for tests of the model.
	Inspector proxy.Inspector
}

// builtin are the protocols zonegate inspects, in the order messages list
// them.
var builtin = []Protocol{
	{Protocol: withTLSLint(modbusrules.Protocol), Inspector: modbustcp.Inspector{}}, // inspect: modbus
	{Protocol: opcuarules.Protocol, Inspector: opcuatcp.Inspector{}},                // inspect: opcua
}

var (
	mu        sync.Mutex // serialises Register
	protocols atomic.Pointer[[]Protocol]
)

func init() {
	for _, p := range builtin {
		Register(p)
	}
}

// Register adds a protocol after the built-in ones. It panics when the
// protocol is incomplete, its inspector names another protocol or its
// name is taken: it is meant for a program's (or a test's) start, before
// models are loaded.
func Register(p Protocol) {
	if err := p.Validate(); err != nil {
		panic("registry: " + err.Error())
	}
	if p.Inspector != nil && p.Inspector.Protocol() != p.Protocol.Protocol {
		panic(fmt.Sprintf("registry: the inspector of protocol %q says it is %+v, the rules block %+v: return the same inspect.Protocol from both",
			p.Name, p.Inspector.Protocol(), p.Protocol.Protocol))
	}
	mu.Lock()
	defer mu.Unlock()
	var list []Protocol
	if cur := protocols.Load(); cur != nil {
		list = slices.Clone(*cur)
	}
	if slices.ContainsFunc(list, func(q Protocol) bool { return q.Name == p.Name }) {
		panic(fmt.Sprintf("registry: protocol %q is registered twice", p.Name))
	}
	list = append(list, p)
	protocols.Store(&list)
}

// All returns the registered protocols, built-in ones first.
func All() []Protocol { return slices.Clone(*protocols.Load()) }

// Lookup returns the protocol called name.
func Lookup(name string) (Protocol, bool) {
	for _, p := range *protocols.Load() {
		if p.Name == name {
			return p, true
		}
	}
	return Protocol{}, false
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

// withTLSLint adds to Modbus's lint the expiry of the certificates of
// Modbus/TCP Security conduits, which reads the files (so it lives with
// the TLS front end, not in the model side that links no crypto).
func withTLSLint(p rulesblock.Protocol) rulesblock.Protocol {
	lint := p.Lint
	p.Lint = func(c rulesblock.Conduit, warnf rulesblock.Warnf) {
		if lint != nil {
			lint(c, warnf)
		}
		modbustls.Lint(c, warnf, time.Now())
	}
	return p
}
