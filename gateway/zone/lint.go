package zone

import (
	"fmt"
	"slices"
	"strings"

	"github.com/zonegate/zonegate/protocols/registry"
	"github.com/zonegate/zonegate/protocols/rulesblock"
)

// Lint rule names of the zone model, printed in brackets in every warning.
// The inspected protocols add their own (package registry).
const (
	RuleWholeProtocolHigh = "whole-protocol-into-high"
	RuleTransitivePath    = "transitive-path"
	RuleNoManagementZone  = "no-management-zone"
	RuleSLTargetGap       = "sl-target-gap"
)

// Lint returns warnings about choices that are legal but risky: the zone
// model's own rules and those of every registered protocol. With --strict
// the CLI treats them as errors.
func (m *Model) Lint() Diagnostics {
	r := &reporter{file: m.File}
	protocols := registry.All()
	inspectAdvice := inspectExamples(registry.Names())
	var services []rulesblock.Service // reused from conduit to conduit
	if len(m.Gateway.ManagementZones) == 0 {
		r.warnf(m.Gateway.at.self, RuleNoManagementZone, "no management zone: nobody can reach the gateway's own services; add `management: {zones: [ZONE]}` under gateway")
	}
	for _, c := range m.Conduits {
		from, to := m.Zone(c.From), m.Zone(c.To)
		if from == nil || to == nil {
			continue
		}
		// The protocols' rules first: where one warns at the same place
		// as a rule below, its warning comes first.
		view := m.protocolView(c, nil, services)
		services = view.Services
		for _, p := range protocols {
			if p.Lint == nil {
				continue
			}
			view.Rules = nil
			if c.Inspect == p.Name {
				view.Rules = c.Rules
			}
			p.Lint(view, r.warnf)
		}
		for i, s := range c.Services {
			at := c.at.pos(fmt.Sprintf("services.%d", i))
			if to.Importance == High && s.WholeProtocol() {
				r.warnf(at, RuleWholeProtocolHigh, "conduit %q allows all of %s into high-importance zone %q: name the ports or types it needs", c.Name, s.Proto, to.Name)
			}
		}
		if from.SecurityLevel > 0 && to.SecurityLevel > from.SecurityLevel && c.Inspect == "" {
			r.warnf(c.at.self, RuleSLTargetGap, "conduit %q leads from zone %q (SL-T %d) into zone %q (SL-T %d) without inspection: the higher zone's security level is not enforced at this boundary; add inspection (%s), route the flow through a zone of the higher level, or lower the target of %q", c.Name, from.Name, from.SecurityLevel, to.Name, to.SecurityLevel, inspectAdvice, to.Name)
		}
	}
	m.lintTransitivePaths(r)
	r.diags.sortByPos()
	return r.diags
}

// transitiveShown is how many paths one transitive-path warning prints.
const transitiveShown = 3

// lintTransitivePaths warns about every low-importance zone that can reach
// a high-importance zone over two or more conduits: one warning per low
// zone, with the number of high zones it reaches that way and the shortest
// path to the first few of them.
func (m *Model) lintTransitivePaths(r *reporter) {
	out := map[string][]*Conduit{}
	for _, c := range m.Conduits {
		if m.Zone(c.From) != nil && m.Zone(c.To) != nil {
			out[c.From] = append(out[c.From], c)
		}
	}
	for _, start := range m.Zones {
		if start.Importance != Low {
			continue
		}
		// Breadth-first search: via[z] is the conduit used to reach z first.
		via := map[string]*Conduit{}
		visited := map[string]bool{start.Name: true}
		queue := []string{start.Name}
		for len(queue) > 0 {
			cur := queue[0]
			queue = queue[1:]
			for _, c := range out[cur] {
				if visited[c.To] {
					continue
				}
				visited[c.To] = true
				via[c.To] = c
				if to := m.Zone(c.To); to.Importance != High {
					// A path is reported where it first enters a high
					// zone; what lies behind that zone adds nothing.
					queue = append(queue, c.To)
				}
			}
		}
		// One warning per low zone: the paths into every high zone it
		// reaches over two or more conduits, the first few printed.
		type path struct {
			end  string
			hops []*Conduit
		}
		var paths []path
		for _, end := range m.Zones {
			if end.Importance != High || via[end.Name] == nil {
				continue
			}
			var hops []*Conduit
			for z := end.Name; z != start.Name; z = via[z].From {
				hops = append(hops, via[z])
			}
			if len(hops) >= 2 {
				slices.Reverse(hops)
				paths = append(paths, path{end.Name, hops})
			}
		}
		if len(paths) == 0 {
			continue
		}
		shown := make([]string, 0, transitiveShown)
		for _, p := range paths[:min(len(paths), transitiveShown)] {
			zones := []string{start.Name}
			names := []string{}
			for _, c := range p.hops {
				zones = append(zones, c.To)
				names = append(names, c.Name)
			}
			shown = append(shown, fmt.Sprintf("%s (via %s)", strings.Join(zones, " -> "), strings.Join(names, ", ")))
		}
		at := paths[0].hops[0].at.self
		if len(paths) == 1 {
			r.warnf(at, RuleTransitivePath, "low-importance zone %q reaches high-importance zone %q over %d conduits: %s; make sure the middle zones terminate these flows",
				start.Name, paths[0].end, len(paths[0].hops), shown[0])
			continue
		}
		more := ""
		if len(paths) > transitiveShown {
			more = fmt.Sprintf("; and %d more", len(paths)-transitiveShown)
		}
		r.warnf(at, RuleTransitivePath, "low-importance zone %q reaches %d high-importance zones over two or more conduits: %s%s; make sure the middle zones terminate these flows",
			start.Name, len(paths), strings.Join(shown, "; "), more)
	}
}
