package modbusrules

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/zonegate/zonegate/protocols/modbus"
	"github.com/zonegate/zonegate/protocols/rulesblock"
)

// read reads a conduit's `modbus:` block.
func read(r *rulesblock.Reader, n *yaml.Node) *modbus.Spec {
	spec := &modbus.Spec{}
	known := []string{"mode", "on_deny", "units", "allow", "max_rate", "response_timeout",
		"max_device_connections", "max_in_flight", "device_idle_timeout", "redial_after_timeouts", "frame_timeout", "tls", "roles"}
	r.Fields(n, "the modbus block", known, func(key string, k, v *yaml.Node) {
		switch key {
		case "mode":
			if i := r.OneOf(v, "modbus mode", "enforce", "monitor"); i >= 0 {
				spec.Mode = []modbus.Mode{modbus.ModeEnforce, modbus.ModeMonitor}[i]
			}
		case "on_deny":
			if i := r.OneOf(v, "on_deny", "exception", "reset"); i >= 0 {
				spec.OnDeny = []modbus.DenyAction{modbus.DenyException, modbus.DenyReset}[i]
			}
		case "units":
			spec.Units = readUnits(r, v)
		case "allow":
			r.Each(v, "allow", func(e *yaml.Node) {
				if rule, ok := readRule(r, e); ok {
					spec.Rules = append(spec.Rules, rule)
				}
			})
		case "max_rate":
			if s, ok := r.Str(v, "max_rate"); ok {
				rate, err := parseRate(s)
				if err != nil {
					r.Errorf(rulesblock.PosOf(v), "%v", err)
				}
				spec.MaxRate = rate
			}
		case "tls": // Modbus/TCP Security: security.go
			spec.Security = readSecurity(r, v)
		case "roles":
			spec.Roles = readRoles(r, v)
		case "response_timeout":
			if s, ok := r.Str(v, "response_timeout"); ok {
				d, err := ParseResponseTimeout(s)
				if err != nil {
					r.Errorf(rulesblock.PosOf(v), "%v", err)
				}
				spec.ResponseTimeout = d
			}
		case "max_device_connections":
			spec.MaxDeviceConns = readCount(r, v, key, modbus.MaxDeviceConns,
				"the TCP connections the gateway opens to one device, shared by all its clients, such as 1")
		case "max_in_flight":
			spec.MaxInFlight = readCount(r, v, key, modbus.MaxInFlight,
				"the requests outstanding on one device connection, such as 1 for a PLC that answers one at a time")
		case "redial_after_timeouts":
			spec.RedialAfterTimeouts = readCount(r, v, key, modbus.MaxRedialAfter,
				"how many requests in a row may time out with no byte from the device before the gateway connects again, such as 2")
		case "frame_timeout":
			if s, ok := r.Str(v, key); ok {
				d, err := ParseFrameTimeout(s)
				if err != nil {
					r.Errorf(rulesblock.PosOf(v), "%v", err)
				}
				spec.FrameTimeout = d
			}
		case "device_idle_timeout":
			if s, ok := r.Str(v, key); ok {
				d, err := ParseDeviceIdleTimeout(s)
				if err != nil {
					r.Errorf(rulesblock.PosOf(v), "%v", err)
				}
				spec.DeviceIdleTimeout = d
			}
		}
	})
	return spec
}

// readUnits reads the `units:` list: unit identifiers 0-255, no repeats, at
// least one.
func readUnits(r *rulesblock.Reader, v *yaml.Node) []uint8 {
	seen := map[int]bool{}
	units := []uint8{}
	r.Each(v, "units", func(e *yaml.Node) {
		u, ok := r.Int(e, "a unit identifier")
		switch {
		case !ok:
		case u < 0 || u > 255:
			r.Errorf(rulesblock.PosOf(e), "unit identifier %d is outside 0-255", u)
		case seen[u]:
			r.Errorf(rulesblock.PosOf(e), "unit identifier %d is listed twice: remove one", u)
		default:
			seen[u] = true
			units = append(units, uint8(u))
		}
	})
	if vn := r.Resolve(v); (vn.Kind == yaml.SequenceNode && len(vn.Content) == 0) || rulesblock.IsNull(vn) {
		// An empty list would allow no unit at all, while the canonical
		// form (and a reader) takes it for "any unit".
		r.Errorf(rulesblock.PosOf(v), "units lists no unit identifier: list the allowed units, such as [1], or remove `units:` to allow any unit")
	}
	return units
}

