package modbusrules

import (
	"fmt"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/zonegate/zonegate/protocols/modbus"
	"github.com/zonegate/zonegate/protocols/rulesblock"
)

// readSecurity reads the `tls:` block of a modbus block (Modbus/TCP
// Security terminated at the gateway). It names files only: they are
// read where the model is applied (protocols/modbustls).
func readSecurity(r *rulesblock.Reader, n *yaml.Node) *modbus.Security {
	sec := &modbus.Security{}
	file := func(v *yaml.Node, what string) (modbus.File, bool) {
		p, ok := r.Path(v, what)
		return modbus.File{Name: r.Resolve(v).Value, Path: p}, ok
	}
	var haveCert, haveKey, haveCAs bool
	known := []string{"certificate", "key", "client_cas", "crl", "require_role", "device_port"}
	if !r.Fields(n, "the tls block", known, func(key string, k, v *yaml.Node) {
		switch key {
		case "certificate":
			sec.Certificate, haveCert = file(v, "certificate")
		case "key":
			sec.Key, haveKey = file(v, "key")
		case "client_cas":
			sec.ClientCAs = []modbus.File{}
			r.Each(v, "client_cas", func(e *yaml.Node) {
				if f, ok := file(e, "a client CA file"); ok {
					sec.ClientCAs = append(sec.ClientCAs, f)
				}
			})
			haveCAs = len(sec.ClientCAs) > 0
			if !haveCAs {
				r.Errorf(rulesblock.PosOf(r.Resolve(v)), "client_cas lists no CA file: name the CA certificates (PEM) that client certificates must chain to")
				haveCAs = true // reported
			}
		case "crl":
			if f, ok := file(v, "crl"); ok {
				sec.CRL = &f
			}
		case "require_role":
			sec.RequireRole, _ = r.Bool(v, "require_role")
		case "device_port":
			if p, ok := r.Int(v, "device_port"); ok {
				if p < 1 || p > 65535 {
					r.Errorf(rulesblock.PosOf(r.Resolve(v)), "device_port %d is outside 1-65535: give the devices' plain Modbus/TCP port, usually 502", p)
				} else {
					sec.DevicePort = uint16(p)
				}
			}
		}
	}) {
		return nil
	}
	at := rulesblock.PosOf(n)
	if !haveCert {
		r.Errorf(at, "the tls block needs `certificate:` (the gateway's server certificate, PEM)")
	}
	if !haveKey {
		r.Errorf(at, "the tls block needs `key:` (the private key of the gateway's certificate, PEM)")
	}
	if !haveCAs {
		r.Errorf(at, "the tls block needs `client_cas:` (the CA certificates client certificates must chain to): Modbus/TCP Security requires mutual authentication")
	}
	return sec
}

// readRoles reads the `roles:` mapping: role name -> allow rules, in the
// syntax of `allow:`.
func readRoles(r *rulesblock.Reader, n *yaml.Node) []modbus.RoleRules {
	roles := []modbus.RoleRules{}
	r.Entries(n, "roles", func(key string, k, v *yaml.Node) {
		if key == "" {
			r.Errorf(rulesblock.PosOf(k), "a role name is empty: write the role its client certificates carry")
			return
		}
		role := modbus.RoleRules{Name: key, Rules: []modbus.Rule{}}
		r.Each(v, "the rules of role "+key, func(e *yaml.Node) {
			if rule, ok := readRule(r, e); ok {
				role.Rules = append(role.Rules, rule)
			}
		})
		roles = append(roles, role)
	})
	return roles
}

// anyRoleRule reports whether a role allows something.
func anyRoleRule(s *modbus.Spec) bool {
	for _, r := range s.Roles {
		if len(r.Rules) > 0 {
			return true
		}
	}
	return false
}

