package modbusrules

import (
	"fmt"
	"strings"

	"github.com/zonegate/zonegate/protocols/modbus"
	"github.com/zonegate/zonegate/protocols/rulesblock"
)

// Lint rules of Modbus, printed in brackets in every warning.
const (
	RuleModbusUninspected = "modbus-uninspected"
	RuleMonitorIntoHigh   = "monitor-into-high"
	RuleDisruptiveDiag    = "disruptive-diagnostics"
)

// modbusPort is the Modbus/TCP port a conduit carries uninspected.
const modbusPort = 502

// check refuses a block that would deny every request.
func check(c rulesblock.Conduit, errorf rulesblock.Errorf) {
	s := c.Rules.(*modbus.Spec)
	if s.Mode == modbus.ModeEnforce && len(s.Rules) == 0 && !anyRoleRule(s) {
		errorf(c.At(Name), "conduit %q: the modbus block allows nothing, so every request would be denied: add `allow:` rules", c.Name)
	}
	checkSecurity(c, s, errorf)
}

// lint warns about Modbus carried uninspected into a more important zone,
// a Modbus conduit into a high-importance zone that only monitors, and
// diagnostics that take a device off the bus allowed into one.
func lint(c rulesblock.Conduit, warnf rulesblock.Warnf) {
	from, to := c.From, c.To
	if from.Importance < to.Importance && c.Inspect != Name {
		for i, s := range c.Services {
			if s.Proto == "tcp" && s.HasPort(modbusPort) {
				warnf(c.At(fmt.Sprintf("services.%d", i)), RuleModbusUninspected, "conduit %q carries Modbus (%s) from %s zone %q into %s zone %q without inspection: add `inspect: modbus` with an allow list", c.Name, s, from.Importance, from.Name, to.Importance, to.Name)
			}
		}
	}
	spec, _ := c.Rules.(*modbus.Spec)
	if spec == nil || to.Importance != rulesblock.High {
		return
	}
	if spec.Mode == modbus.ModeMonitor {
		warnf(c.At(Name), RuleMonitorIntoHigh, "conduit %q only monitors Modbus into high-importance zone %q: denied requests still reach the devices; use `mode: enforce` once the allow list is complete", c.Name, to.Name)
	}
	if off := offBusDiagnostics(spec); len(off) > 0 {
		warnf(c.At(Name), RuleDisruptiveDiag, "conduit %q allows diagnostics %s into high-importance zone %q: one request takes a device off the bus until it is restarted; remove them from sub_functions unless this conduit is for maintenance", c.Name, strings.Join(off, " and "), to.Name)
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