// readRule reads one entry of a modbus allow list.
func readRule(r *rulesblock.Reader, n *yaml.Node) (modbus.Rule, bool) {
	var rule modbus.Rule
	var kinds []string
	var addrNode, valNode, kindNode *yaml.Node
	var subNode *yaml.Node
	ok := r.Fields(n, "a modbus allow rule", []string{"read", "write", "function", "addresses", "values", "sub_functions"}, func(key string, k, v *yaml.Node) {
		switch key {
		case "sub_functions":
			subNode = k
		case "read", "write", "function":
			kinds = append(kinds, key)
			kindNode = v
		case "addresses":
			addrNode = v
		case "values":
			valNode = v
		}
	})
	if !ok {
		return rule, false
	}
	at := rulesblock.PosOf(n)
	if len(kinds) != 1 {
		r.Errorf(at, "a modbus allow rule needs exactly one of read:, write: or function: (found %d)", len(kinds))
		return rule, false
	}
	name, good := r.Str(kindNode, kinds[0])
	if !good {
		return rule, false
	}
	switch kinds[0] {
	case "function":
		fr, err := modbus.ParseFunctionRule(name)
		if err != nil {
			r.Errorf(rulesblock.PosOf(kindNode), "%v", err)
			return rule, false
		}
		if addrNode != nil || valNode != nil {
			r.Errorf(at, "a function: rule takes no addresses: or values: (function %s has no address semantics)", name)
			return rule, false
		}
		if subNode != nil {
			if fr.Function != modbus.FuncDiagnostics {
				r.Errorf(rulesblock.PosOf(subNode), "sub_functions: applies only to `function: diagnostics` (FC 8), not function %s: remove it", name)
				return rule, false
			}
			subs, good := readSubFunctions(r, n)
			if !good {
				return rule, false
			}
			fr.SubFunctions = subs
		}
		return fr, true
	case "read":
		rule.Access = modbus.AccessRead
	case "write":
		rule.Access = modbus.AccessWrite
	}
	t, err := modbus.ParseTable(name)
	if err != nil {
		if c := rulesblock.Closest(name, modbus.TableNames()); c != "" {
			err = fmt.Errorf("unknown Modbus table %q: did you mean %s?", name, c)
		}
		r.Errorf(rulesblock.PosOf(kindNode), "%v", err)
		return rule, false
	}
	rule.Table = t
	if subNode != nil {
		r.Errorf(rulesblock.PosOf(subNode), "sub_functions: applies only to `function: diagnostics` rules, not to a %s rule: remove it", kinds[0])
		return rule, false
	}
	if rule.Access == modbus.AccessWrite && !t.Writable() {
		r.Errorf(rulesblock.PosOf(kindNode), "table %s is read-only in Modbus: a write rule needs coils or holding_registers", t)
		return rule, false
	}
	if addrNode == nil {
		r.Errorf(at, "a %s rule needs `addresses: LO-HI` (zero-based PDU addresses, inclusive)", kinds[0])
		return rule, false
	}
	s, good := r.Str(addrNode, "addresses")
	if !good {
		return rule, false
	}
	if rule.Addresses, err = modbus.ParseRange(s, 65535); err != nil {
		r.Errorf(rulesblock.PosOf(addrNode), "addresses: %v", err)
		return rule, false
	}
	if valNode != nil {
		if rule.Access != modbus.AccessWrite || t != modbus.HoldingRegisters {
			r.Errorf(rulesblock.PosOf(valNode), "values: applies only to `write: holding_registers` rules")
			return rule, false
		}
		s, good := r.Str(valNode, "values")
		if !good {
			return rule, false
		}
		vr, err := modbus.ParseRange(s, 65535)
		if err != nil {
			r.Errorf(rulesblock.PosOf(valNode), "values: %v", err)
			return rule, false
		}
		rule.Values = &vr
	}
	return rule, true
}

// readSubFunctions reads the `sub_functions:` list of the diagnostics rule
// n: names or numbers 0-65535, no repeats, at least one.
func readSubFunctions(r *rulesblock.Reader, rule *yaml.Node) ([]uint16, bool) {
	var v *yaml.Node
	for i := 0; i+1 < len(rule.Content); i += 2 {
		if r.Resolve(rule.Content[i]).Value == "sub_functions" {
			v = rule.Content[i+1]
		}
	}
	good := true
	seen := map[uint16]bool{}
	subs := []uint16{}
	r.Each(v, "sub_functions", func(e *yaml.Node) {
		s, ok := r.Str(e, "a diagnostics sub-function")
		if !ok {
			good = false
			return
		}
		code, err := modbus.ParseDiagSubFunction(s)
		if err != nil {
			if c := closestOrContaining(s, modbus.DiagSubFunctionNames()); c != "" {
				err = fmt.Errorf("unknown diagnostics sub-function %q: did you mean %s? (or a number 0-65535)", s, c)
			}
			r.Errorf(rulesblock.PosOf(e), "%v", err)
			good = false
			return
		}
		if seen[code] {
			r.Errorf(rulesblock.PosOf(e), "diagnostics sub-function %s is listed twice: remove one", s)
			good = false
			return
		}
		seen[code] = true
		subs = append(subs, code)
	})
	if vn := r.Resolve(v); good && len(subs) == 0 {
		r.Errorf(rulesblock.PosOf(vn), "sub_functions lists no sub-function: name the ones to allow, such as [return_query_data], or remove `sub_functions:` to allow the non-disruptive ones")
		return nil, false
	}
	return subs, good
}

