package zone

import (
	"cmp"
	"net/netip"
	"slices"

	"go.yaml.in/yaml/v3"

	"github.com/zonegate/zonegate/protocols/registry"
)

// The canonical form is the model written one way only: every list that has
// no meaningful order sorted, defaults written out, networks and services in
// their shortest spelling. Two files that mean the same give the same bytes.

type canonModel struct {
	Version  int            `yaml:"version"`
	Gateway  canonGateway   `yaml:"gateway"`
	Zones    []canonZone    `yaml:"zones"`
	Assets   []canonAsset   `yaml:"assets"`
	Conduits []canonConduit `yaml:"conduits"`
}

type canonGateway struct {
	Name       string          `yaml:"name"`
	Management canonManagement `yaml:"management"`
}

type canonManagement struct {
	Zones []string `yaml:"zones,flow"`
}

type canonZone struct {
	Name        string   `yaml:"name"`
	Description string   `yaml:"description,omitempty"`
	Importance  string   `yaml:"importance"`
	Interfaces  []string `yaml:"interfaces,flow"`
	Networks    []string `yaml:"networks,flow"`
	// Added after the first digests were taken: omitted when unset so
	// that models without them keep their digest.
	SecurityLevel int    `yaml:"security_level,omitempty"`
	Owner         string `yaml:"owner,omitempty"`
}

type canonAsset struct {
	Name        string `yaml:"name"`
	Description string `yaml:"description,omitempty"`
	Zone        string `yaml:"zone"`
	Address     string `yaml:"address"`
	Importance  string `yaml:"importance"`
}

type canonConduit struct {
	Name        string   `yaml:"name"`
	Description string   `yaml:"description,omitempty"`
	From        string   `yaml:"from"`
	To          string   `yaml:"to"`
	FromAssets  []string `yaml:"from_assets,flow,omitempty"`
	ToAssets    []string `yaml:"to_assets,flow,omitempty"`
	Services    []string `yaml:"services,flow"`
	Inspect     string   `yaml:"inspect,omitempty"`
	// Rules holds the inspected protocol's block under its name
	// (`modbus:`) in the protocol's canonical form. Inline: it is written
	// and hashed as a key of the conduit, after the keys above.
	Rules map[string]any `yaml:",inline"`
}

func sortedCopy(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	if out == nil {
		out = []string{}
	}
	return out
}

func comparePrefixes(a, b netip.Prefix) int {
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c
	}
	return a.Bits() - b.Bits()
}

// SortPrefixes sorts prefixes IPv4 first, then by address and length.
func SortPrefixes(ps []netip.Prefix) { slices.SortFunc(ps, comparePrefixes) }

// Canonical returns the canonical YAML form of the model.
func (m *Model) Canonical() []byte {
	out, err := yaml.Marshal(m.canonical())
	if err != nil {
		panic("zone: canonical form cannot be marshalled: " + err.Error()) // plain data: cannot happen
	}
	return out
}

func (m *Model) canonical() canonModel {
	cm := canonModel{Version: m.Version}
	cm.Gateway.Name = m.Gateway.Name
	cm.Gateway.Management.Zones = sortedCopy(m.Gateway.ManagementZones)
	for _, z := range m.Zones {
		nets := slices.Clone(z.Networks)
		SortPrefixes(nets)
		cz := canonZone{Name: z.Name, Description: z.Description, Importance: z.Importance.String(), Interfaces: sortedCopy(z.Interfaces),
			SecurityLevel: z.SecurityLevel, Owner: z.Owner}
		for _, n := range nets {
			cz.Networks = append(cz.Networks, n.String())
		}
		cm.Zones = append(cm.Zones, cz)
	}
	slices.SortFunc(cm.Zones, func(a, b canonZone) int { return cmp.Compare(a.Name, b.Name) })
	for _, a := range m.Assets {
		cm.Assets = append(cm.Assets, canonAsset{Name: a.Name, Description: a.Description, Zone: a.Zone, Address: a.Address.String(), Importance: a.Importance.String()})
	}
	slices.SortFunc(cm.Assets, func(a, b canonAsset) int { return cmp.Compare(a.Name, b.Name) })
	for _, c := range m.Conduits {
		cm.Conduits = append(cm.Conduits, canonicalConduit(c))
	}
	slices.SortFunc(cm.Conduits, func(a, b canonConduit) int { return cmp.Compare(a.Name, b.Name) })
	return cm
}

func canonicalConduit(c *Conduit) canonConduit {
	svcs := slices.Clone(c.Services)
	slices.SortFunc(svcs, compareServices)
	cc := canonConduit{Name: c.Name, Description: c.Description, From: c.From, To: c.To, Inspect: c.Inspect}
	if len(c.FromAssets) > 0 {
		cc.FromAssets = sortedCopy(c.FromAssets)
	}
	if len(c.ToAssets) > 0 {
		cc.ToAssets = sortedCopy(c.ToAssets)
	}
	for _, s := range svcs {
		cc.Services = append(cc.Services, s.String())
	}
	if p, ok := registry.Lookup(c.Inspect); ok && c.Rules != nil {
		cc.Rules = map[string]any{p.Name: p.Canonical(c.Rules)}
	}
	return cc
}
