package modbusrules

import (
	"cmp"
	"slices"
	"strconv"

	"github.com/zonegate/zonegate/protocols/modbus"
)

// canonModbus is the canonical form of a `modbus:` block. Its field names,
// tags and order are hashed into every model's digest: add fields (with
// omitempty), never rename or reorder them.
type canonModbus struct {
	Mode    string          `yaml:"mode"`
	OnDeny  string          `yaml:"on_deny"`
	Units   []int           `yaml:"units,flow,omitempty"`
	Allow   []canonMbusRule `yaml:"allow"`
	MaxRate string          `yaml:"max_rate,omitempty"`
	// Added after the first digests were taken: omitted when unset.
	ResponseTimeout      string `yaml:"response_timeout,omitempty"`
	MaxDeviceConnections int    `yaml:"max_device_connections,omitempty"`
	MaxInFlight          int    `yaml:"max_in_flight,omitempty"`
	DeviceIdleTimeout    string `yaml:"device_idle_timeout,omitempty"`
	RedialAfterTimeouts  int    `yaml:"redial_after_timeouts,omitempty"`
	FrameTimeout         string `yaml:"frame_timeout,omitempty"`
	// Modbus/TCP Security (security.go); omitted when unset.
	TLS   *canonTLS                  `yaml:"tls,omitempty"`
	Roles map[string][]canonMbusRule `yaml:"roles,omitempty"`
}

type canonMbusRule struct {
	Read      string `yaml:"read,omitempty"`
	Write     string `yaml:"write,omitempty"`
	Function  string `yaml:"function,omitempty"`
	Addresses string `yaml:"addresses,omitempty"`
	Values    string `yaml:"values,omitempty"`
	// Added after the first digests were taken: omitted when unset.
	SubFunctions []string `yaml:"sub_functions,flow,omitempty"`
}

// canonical writes a Spec one way only: units and rules sorted, repeated
// rules dropped, defaults written out.
func canonical(s *modbus.Spec) *canonModbus {
	cm := &canonModbus{Mode: s.Mode.String(), OnDeny: s.OnDeny.String(), Allow: []canonMbusRule{}}
	for _, u := range s.Units {
		cm.Units = append(cm.Units, int(u))
	}
	slices.Sort(cm.Units)
	cm.Allow = canonRules(s.Rules)
	cm.TLS, cm.Roles = canonSecurity(s)
	if s.MaxRate > 0 {
		cm.MaxRate = strconv.FormatFloat(s.MaxRate, 'g', -1, 64) + "/s"
	}
	if s.ResponseTimeout > 0 {
		cm.ResponseTimeout = s.ResponseTimeout.String()
	}
	cm.MaxDeviceConnections, cm.MaxInFlight, cm.RedialAfterTimeouts = s.MaxDeviceConns, s.MaxInFlight, s.RedialAfterTimeouts
	if s.FrameTimeout > 0 {
		cm.FrameTimeout = s.FrameTimeout.String()
	}
	if s.DeviceIdleTimeout > 0 {
		cm.DeviceIdleTimeout = s.DeviceIdleTimeout.String()
	}
	return cm
}

// compareSubFunctions orders sub-function lists; nil (the default set)
// before any list.
func compareSubFunctions(a, b []string) int {
	if (a == nil) != (b == nil) {
		if a == nil {
			return -1
		}
		return 1
	}
	return slices.Compare(a, b)
}

// canonRules writes allow rules one way only: sorted, repeats dropped.
func canonRules(rules []modbus.Rule) []canonMbusRule {
	out := []canonMbusRule{}
	for _, r := range rules {
		cr := canonMbusRule{}
		switch r.Access {
		case modbus.AccessRead:
			cr.Read, cr.Addresses = r.Table.String(), r.Addresses.String()
		case modbus.AccessWrite:
			cr.Write, cr.Addresses = r.Table.String(), r.Addresses.String()
			if r.Values != nil {
				cr.Values = r.Values.String()
			}
		case modbus.AccessFunction:
			cr.Function = modbus.FunctionRuleName(r)
			subs := slices.Clone(r.SubFunctions)
			slices.Sort(subs)
			for _, sf := range slices.Compact(subs) {
				cr.SubFunctions = append(cr.SubFunctions, modbus.DiagSubFunctionName(sf))
			}
		}
		out = append(out, cr)
	}
	compare := func(a, b canonMbusRule) int {
		return cmp.Or(cmp.Compare(a.Read, b.Read), cmp.Compare(a.Write, b.Write), cmp.Compare(a.Function, b.Function),
			cmp.Compare(a.Addresses, b.Addresses), cmp.Compare(a.Values, b.Values),
			compareSubFunctions(a.SubFunctions, b.SubFunctions))
	}
	slices.SortFunc(out, compare)
	return slices.CompactFunc(out, func(a, b canonMbusRule) bool { return compare(a, b) == 0 })
}