// closestOrContaining is Closest, or else the one candidate that contains
// s (as "restart" in "restart_communications").
func closestOrContaining(s string, candidates []string) string {
	if c := rulesblock.Closest(s, candidates); c != "" {
		return c
	}
	var found []string
	for _, c := range candidates {
		if s != "" && strings.Contains(c, s) {
			found = append(found, c)
		}
	}
	if len(found) == 1 {
		return found[0]
	}
	return ""
}

// ParseResponseTimeout parses a `response_timeout:` value: a Go duration
// above 0 and at most modbus.MaxResponseTimeout, such as 500ms or 2s.
func ParseResponseTimeout(s string) (time.Duration, error) {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	switch {
	case err != nil:
		return 0, fmt.Errorf("response_timeout %q is not a duration: write it like 500ms, 1s or 2.5s", s)
	case d <= 0:
		return 0, fmt.Errorf("response_timeout %q must be above 0: write how long the device may take to answer, such as 500ms, or remove the line for the default", s)
	case d > modbus.MaxResponseTimeout:
		return 0, fmt.Errorf("response_timeout %q is above %v: a client does not wait that long; use a shorter time, such as 5s", s, modbus.MaxResponseTimeout)
	}
	return d, nil
}

// readCount reads a whole number from 1 to hi of the device settings.
func readCount(r *rulesblock.Reader, v *yaml.Node, key string, hi int, what string) int {
	n, ok := r.Int(v, key)
	if !ok {
		return 0
	}
	if n < 1 || n > hi {
		r.Errorf(rulesblock.PosOf(v), "%s %d is outside 1-%d: write %s, or remove the line for the default", key, n, hi, what)
		return 0
	}
	return n
}

// ParseDeviceIdleTimeout parses a `device_idle_timeout:` value: a Go
// duration from modbus.MinDeviceIdleTimeout to modbus.MaxDeviceIdleTimeout.
func ParseDeviceIdleTimeout(s string) (time.Duration, error) {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	switch {
	case err != nil:
		return 0, fmt.Errorf("device_idle_timeout %q is not a duration: write it like 30s, 1m or 10m", s)
	case d < modbus.MinDeviceIdleTimeout || d > modbus.MaxDeviceIdleTimeout:
		return 0, fmt.Errorf("device_idle_timeout %q is outside %v-%v: write how long an unused device connection stays open, such as 1m, or remove the line for the default", s, modbus.MinDeviceIdleTimeout, modbus.MaxDeviceIdleTimeout)
	}
	return d, nil
}

// ParseFrameTimeout parses a `frame_timeout:` value: a Go duration from
// modbus.MinFrameTimeout to modbus.MaxFrameTimeout.
func ParseFrameTimeout(s string) (time.Duration, error) {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	switch {
	case err != nil:
		return 0, fmt.Errorf("frame_timeout %q is not a duration: write it like 500ms or 2s", s)
	case d < modbus.MinFrameTimeout || d > modbus.MaxFrameTimeout:
		return 0, fmt.Errorf("frame_timeout %q is outside %v-%v: write how long a device may pause inside one answer, such as 2s, or remove the line for the default (10s)", s, modbus.MinFrameTimeout, modbus.MaxFrameTimeout)
	}
	return d, nil
}

// parseRate parses N/s, N/m or N/h into requests per second.
func parseRate(s string) (float64, error) {
	num, unit, ok := strings.Cut(strings.TrimSpace(s), "/")
	n, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	if !ok || err != nil || n <= 0 || math.IsInf(n, 0) || math.IsNaN(n) {
		return 0, fmt.Errorf("max_rate %q must look like 100/s (requests per second per connection; /m and /h also work)", s)
	}
	switch strings.TrimSpace(unit) {
	case "s":
		return n, nil
	case "m":
		return n / 60, nil
	case "h":
		return n / 3600, nil
	}
	return 0, fmt.Errorf("max_rate %q: unit must be s, m or h, as in 100/s", s)
}
