package zone

import (
	"fmt"
	"net/netip"
	"regexp"
	"strings"

	"github.com/zonegate/zonegate/protocols/registry"
)

var (
	// Zone names become parts of nftables chain and set names.
	zoneNameRE = regexp.MustCompile(`^[a-z][a-z0-9-]*$`)
	// Asset and conduit names become parts of counter names.
	elementNameRE = regexp.MustCompile(`^[a-z][a-z0-9-]*$`)
	gatewayNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
)

const (
	maxZoneName    = 15
	maxElementName = 48
	maxGatewayName = 64
)

// validate checks the cross-references and invariants of a parsed model.
func validate(m *Model, r *reporter) {
	if m.Gateway.Name == "" {
		r.errorf(m.Gateway.at.pos("name"), "gateway needs a `name:` (it identifies this gateway in audit records and syslog)")
	} else if !gatewayNameRE.MatchString(m.Gateway.Name) || len(m.Gateway.Name) > maxGatewayName {
		r.errorf(m.Gateway.at.pos("name"), "gateway name %q must be 1-%d letters, digits, '.', '_' or '-', starting with a letter or digit", m.Gateway.Name, maxGatewayName)
	}
	if len(m.Zones) == 0 {
		r.errorf(Pos{Line: 1, Column: 1}, "the model has no zones: add at least one under `zones:`")
	}
	validateZones(m, r)
	for i, name := range m.Gateway.ManagementZones {
		if m.Zone(name) == nil {
			r.errorf(m.Gateway.at.pos(fmt.Sprintf("management.zones.%d", i)), "management zone %q is not defined%s", name, suggestZone(m, name))
		}
	}
	validateAssets(m, r)
	validateConduits(m, r)
}

func suggestZone(m *Model, name string) string {
	names := make([]string, len(m.Zones))
	for i, z := range m.Zones {
		names[i] = z.Name
	}
	if c := closest(name, names); c != "" {
		return fmt.Sprintf(": did you mean %q?", c)
	}
	return ": define it under `zones:` or fix the name"
}

func suggestAsset(m *Model, name string) string {
	names := make([]string, len(m.Assets))
	for i, a := range m.Assets {
		names[i] = a.Name
	}
	if c := closest(name, names); c != "" {
		return fmt.Sprintf(": did you mean %q?", c)
	}
	return ": define it under `assets:` or fix the name"
}

// checkName reports a missing, malformed or repeated name.
func checkName(r *reporter, at Pos, kind, name string, re *regexp.Regexp, max int, seen map[string]Pos) {
	switch {
	case name == "":
		r.errorf(at, "%s needs a `name:`", kind)
		return
	case !re.MatchString(name) || len(name) > max:
		r.errorf(at, "%s name %q must match [a-z][a-z0-9-]* and be at most %d characters", kind, name, max)
	}
	if first, dup := seen[name]; dup {
		r.errorf(at, "%s name %q is already used at line %d: names must be unique", kind, name, first.Line)
		return
	}
	seen[name] = at
}

// validIfname follows the kernel's dev_valid_name: 1-15 bytes, no '/',
// no ':' , no whitespace, not "." or "..".
func validIfname(s string) bool {
	if s == "" || len(s) > 15 || s == "." || s == ".." {
		return false
	}
	return !strings.ContainsAny(s, "/: \t\n\"\\*")
}

func validateZones(m *Model, r *reporter) {
	names := map[string]Pos{}
	ifaceOwner := map[string]string{}
	type owned struct {
		prefix netip.Prefix
		zone   string
	}
	var nets []owned
	for _, z := range m.Zones {
		checkName(r, z.at.pos("name"), "zone", z.Name, zoneNameRE, maxZoneName, names)
		if z.Importance == ImportanceUnset {
			if _, written := z.at.fields["importance"]; !written {
				r.errorf(z.at.self, "zone %q needs `importance: low|medium|high` (guideline step 1-3)", z.Name)
			}
		}
		if len(z.Interfaces) == 0 {
			r.errorf(z.at.pos("interfaces"), "zone %q needs at least one gateway interface under `interfaces:`", z.Name)
		}
		for i, ifname := range z.Interfaces {
			at := z.at.pos(fmt.Sprintf("interfaces.%d", i))
			if !validIfname(ifname) {
				r.errorf(at, "interface name %q is not a valid Linux interface name (1-15 characters, no '/', ':' or spaces)", ifname)
				continue
			}
			if owner, dup := ifaceOwner[ifname]; dup {
				if owner == z.Name {
					r.errorf(at, "interface %q is listed twice in zone %q: remove one", ifname, z.Name)
				} else {
					r.errorf(at, "interface %q is already in zone %q: an interface belongs to exactly one zone", ifname, owner)
				}
				continue
			}
			ifaceOwner[ifname] = z.Name
		}
		if len(z.Networks) == 0 {
			r.errorf(z.at.pos("networks"), "zone %q needs at least one network under `networks:` (used for anti-spoofing)", z.Name)
		}
		for i, p := range z.Networks {
			at := z.at.pos(fmt.Sprintf("networks.%d", i))
			for _, o := range nets {
				if o.prefix.Overlaps(p) {
					if o.zone == z.Name {
						r.errorf(at, "network %s overlaps %s, already in zone %q: list each address range once", p, o.prefix, z.Name)
					} else {
						r.errorf(at, "network %s of zone %q overlaps %s of zone %q: zones must not share addresses", p, z.Name, o.prefix, o.zone)
					}
				}
			}
			nets = append(nets, owned{p, z.Name})
		}
	}
}

