// Package opcuarules is the zone model's side of OPC UA inspection: it
// reads a conduit's `opcua:` block into an opcua.Spec with
// FILE:LINE:COLUMN errors, checks it, writes its canonical form, holds the
// OPC UA lint rules (opcua-uninspected, opcua-none-into-high,
// opcua-write-without-nodes, opcua-deprecated-policy) and describes the
// rules for drawings and reports. Protocol is what the registry lists for
// `inspect: opcua`.
//
// It does not read the certificate files the block names (a model is also
// checked away from the gateway): the OPC UA inspector does when it
// compiles the policy.
package opcuarules

import (
	"go.yaml.in/yaml/v3"

	"github.com/zonegate/zonegate/protocols/opcua"
	"github.com/zonegate/zonegate/protocols/rulesblock"
)

// Name is the `inspect:` value of OPC UA conduits and the key of their
// rules block.
const Name = "opcua"

// Protocol is OPC UA as the zone model reads it: its name, title and
// default proxy port (opcua.Info, which the codec of protocols/opcuatcp
// returns too), and its rules block, whose rules are an *opcua.Spec.
var Protocol = rulesblock.Protocol{
	Protocol:     opcua.Info,
	TCPHint:      "tcp/4840 (or the port the servers use)",
	MissingBlock: "add one, such as `opcua: {services: read_only}`, or `opcua: {}` for the defaults (every service over the Basic256Sha256 and Aes policies, None for discovery only)",
	Read:         func(r *rulesblock.Reader, n *yaml.Node) any { return read(r, n) },
	Check:        check,
	Canonical: func(rules any) any {
		return canonical(rules.(*opcua.Spec))
	},
	Lint:    lint,
	Summary: func(rules any) []string { return Summary(rules.(*opcua.Spec)) },
	Words:   func(rules any) string { return "OPC UA inspection. " + Words(rules.(*opcua.Spec)) },
}
