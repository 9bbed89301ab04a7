package modbusrules

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/zonegate/zonegate/protocols/modbus"
)

// tableAbbrev are the short table names of the drawings.
var tableAbbrev = map[modbus.Table]string{
	modbus.Coils:            "co",
	modbus.DiscreteInputs:   "di",
	modbus.HoldingRegisters: "hr",
	modbus.InputRegisters:   "ir",
}

func abbrev(t modbus.Table) string {
	if a, ok := tableAbbrev[t]; ok {
		return a
	}
	return t.String()
}

func rate(perSecond float64) string {
	return strconv.FormatFloat(perSecond, 'g', 6, 64) + "/s"
}

// Summary is a short description of a Modbus policy for a drawing,
// one group per line: "read hr 0-99, co 0-63", "write hr 10-19 ≤ 1000",
// "fn read_device_identification", "unit 1", "≤ 100/s". Table names are
// shortened to co, di, hr and ir; rules keep the model's order.
func Summary(s *modbus.Spec) []string {
	var reads, writes, fns []string
	for _, r := range s.Rules {
		switch r.Access {
		case modbus.AccessRead:
			reads = append(reads, abbrev(r.Table)+" "+r.Addresses.String())
		case modbus.AccessWrite:
			w := abbrev(r.Table) + " " + r.Addresses.String()
			if v := r.Values; v != nil {
				if v.Lo == 0 {
					w += fmt.Sprintf(" ≤ %d", v.Hi)
				} else {
					w += " values " + v.String()
				}
			}
			writes = append(writes, w)
		case modbus.AccessFunction:
			fns = append(fns, modbus.FunctionRuleName(r))
		}
	}
	var out []string
	if s.Mode == modbus.ModeMonitor {
		out = append(out, "MONITOR only, denies nothing")
	}
	if len(reads) > 0 {
		out = append(out, "read "+strings.Join(reads, ", "))
	}
	if len(writes) > 0 {
		out = append(out, "write "+strings.Join(writes, ", "))
	}
	if len(fns) > 0 {
		out = append(out, "fn "+strings.Join(fns, ", "))
	}
	if len(s.Rules) == 0 && !anyRoleRule(s) {
		out = append(out, "allows no request")
	}
	if len(s.Units) > 0 {
		out = append(out, unitList(s.Units, "unit ", "units "))
	}
	if s.MaxRate > 0 {
		out = append(out, "≤ "+rate(s.MaxRate))
	}
	if s.OnDeny == modbus.DenyReset && s.Mode == modbus.ModeEnforce {
		out = append(out, "deny: reset")
	}
	out = append(out, securitySummary(s)...)
	return out
}

func unitList(units []uint8, one, many string) string {
	s := make([]string, len(units))
	for i, u := range units {
		s[i] = strconv.Itoa(int(u))
	}
	if len(s) == 1 {
		return one + s[0]
	}
	return many + strings.Join(s, ", ")
}

func tableWords(t modbus.Table) string { return strings.ReplaceAll(t.String(), "_", " ") }

// Words describes a Modbus policy in sentences for a report.
func Words(s *modbus.Spec) string {
	var b strings.Builder
	if s.Mode == modbus.ModeMonitor {
		b.WriteString("Monitor mode: every request is forwarded; those the rules below do not allow are only reported. ")
	} else if s.OnDeny == modbus.DenyReset {
		b.WriteString("Enforced: a request the rules do not allow closes the connection. ")
	} else {
		b.WriteString("Enforced: a request the rules do not allow is answered with a Modbus exception. ")
	}
	if len(s.Units) > 0 {
		b.WriteString(unitList(s.Units, "Unit identifier ", "Unit identifiers ") + " only. ")
	} else {
		b.WriteString("Any unit identifier. ")
	}
	var rules []string
	for _, r := range s.Rules {
		switch r.Access {
		case modbus.AccessRead:
			rules = append(rules, fmt.Sprintf("read %s %s", tableWords(r.Table), r.Addresses))
		case modbus.AccessWrite:
			w := fmt.Sprintf("write %s %s", tableWords(r.Table), r.Addresses)
			if r.Values != nil {
				w += fmt.Sprintf(" with values %s", r.Values)
			}
			rules = append(rules, w)
		case modbus.AccessFunction:
			f := fmt.Sprintf("function %s (FC %d)", modbus.FunctionRuleName(r), r.Function)
			if r.Function == modbus.FuncDiagnostics {
				if r.SubFunctions == nil {
					f += " with its non-disruptive sub-functions"
				} else {
					var names []string
					for _, sf := range r.SubFunctions {
						names = append(names, modbus.DiagSubFunctionName(sf))
					}
					f += " with sub-functions " + strings.Join(names, ", ")
				}
			}
			rules = append(rules, f)
		}
	}
	if len(rules) == 0 && anyRoleRule(s) {
		b.WriteString("Without a role, no request is allowed.")
	} else if len(rules) == 0 {
		b.WriteString("No request is allowed.")
	} else {
		b.WriteString("Allowed: " + strings.Join(rules, "; ") + ".")
	}
	if s.MaxRate > 0 {
		b.WriteString(" At most " + rate(s.MaxRate) + " requests per client connection.")
	}
	if s.MaxDeviceConns > 0 {
		b.WriteString(" At most " + strconv.Itoa(s.MaxDeviceConns) + " connections to a device, shared by its clients.")
	}
	if s.MaxInFlight > 0 {
		b.WriteString(" At most " + strconv.Itoa(s.MaxInFlight) + " requests in flight per device connection.")
	}
	if s.Mode == modbus.ModeMonitor {
		b.WriteString(" Everything else would be denied in enforce mode.")
	} else {
		b.WriteString(" Everything else is denied.")
	}
	b.WriteString(securityWords(s))
	return b.String()
}
