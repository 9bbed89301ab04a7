package zone

import (
	"fmt"
	"slices"
	"strings"

	"github.com/zonegate/zonegate/protocols/modbus"
)

// Lint rule names, printed in brackets in every warning.
const (
	RuleModbusUninspected = "modbus-uninspected"
	RuleWholeProtocolHigh = "whole-protocol-into-high"
	RuleTransitivePath    = "transitive-path"
	RuleNoManagementZone  = "no-management-zone"
	RuleMonitorIntoHigh   = "monitor-into-high"
	RuleSLTargetGap       = "sl-target-gap"
	RuleDisruptiveDiag    = "disruptive-diagnostics"
)

// Lint returns warnings about choices that are legal but risky. With
// --strict the CLI treats them as errors.
func (m *Model) Lint() Diagnostics {
	r := &reporter{file: m.File}
	if len(m.Gateway.ManagementZones) == 0 {
		r.warnf(m.Gateway.at.self, RuleNoManagementZone, "no management zone: nobody can reach the gateway's own services; add `management: {zones: [ZONE]}` under gateway")
	}
	for _, c := range m.Conduits {
		from, to := m.Zone(c.From), m.Zone(c.To)
		if from == nil || to == nil {
			continue
		}
		upward := from.Importance < to.Importance
		for i, s := range c.Services {
			at := c.at.pos(fmt.Sprintf("services.%d", i))
			if upward && c.Inspect != InspectModbus && s.Proto == TCP && s.HasPort(502) {
				r.warnf(at, RuleModbusUninspected, "conduit %q carries Modbus (%s) from %s zone %q into %s zone %q without inspection: add `inspect: modbus` with an allow list", c.Name, s, from.Importance, from.Name, to.Importance, to.Name)
			}
			if to.Importance == High && s.WholeProtocol() {
				r.warnf(at, RuleWholeProtocolHigh, "conduit %q allows all of %s into high-importance zone %q: name the ports or types it needs", c.Name, s.Proto, to.Name)
			}
		}
		if from.SecurityLevel > 0 && to.SecurityLevel > from.SecurityLevel && c.Inspect == "" {
			r.warnf(c.at.self, RuleSLTargetGap, "conduit %q leads from zone %q (SL-T %d) into zone %q (SL-T %d) without inspection: the higher zone's security level is not enforced at this boundary; add inspection (`inspect: modbus`), route the flow through a zone of the higher level, or lower the target of %q", c.Name, from.Name, from.SecurityLevel, to.Name, to.SecurityLevel, to.Name)
		}
		if c.Modbus != nil && c.Modbus.Mode == modbus.ModeMonitor && to.Importance == High {
			r.warnf(c.at.pos("modbus"), RuleMonitorIntoHigh, "conduit %q only monitors Modbus into high-importance zone %q: denied requests still reach the devices; use `mode: enforce` once the allow list is complete", c.Name, to.Name)
		}
		if c.Modbus != nil && to.Importance == High {
			if off := offBusDiagnostics(c.Modbus); len(off) > 0 {
				r.warnf(c.at.pos("modbus"), RuleDisruptiveDiag, "conduit %q allows diagnostics %s into high-importance zone %q: one request takes a device off the bus until it is restarted; remove them from sub_functions unless this conduit is for maintenance", c.Name, strings.Join(off, " and "), to.Name)
			}
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

// offBusDiagnostics lists the diagnostics sub-functions a Modbus block
// allows that take a device off the bus (restart communications, force
// listen only mode).
func offBusDiagnostics(s *modbus.Spec) []string {
	var out []string
	seen := map[uint16]bool{}
	for _, r := range s.Rules {
		if r.Access != modbus.AccessFunction || r.Function != modbus.FuncDiagnostics {
			continue
		}
		for _, sf := range r.SubFunctions {
			if d, ok := modbus.LookupDiagSubFunction(sf); ok && d.OffBus && !seen[sf] {
				seen[sf] = true
				out = append(out, d.Name)
			}
		}
	}
	return out
}
