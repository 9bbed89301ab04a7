package opcuarules

import (
	"strconv"
	"strings"

	"github.com/zonegate/zonegate/protocols/opcua"
)

func policyNames(s *opcua.Spec) []string {
	pols := s.SecurityPolicies
	if pols == nil {
		pols = opcua.DefaultSecurityPolicies()
	}
	var out []string
	for _, p := range pols {
		out = append(out, p.String())
	}
	return out
}

func nodeNames(ids []opcua.NodeID) []string {
	var out []string
	for _, id := range ids {
		out = append(out, id.String())
	}
	return out
}

func certText(cs opcua.CertSpec) string {
	var parts []string
	for _, f := range cs.CAFiles {
		parts = append(parts, "CA "+f.Name)
	}
	if n := len(cs.Pinned); n > 0 {
		parts = append(parts, strconv.Itoa(n)+" pinned")
	}
	if len(cs.CRLFiles) > 0 {
		parts = append(parts, "CRL")
	}
	return strings.Join(parts, ", ")
}

// Summary is a short description of an OPC UA policy for a drawing, one
// group per line: "services read_only, Write", "write ns=2;s=Line3.Order",
// "policies Basic256Sha256", "None: discovery", "certs CA mes-ca.pem".
func Summary(s *opcua.Spec) []string {
	var out []string
	if s.Mode == opcua.ModeMonitor {
		out = append(out, "MONITOR only, denies nothing")
	}
	out = append(out, "services "+strings.Join(termsOrAny(s.Services), ", "))
	if s.WriteNodes != nil {
		out = append(out, "write "+strings.Join(nodeNames(s.WriteNodes), ", "))
	}
	if s.CallMethods != nil {
		out = append(out, "call "+strings.Join(nodeNames(s.CallMethods), ", "))
	}
	out = append(out, "policies "+strings.Join(policyNames(s), ", "))
	switch {
	case s.AllowNoneFor == nil:
		out = append(out, "None: discovery")
	case len(s.AllowNoneFor) == 0:
		out = append(out, "no None channel")
	default:
		out = append(out, "None: "+strings.Join(s.AllowNoneFor, ", "))
	}
	if t := certText(s.ClientCertificates); t != "" {
		out = append(out, "certs "+t)
	}
	if s.EndpointURLs != nil {
		out = append(out, "endpoints "+strings.Join(s.EndpointURLs, ", "))
	}
	return out
}

// Words describes an OPC UA policy in sentences for a report.
func Words(s *opcua.Spec) string {
	var b strings.Builder
	if s.Mode == opcua.ModeMonitor {
		b.WriteString("Monitor mode: what the rules below do not allow is reported and forwarded; violations of the protocol still close the connection. ")
	} else {
		b.WriteString("Enforced: a message the rules do not allow closes the connection with an OPC UA ERR message. ")
	}
	b.WriteString("Secured channels may use " + strings.Join(policyNames(s), ", ") + ". ")
	switch {
	case s.AllowNoneFor == nil:
		b.WriteString("Channels without security (policy None) may carry discovery only. ")
	case len(s.AllowNoneFor) == 0:
		b.WriteString("Channels without security (policy None) are refused. ")
	default:
		b.WriteString("Channels without security (policy None) may carry " + strings.Join(s.AllowNoneFor, ", ") + ". ")
	}
	cs := s.ClientCertificates
	switch {
	case cs.Empty():
		b.WriteString("Client certificates must be valid now with an RSA key of at least 2048 bits. ")
	default:
		var trust []string
		if len(cs.CAFiles) > 0 {
			var names []string
			for _, f := range cs.CAFiles {
				names = append(names, f.Name)
			}
			trust = append(trust, "chain to "+strings.Join(names, ", "))
		}
		if len(cs.Pinned) > 0 {
			trust = append(trust, "be one of "+strconv.Itoa(len(cs.Pinned))+" pinned certificates")
		}
		b.WriteString("Client certificates must " + strings.Join(trust, " or ") + ", be valid now and have an RSA key of at least 2048 bits")
		if len(cs.CRLFiles) > 0 {
			b.WriteString(", and not be revoked")
		}
		b.WriteString(". ")
	}
	if s.Services == nil {
		b.WriteString("Every service is allowed, on encrypted (SignAndEncrypt) channels too.")
	} else {
		b.WriteString("Allowed services: " + strings.Join(s.Services, ", ") + "; where the gateway can read them (None and Sign channels), everything else is refused, and SignAndEncrypt channels, whose requests it cannot read, are refused.")
	}
	if s.WriteNodes != nil {
		b.WriteString(" Writes only to the Value of " + strings.Join(nodeNames(s.WriteNodes), ", ") + ".")
	}
	if s.CallMethods != nil {
		b.WriteString(" Calls only of " + strings.Join(nodeNames(s.CallMethods), ", ") + ".")
	}
	if s.EndpointURLs != nil {
		b.WriteString(" Endpoint URLs: " + strings.Join(s.EndpointURLs, ", ") + ".")
	}
	return b.String()
}
