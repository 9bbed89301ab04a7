package opcuarules

import (
	"fmt"
	"slices"
	"strings"

	"github.com/zonegate/zonegate/protocols/opcua"
	"github.com/zonegate/zonegate/protocols/rulesblock"
)

// Lint rules of OPC UA, printed in brackets in every warning.
const (
	RuleUninspected       = "opcua-uninspected"
	RuleNoneIntoHigh      = "opcua-none-into-high"
	RuleWriteWithoutNodes = "opcua-write-without-nodes"
	RuleDeprecatedPolicy  = "opcua-deprecated-policy"
)

// opcuaPort is the OPC UA port a conduit carries uninspected.
const opcuaPort = 4840

// check refuses lists that contradict each other: None channels carrying
// services the conduit does not allow, write_nodes without Write,
// call_methods without Call, CRLs without CAs.
func check(c rulesblock.Conduit, errorf rulesblock.Errorf) {
	s := c.Rules.(*opcua.Spec)
	services, none := sets(s)
	at := c.At(Name)
	if !services.Covers(none) {
		errorf(at, "conduit %q: allow_none_for allows services that services does not: a channel without security may carry only what the conduit allows; add them to services or remove them from allow_none_for", c.Name)
	}
	if s.WriteNodes != nil && !services.Has(opcua.SvcWrite) && !none.Has(opcua.SvcWrite) {
		errorf(at, "conduit %q: write_nodes is set but services does not allow Write: add Write (or read_write) to services, or remove write_nodes", c.Name)
	}
	if s.CallMethods != nil && !services.Has(opcua.SvcCall) && !none.Has(opcua.SvcCall) {
		errorf(at, "conduit %q: call_methods is set but services does not allow Call: add Call (or read_write) to services, or remove call_methods", c.Name)
	}
	if len(s.ClientCertificates.CRLFiles) > 0 && len(s.ClientCertificates.CAFiles) == 0 {
		errorf(at, "conduit %q: client_certificates.crl_files needs the CAs that sign them in ca_files", c.Name)
	}
}

// sets compiles the services and allow_none_for lists (already checked
// by read).
func sets(s *opcua.Spec) (services, none opcua.ServiceSet) {
	services = opcua.ServiceSet{All: true}
	if s.Services != nil {
		services, _ = opcua.ParseServices(s.Services)
	}
	noneTerms := s.AllowNoneFor
	if noneTerms == nil {
		noneTerms = []string{opcua.PresetDiscovery}
	}
	none, _ = opcua.ParseServices(noneTerms)
	return services, none
}

// lint warns about OPC UA carried uninspected into a more important zone,
// channels without security carrying more than discovery into a high
// zone, writes into a high zone not narrowed to nodes, and deprecated
// security policies.
func lint(c rulesblock.Conduit, warnf rulesblock.Warnf) {
	from, to := c.From, c.To
	if from.Importance < to.Importance && c.Inspect != Name {
		for i, s := range c.Services {
			if s.Proto == "tcp" && s.HasPort(opcuaPort) && !(s.PortLo == 0 && s.PortHi == 0) {
				warnf(c.At(fmt.Sprintf("services.%d", i)), RuleUninspected, "conduit %q carries OPC UA (%s) from %s zone %q into %s zone %q without inspection: add `inspect: opcua` with an `opcua:` block", c.Name, s, from.Importance, from.Name, to.Importance, to.Name)
			}
		}
	}
	spec, _ := c.Rules.(*opcua.Spec)
	if spec == nil {
		return
	}
	var deprecated []string
	for _, p := range spec.SecurityPolicies {
		if p.Deprecated() {
			deprecated = append(deprecated, p.String())
		}
	}
	if len(deprecated) > 0 {
		warnf(c.At(Name), RuleDeprecatedPolicy, "conduit %q allows the deprecated security policies %s (SHA-1, short keys): use Basic256Sha256 or the Aes policies once the clients can", c.Name, strings.Join(deprecated, " and "))
	}
	if to.Importance != rulesblock.High {
		return
	}
	services, none := sets(spec)
	discovery, _ := opcua.ParseServices([]string{opcua.PresetDiscovery})
	if !discovery.Covers(none) {
		warnf(c.At(Name), RuleNoneIntoHigh, "conduit %q lets channels without security (policy None) carry %s into high-importance zone %q: anyone on the path can read and change them; keep allow_none_for at [discovery]", c.Name, strings.Join(spec.AllowNoneFor, ", "), to.Name)
	}
	writes := services.Has(opcua.SvcWrite) || none.Has(opcua.SvcWrite)
	if writes && spec.WriteNodes == nil {
		what := "services " + strings.Join(termsOrAny(spec.Services), ", ")
		warnf(c.At(Name), RuleWriteWithoutNodes, "conduit %q allows Write into high-importance zone %q on any node (%s): list the nodes clients may set in write_nodes", c.Name, to.Name, what)
	}
}

func termsOrAny(t []string) []string {
	if t == nil {
		return []string{opcua.PresetAny}
	}
	return slices.Clone(t)
}