// checkSecurity refuses roles without TLS (nothing would carry a role)
// and TLS on a conduit without port 802.
func checkSecurity(c rulesblock.Conduit, s *modbus.Spec, errorf rulesblock.Errorf) {
	if s.Roles != nil && s.Security == nil {
		errorf(c.At(Name), "conduit %q: `roles:` needs a `tls:` block: roles come from client certificates of Modbus/TCP Security (tcp/802)", c.Name)
	}
	if s.Security == nil || c.Services == nil {
		return
	}
	for _, sv := range c.Services {
		if sv.Proto == "tcp" && sv.HasPort(modbus.SecurePort) {
			return
		}
	}
	errorf(c.At(Name), "conduit %q has a `tls:` block but no service tcp/802: add tcp/802 to its services (Modbus/TCP Security is terminated on port 802)", c.Name)
}

// canonTLS is the canonical form of a `tls:` block: file names as
// written, CAs sorted, the device port written out.
type canonTLS struct {
	Certificate string   `yaml:"certificate"`
	Key         string   `yaml:"key"`
	ClientCAs   []string `yaml:"client_cas,flow"`
	CRL         string   `yaml:"crl,omitempty"`
	RequireRole bool     `yaml:"require_role"`
	DevicePort  int      `yaml:"device_port"`
}

// canonSecurity writes the `tls:` and `roles:` of s one way only.
func canonSecurity(s *modbus.Spec) (*canonTLS, map[string][]canonMbusRule) {
	var roles map[string][]canonMbusRule
	if s.Roles != nil {
		roles = map[string][]canonMbusRule{}
		for _, r := range s.Roles {
			roles[r.Name] = canonRules(r.Rules)
		}
	}
	sec := s.Security
	if sec == nil {
		return nil, roles
	}
	ct := &canonTLS{Certificate: sec.Certificate.Name, Key: sec.Key.Name, ClientCAs: []string{}, RequireRole: sec.RequireRole, DevicePort: int(sec.Port())}
	for _, f := range sec.ClientCAs {
		ct.ClientCAs = append(ct.ClientCAs, f.Name)
	}
	slices.Sort(ct.ClientCAs)
	ct.ClientCAs = slices.Compact(ct.ClientCAs)
	if sec.CRL != nil {
		ct.CRL = sec.CRL.Name
	}
	return ct, roles
}

// securitySummary is the drawing's line of Modbus/TCP Security: "TLS :802
// roles engineer, operator".
func securitySummary(s *modbus.Spec) []string {
	if s.Security == nil {
		return nil
	}
	line := "TLS :802"
	if len(s.Roles) > 0 {
		line += " roles " + strings.Join(roleNames(s), ", ")
	}
	if s.Security.RequireRole {
		line += " (role required)"
	}
	return []string{line}
}

// securityWords describes Modbus/TCP Security in sentences.
func securityWords(s *modbus.Spec) string {
	sec := s.Security
	if sec == nil {
		return ""
	}
	w := fmt.Sprintf(" Modbus/TCP Security: TLS on port 802 is terminated at the gateway (TLS 1.2 or newer, client certificates required) and forwarded as plain Modbus/TCP to port %d.", sec.Port())
	for _, r := range s.Roles {
		var rules []string
		for _, rule := range r.Rules {
			rules = append(rules, ruleWords(rule))
		}
		if len(rules) == 0 {
			rules = []string{"nothing"}
		}
		w += fmt.Sprintf(" Role %s: %s.", r.Name, strings.Join(rules, "; "))
	}
	if sec.RequireRole {
		w += " A certificate without a role gets nothing."
	} else {
		w += " A certificate without a role gets the allow rules above."
	}
	return w + " A role not listed gets nothing."
}

func roleNames(s *modbus.Spec) []string {
	var names []string
	for _, r := range s.Roles {
		names = append(names, r.Name)
	}
	slices.Sort(names)
	return names
}

// ruleWords is one rule in words (as Words writes the allow list).
func ruleWords(r modbus.Rule) string {
	switch r.Access {
	case modbus.AccessRead:
		return fmt.Sprintf("read %s %s", tableWords(r.Table), r.Addresses)
	case modbus.AccessWrite:
		w := fmt.Sprintf("write %s %s", tableWords(r.Table), r.Addresses)
		if r.Values != nil {
			w += fmt.Sprintf(" with values %s", r.Values)
		}
		return w
	}
	return fmt.Sprintf("function %s (FC %d)", modbus.FunctionRuleName(r), r.Function)
}
