// Package zone is the zone model of a factory: zones of equal importance with
// their gateway interfaces and networks, the protected assets inside them, and
// the conduits that are the only flows allowed between zones (METI factory
// guideline steps 1-2 to 1-7, IEC 62443-3-2 zones and conduits).
//
// The package loads the version-1 YAML format (see DESIGN.md) with
// FILE:LINE:COLUMN errors, validates it, lints it for risky but legal
// choices, and computes a canonical form and its SHA-256 digest.
//
// It knows no inspected protocol. A conduit's rules block (`modbus:` for
// `inspect: modbus`) is read, checked, written in canonical form, linted
// and described by the protocol that package protocols/registry lists
// under that name, through the contract of package protocols/rulesblock.
package zone

import (
	"net/netip"

	"github.com/zonegate/zonegate/protocols/rulesblock"
)

// SupportedVersion is the model format version this package reads.
const SupportedVersion = 1

// Importance ranks zones and assets by the importance of their operations
// and assets (guideline steps 1-3 and 1-5). The protocols' lint rules see
// the same type (package rulesblock).
type Importance = rulesblock.Importance

// Importance levels, ordered.
const (
	ImportanceUnset = rulesblock.ImportanceUnset
	Low             = rulesblock.Low
	Medium          = rulesblock.Medium
	High            = rulesblock.High
)

// Model is a loaded and validated zone model.
type Model struct {
	File     string // the file it was loaded from, for messages
	Version  int
	Gateway  Gateway
	Zones    []*Zone
	Assets   []*Asset
	Conduits []*Conduit

	zonesByName    map[string]*Zone
	assetsByName   map[string]*Asset
	conduitsByName map[string]*Conduit
}

// Gateway describes the gateway itself.
type Gateway struct {
	Name            string
	ManagementZones []string // zones that may reach the gateway's own services
	at              positions
}

// Zone is a group of operations and assets of equal importance.
type Zone struct {
	Name        string
	Description string
	Importance  Importance
	// SecurityLevel is the IEC 62443 target security level (SL-T) of the
	// zone, 1-4; 0 when the model does not set it.
	SecurityLevel int
	Owner         string // who is responsible for the zone; free text, optional
	Interfaces    []string
	Networks      []netip.Prefix
	at            positions
}

// Security levels a zone may target (IEC 62443-3-3 SL 1 to SL 4).
const (
	MinSecurityLevel = 1
	MaxSecurityLevel = 4
)

// Asset is a protected asset at one address inside a zone.
type Asset struct {
	Name        string
	Description string
	Zone        string
	Address     netip.Addr
	Importance  Importance // defaults to the zone's importance
	at          positions
}

// Conduit is one allowed flow between two zones: only From may open
// connections, only to To, only for Services.
type Conduit struct {
	Name        string
	Description string
	From, To    string
	FromAssets  []string // empty: the whole From zone
	ToAssets    []string // empty: the whole To zone
	Services    []Service
	Inspect     string // "" or the name of a registered protocol (package registry)
	// Rules is the conduit's rules block for its inspected protocol
	// (`modbus:` for `inspect: modbus`) as that protocol's reader
	// returned it: for Modbus a *modbus.Spec. Nil when the conduit is not
	// inspected, or its protocol's block is optional and left out.
	Rules  any
	blocks []block // every rules block the conduit has, for validation
	at     positions
}

// block is a rules block as written in a conduit, before validation has
// made sure it is the block of the conduit's inspected protocol.
type block struct {
	name  string
	rules any
}

// Inspected reports whether the conduit's tcp services go through the
// proxy of an inspected protocol instead of being forwarded.
func (c *Conduit) Inspected() bool { return c.Inspect != "" }

// InspectRules returns the rules block of the conduit's inspected protocol
// as plain data for that protocol's inspector (Rules: for `inspect: modbus`
// the *modbus.Spec of the `modbus:` block), or nil when the conduit is not
// inspected.
func (c *Conduit) InspectRules() any { return c.Rules }

// positions remembers where each field of an element was written, keyed by
// a path such as "name" or "networks.1".
type positions struct {
	self   Pos
	fields map[string]Pos
}

func (p *positions) set(key string, pos Pos) {
	if p.fields == nil {
		p.fields = make(map[string]Pos)
	}
	p.fields[key] = pos
}

// pos returns where key was written, or where the element starts.
func (p *positions) pos(key string) Pos {
	if q, ok := p.fields[key]; ok {
		return q
	}
	return p.self
}

// Zone returns the zone with that name, or nil.
func (m *Model) Zone(name string) *Zone { return m.zonesByName[name] }

// Asset returns the asset with that name, or nil.
func (m *Model) Asset(name string) *Asset { return m.assetsByName[name] }

// Conduit returns the conduit with that name, or nil.
func (m *Model) Conduit(name string) *Conduit { return m.conduitsByName[name] }

// IsManagementZone reports whether the zone may reach the gateway itself.
func (m *Model) IsManagementZone(name string) bool {
	for _, z := range m.Gateway.ManagementZones {
		if z == name {
			return true
		}
	}
	return false
}

// ZoneOfAddr returns the zone whose networks contain a, or nil.
func (m *Model) ZoneOfAddr(a netip.Addr) *Zone {
	a = a.Unmap()
	for _, z := range m.Zones {
		for _, n := range z.Networks {
			if n.Contains(a) {
				return z
			}
		}
	}
	return nil
}

func (m *Model) index() {
	m.zonesByName = make(map[string]*Zone, len(m.Zones))
	for _, z := range m.Zones {
		if _, dup := m.zonesByName[z.Name]; !dup {
			m.zonesByName[z.Name] = z
		}
	}
	m.assetsByName = make(map[string]*Asset, len(m.Assets))
	for _, a := range m.Assets {
		if _, dup := m.assetsByName[a.Name]; !dup {
			m.assetsByName[a.Name] = a
		}
	}
	m.conduitsByName = make(map[string]*Conduit, len(m.Conduits))
	for _, c := range m.Conduits {
		if _, dup := m.conduitsByName[c.Name]; !dup {
			m.conduitsByName[c.Name] = c
		}
	}
}
