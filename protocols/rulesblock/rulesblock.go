// Package rulesblock is the contract between the zone model and the
// protocols it inspects, on the model's side: how a conduit's rules block
// (`modbus:` for `inspect: modbus`) is read with FILE:LINE:COLUMN errors,
// checked, written in canonical form, hashed into the digest, compared,
// linted and described in drawings and reports.
//
// A protocol fills in one Protocol (its name, title and default proxy port,
// its reader, canonical form, lint rules, drawing and report text) in its
// own model-side package, such as protocols/modbus/modbusrules, and one
// line in package protocols/registry lists it with its proxy.Inspector.
// Package gateway/zone reads every block through it and knows no protocol.
//
// The package and the protocols' model-side packages link no network code
// and no logger (a test in modbusrules checks it).
package rulesblock

import (
	"fmt"

	"go.yaml.in/yaml/v3"

	"github.com/zonegate/zonegate/protocols/inspect"
)

// Protocol is what the zone model needs from an inspected protocol to read,
// check, write out, lint and describe its rules block.
type Protocol struct {
	// Protocol names the protocol once for the whole gateway: Name is the
	// conduit's `inspect:` value and the key of its rules block, such as
	// "modbus" ([a-z][a-z0-9]*); Title names it in messages, drawings and
	// reports; DefaultPort is where its proxy listens by default. The
	// protocol's proxy.Inspector returns this same value.
	inspect.Protocol
	// TCPHint ends the error for a conduit that inspects the protocol but
	// has no tcp service ("add " + TCPHint), such as
	// "tcp/502 (or the port the devices use)".
	TCPHint string
	// MissingBlock ends the error for a conduit that says `inspect: NAME`
	// without a NAME: block and says what to write, such as "add one with
	// an `allow:` list (everything not allowed is denied)". Empty: the
	// block is optional, and such a conduit's rules are nil.
	MissingBlock string

	// Read reads the block: n is the value of the conduit's NAME: key.
	// It returns the rules as the protocol's inspector compiles them
	// (zone.Conduit.Rules; for Modbus a *modbus.Spec) and reports every
	// problem through r with its position; the model is rejected when
	// there is one. Unknown keys are errors (Reader.Fields). Required.
	Read func(r *Reader, n *yaml.Node) any
	// Check reports problems of a block that need the rest of the
	// conduit. It runs, like the zone model's own cross-checks, only when
	// the whole file was read without error, once for every block a
	// conduit has. Optional.
	Check func(c Conduit, errorf Errorf)
	// Canonical returns the block's canonical form: plain data (structs
	// whose exported fields carry yaml tags, strings, numbers, lists and
	// maps with string keys) with the lists that have no meaning in their
	// order sorted and defaults written out. It is written under NAME: by
	// `zonegate check --canonical`, hashed into the model's digest (every
	// field under its YAML key: a field added later with omitempty leaves
	// the digests of the models that do not set it alone) and compared by
	// the diff of `zonegate push`. Reading the YAML of the canonical form
	// must give the same canonical form. Required.
	Canonical func(rules any) any
	// Diff lists what changed between two canonical forms (values of
	// Canonical), each line starting with NAME, for `zonegate push`.
	// Optional: DiffFields(NAME, a, b) is the default.
	Diff func(a, b any) []string
	// Lint warns about choices that are legal but risky. It runs on every
	// conduit of a valid model, whatever the conduit inspects (so a
	// protocol can warn about a conduit that carries its port without
	// inspection). Rule names are lower case words joined by '-' and are
	// documented in the README. Optional.
	Lint func(c Conduit, warnf Warnf)
	// Summary describes the rules in a few short lines for the conduit's
	// arrow in a drawing, such as "read hr 0-99, co 0-63". Optional.
	Summary func(rules any) []string
	// Words describes the rules in sentences for the report's conduit
	// table, starting with what the inspection is, such as "Modbus/TCP
	// deep inspection. Enforced: ...". Optional: the report then names
	// the protocol only.
	Words func(rules any) string
}

// Errorf reports an error at a position of the model file; format and
// args as for fmt.Sprintf.
type Errorf func(at Pos, format string, args ...any)

// Warnf reports a lint warning of the named rule at a position of the
// model file.
type Warnf func(at Pos, rule, format string, args ...any)

// Pos is a 1-based line and column in the model file.
type Pos struct {
	Line, Column int
}

// PosOf returns where a YAML node starts.
func PosOf(n *yaml.Node) Pos { return Pos{Line: n.Line, Column: n.Column} }

// Importance ranks zones and assets by the importance of their operations
// and assets (METI guideline steps 1-3 and 1-5); package zone uses this
// type as its own.
type Importance int

// Importance levels, ordered.
const (
	ImportanceUnset Importance = iota
	Low
	Medium
	High
)

func (i Importance) String() string {
	switch i {
	case Low:
		return "low"
	case Medium:
		return "medium"
	case High:
		return "high"
	}
	return "unset"
}

// Conduit is what a protocol's Check and Lint see of a conduit, for the
// time of the call (the zone model reuses its Services for the next).
type Conduit struct {
	Name string
	// From and To are the zones the conduit joins; zero when Check runs
	// on a conduit whose zone is not defined.
	From, To Zone
	Services []Service
	Inspect  string // the conduit's `inspect:` value; "" for none
	// Rules is the value Read returned for this protocol's block; nil
	// when the conduit has none (for Lint: when it inspects another
	// protocol or none).
	Rules any
	// At tells where a field of the conduit was written: "services.0"
	// for its first service, "inspect", or a block's name for where the
	// block's value starts; any other key gives where the conduit starts.
	At func(key string) Pos
}

// Zone is what a protocol sees of a zone.
type Zone struct {
	Name       string
	Importance Importance
	// SecurityLevel is the zone's IEC 62443 target security level, 1-4;
	// 0 when the model does not set it.
	SecurityLevel int
}

// Service is one entry of a conduit's services.
type Service struct {
	Proto string // "tcp", "udp", "icmp" or "icmpv6"
	// PortLo-PortHi are the ports of a tcp or udp service; 0-0 is every
	// port.
	PortLo, PortHi uint16
	// Text is the service's canonical spelling, such as "tcp/502".
	Text string
}

func (s Service) String() string { return s.Text }

// HasPort reports whether a tcp or udp service covers port p.
func (s Service) HasPort(p uint16) bool {
	if s.Proto != "tcp" && s.Proto != "udp" {
		return false
	}
	return (s.PortLo == 0 && s.PortHi == 0) || (p >= s.PortLo && p <= s.PortHi)
}

// Validate reports what makes p unusable: a bad name, no default proxy
// port or a missing required function.
func (p Protocol) Validate() error {
	if !validName(p.Name) {
		return fmt.Errorf("protocol name %q must match [a-z][a-z0-9]*", p.Name)
	}
	if p.Read == nil || p.Canonical == nil {
		return fmt.Errorf("protocol %q needs both Read and Canonical", p.Name)
	}
	if p.TCPHint == "" {
		return fmt.Errorf("protocol %q needs a TCPHint such as \"tcp/502\"", p.Name)
	}
	if p.DefaultPort == 0 {
		return fmt.Errorf("protocol %q needs a DefaultPort: the local port its proxy listens on when the settings name none", p.Name)
	}
	return nil
}

func validName(s string) bool {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for _, c := range []byte(s) {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}
