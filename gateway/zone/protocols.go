package zone

import (
	"strings"

	"github.com/zonegate/zonegate/protocols/registry"
	"github.com/zonegate/zonegate/protocols/rulesblock"
)

// This file is the zone model's side of the protocol seam: what the
// inspected protocols (package registry) see of a conduit.

// hasBlock reports whether the conduit has a rules block called name.
func (c *Conduit) hasBlock(name string) bool {
	for _, b := range c.blocks {
		if b.name == name {
			return true
		}
	}
	return false
}

// protocolView is the conduit as a protocol's Check and Lint see it, with
// rules as the protocol's block. Its services are appended to scratch[:0],
// which callers may reuse for the next conduit.
func (m *Model) protocolView(c *Conduit, rules any, scratch []rulesblock.Service) rulesblock.Conduit {
	v := rulesblock.Conduit{
		Name:     c.Name,
		From:     zoneView(m.Zone(c.From)),
		To:       zoneView(m.Zone(c.To)),
		Inspect:  c.Inspect,
		Rules:    rules,
		At:       c.at.pos,
		Services: scratch[:0],
	}
	for _, s := range c.Services {
		v.Services = append(v.Services, rulesblock.Service{Proto: string(s.Proto), PortLo: s.PortLo, PortHi: s.PortHi, Text: s.String()})
	}
	return v
}

func zoneView(z *Zone) rulesblock.Zone {
	if z == nil {
		return rulesblock.Zone{}
	}
	return rulesblock.Zone{Name: z.Name, Importance: z.Importance, SecurityLevel: z.SecurityLevel}
}

// inspectExamples spells every `inspect:` value, for advice:
// "`inspect: modbus`", or "`inspect: modbus` or `inspect: opcua`".
func inspectExamples(names []string) string {
	return "`inspect: " + strings.Join(names, "` or `inspect: ") + "`"
}

// inspectChoices says which `inspect:` values the registered protocols
// allow.
func inspectChoices() string {
	names := registry.Names()
	if len(names) == 1 {
		return "the only inspection is `inspect: " + names[0] + "`"
	}
	return "use " + inspectExamples(names)
}
