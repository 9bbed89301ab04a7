// Package modbusrules is the zone model's side of Modbus/TCP inspection: it
// reads a conduit's `modbus:` block into a modbus.Spec with
// FILE:LINE:COLUMN errors, checks it, writes its canonical form, holds the
// Modbus lint rules (modbus-uninspected, monitor-into-high,
// disruptive-diagnostics) and describes the rules for drawings and reports.
// Protocol is what package protocols/registry lists for `inspect: modbus`,
// with the protocol's name, title and default proxy port, which the
// Modbus/TCP codec (protocols/modbustcp) returns as its own.
//
// Package modbus, the engine, stays free of YAML and of zones; this package
// links no network code and no logger.
package modbusrules

import (
	"go.yaml.in/yaml/v3"

	"github.com/zonegate/zonegate/protocols/inspect"
	"github.com/zonegate/zonegate/protocols/modbus"
	"github.com/zonegate/zonegate/protocols/rulesblock"
)

// Name is the `inspect:` value of Modbus conduits and the key of their
// rules block.
const Name = "modbus"

// Protocol is Modbus/TCP as the zone model reads it: its name, title and
// default proxy port, and its rules block, whose rules are a *modbus.Spec.
var Protocol = rulesblock.Protocol{
	Protocol:     inspect.Protocol{Name: Name, Title: "Modbus", DefaultPort: 5020},
	TCPHint:      "tcp/502 (or the port the devices use)",
	MissingBlock: "add one with an `allow:` list (everything not allowed is denied)",
	Read:         func(r *rulesblock.Reader, n *yaml.Node) any { return read(r, n) },
	Check:        check,
	Canonical:    func(rules any) any { return canonical(rules.(*modbus.Spec)) },
	Lint:         lint,
	Summary:      func(rules any) []string { return Summary(rules.(*modbus.Spec)) },
	Words:        func(rules any) string { return "Modbus/TCP deep inspection. " + Words(rules.(*modbus.Spec)) },
}