func validateAssets(m *Model, r *reporter) {
	names := map[string]Pos{}
	addrs := map[netip.Addr]string{}
	for _, a := range m.Assets {
		checkName(r, a.at.pos("name"), "asset", a.Name, elementNameRE, maxElementName, names)
		if a.Zone == "" {
			r.errorf(a.at.self, "asset %q needs a `zone:`", a.Name)
			continue
		}
		z := m.Zone(a.Zone)
		if z == nil {
			r.errorf(a.at.pos("zone"), "asset %q is in zone %q, which is not defined%s", a.Name, a.Zone, suggestZone(m, a.Zone))
			continue
		}
		if a.Importance == ImportanceUnset {
			a.Importance = z.Importance
		}
		if !a.Address.IsValid() {
			if _, written := a.at.fields["address"]; !written {
				r.errorf(a.at.self, "asset %q needs an `address:`", a.Name)
			}
			continue
		}
		inside := false
		for _, n := range z.Networks {
			inside = inside || n.Contains(a.Address)
		}
		if !inside {
			r.errorf(a.at.pos("address"), "address %s of asset %q is outside the networks of zone %q (%s): fix the address or add its network to the zone", a.Address, a.Name, z.Name, prefixList(z.Networks))
		}
		if other, dup := addrs[a.Address]; dup {
			r.errorf(a.at.pos("address"), "address %s of asset %q is already the address of asset %q", a.Address, a.Name, other)
		} else {
			addrs[a.Address] = a.Name
		}
	}
}

func prefixList(ps []netip.Prefix) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, ", ")
}

func validateConduits(m *Model, r *reporter) {
	names := map[string]Pos{}
	for _, c := range m.Conduits {
		checkName(r, c.at.pos("name"), "conduit", c.Name, elementNameRE, maxElementName, names)
		fromOK := checkConduitZone(m, r, c, "from", c.From)
		toOK := checkConduitZone(m, r, c, "to", c.To)
		if fromOK && toOK && c.From == c.To {
			r.errorf(c.at.pos("to"), "conduit %q goes from zone %q to itself: traffic inside a zone passes anyway; conduits join two different zones", c.Name, c.From)
		}
		if fromOK {
			checkConduitAssets(m, r, c, "from_assets", c.FromAssets, c.From)
		}
		if toOK {
			checkConduitAssets(m, r, c, "to_assets", c.ToAssets, c.To)
		}
		if len(c.Services) == 0 {
			// Also for `services: []`: a conduit that allows nothing is a mistake.
			r.errorf(c.at.pos("services"), "conduit %q needs `services:` such as [tcp/502, icmp/echo-request]", c.Name)
		}
		seen := map[Service]int{}
		hasTCP := false
		for i, s := range c.Services {
			if j, dup := seen[s]; dup {
				r.errorf(c.at.pos(fmt.Sprintf("services.%d", i)), "service %s is listed twice (also entry %d): remove one", s, j+1)
			}
			seen[s] = i
			hasTCP = hasTCP || s.Proto == TCP
		}
		checkConduitRules(m, r, c, hasTCP)
	}
}

func checkConduitZone(m *Model, r *reporter, c *Conduit, key, zone string) bool {
	if zone == "" {
		r.errorf(c.at.self, "conduit %q needs `%s:` naming a zone", c.Name, key)
		return false
	}
	if m.Zone(zone) == nil {
		r.errorf(c.at.pos(key), "conduit %q: %s zone %q is not defined%s", c.Name, key, zone, suggestZone(m, zone))
		return false
	}
	return true
}

func checkConduitAssets(m *Model, r *reporter, c *Conduit, key string, assets []string, zone string) {
	seen := map[string]bool{}
	for i, name := range assets {
		at := c.at.pos(fmt.Sprintf("%s.%d", key, i))
		a := m.Asset(name)
		switch {
		case a == nil:
			r.errorf(at, "conduit %q: asset %q is not defined%s", c.Name, name, suggestAsset(m, name))
		case a.Zone != zone:
			r.errorf(at, "conduit %q: asset %q is in zone %q, not in %q: %s lists assets of the conduit's %s zone", c.Name, name, a.Zone, zone, key, strings.TrimSuffix(key, "_assets"))
		case seen[name]:
			r.errorf(at, "conduit %q: asset %q is listed twice in %s", c.Name, name, key)
		}
		seen[name] = true
	}
}

// checkConduitRules checks the inspection of a conduit: a tcp service and
// a block for its protocol, no block of another protocol; then each block
// through its protocol's own checks.
func checkConduitRules(m *Model, r *reporter, c *Conduit, hasTCP bool) {
	if p, ok := registry.Lookup(c.Inspect); ok {
		switch {
		case !hasTCP:
			r.errorf(c.at.pos("inspect"), "conduit %q has `inspect: %s` but no tcp service: add %s", c.Name, p.Name, p.TCPHint)
		case !c.hasBlock(p.Name) && p.MissingBlock != "":
			r.errorf(c.at.pos("inspect"), "conduit %q has `inspect: %s` but no `%s:` block: %s", c.Name, p.Name, p.Name, p.MissingBlock)
		}
	}
	for _, b := range c.blocks {
		if b.name != c.Inspect {
			r.errorf(c.at.pos(b.name), "conduit %q has a `%s:` block but no `inspect: %s`: add `inspect: %s` or remove the block", c.Name, b.name, b.name, b.name)
		}
	}
	for _, b := range c.blocks {
		if p, ok := registry.Lookup(b.name); ok && p.Check != nil {
			p.Check(m.protocolView(c, b.rules, nil), r.errorf)
		}
	}
}
