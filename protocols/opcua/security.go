package opcua

import "strings"

// SecurityPolicy is an OPC UA security policy (OPC 10000-7), by short name.
type SecurityPolicy uint8

// Security policies. The zero value is no known policy.
const (
	PolicyUnknown SecurityPolicy = iota
	PolicyNone
	PolicyBasic128Rsa15 // deprecated
	PolicyBasic256      // deprecated
	PolicyBasic256Sha256
	PolicyAes128Sha256RsaOaep
	PolicyAes256Sha256RsaPss
	numPolicies
)

// PolicyURIPrefix starts every security policy URI.
const PolicyURIPrefix = "http://opcfoundation.org/UA/SecurityPolicy#"

type policyInfo struct {
	name       string
	deprecated bool
	sigLen     int // symmetric signature (HMAC) length in bytes
}

var policies = [numPolicies]policyInfo{
	PolicyUnknown:             {"", false, 0},
	PolicyNone:                {"None", false, 0},
	PolicyBasic128Rsa15:       {"Basic128Rsa15", true, 20},
	PolicyBasic256:            {"Basic256", true, 20},
	PolicyBasic256Sha256:      {"Basic256Sha256", false, 32},
	PolicyAes128Sha256RsaOaep: {"Aes128_Sha256_RsaOaep", false, 32},
	PolicyAes256Sha256RsaPss:  {"Aes256_Sha256_RsaPss", false, 32},
}

// String is the policy's short name, such as "Basic256Sha256".
func (p SecurityPolicy) String() string {
	if p < numPolicies {
		return policies[p].name
	}
	return ""
}

// Deprecated reports whether OPC UA deprecated the policy (Basic128Rsa15,
// Basic256: SHA-1): a conduit allows it only when it names it.
func (p SecurityPolicy) Deprecated() bool { return p < numPolicies && policies[p].deprecated }

// SignatureLen is the length of the symmetric signature that ends every
// chunk of a signed channel; 0 for None.
func (p SecurityPolicy) SignatureLen() int {
	if p < numPolicies {
		return policies[p].sigLen
	}
	return 0
}

// URI is the policy's URI, as OPN carries it.
func (p SecurityPolicy) URI() string { return PolicyURIPrefix + p.String() }

// ParseSecurityPolicy returns the policy of a short name.
func ParseSecurityPolicy(name string) (SecurityPolicy, bool) {
	for p := PolicyNone; p < numPolicies; p++ {
		if policies[p].name == name {
			return p, true
		}
	}
	return PolicyUnknown, false
}

// policyOfURI returns the policy of a URI from an OPN, without
// allocating.
func policyOfURI(uri []byte) SecurityPolicy {
	if len(uri) <= len(PolicyURIPrefix) || string(uri[:len(PolicyURIPrefix)]) != PolicyURIPrefix {
		return PolicyUnknown
	}
	name := uri[len(PolicyURIPrefix):]
	for p := PolicyNone; p < numPolicies; p++ {
		if string(name) == policies[p].name {
			return p
		}
	}
	return PolicyUnknown
}

// SecurityPolicyNames lists the short names of the known policies.
func SecurityPolicyNames() []string {
	var out []string
	for p := PolicyNone; p < numPolicies; p++ {
		out = append(out, policies[p].name)
	}
	return out
}

// DefaultSecurityPolicies are the policies a conduit allows when it names
// none: every policy but None and the deprecated ones.
func DefaultSecurityPolicies() []SecurityPolicy {
	return []SecurityPolicy{PolicyBasic256Sha256, PolicyAes128Sha256RsaOaep, PolicyAes256Sha256RsaPss}
}

// SecurityMode is the message security mode of a channel.
type SecurityMode uint8

// Security modes as OpenSecureChannelRequest encodes them.
const (
	SecurityInvalid        SecurityMode = 0
	SecurityNone           SecurityMode = 1
	SecuritySign           SecurityMode = 2
	SecuritySignAndEncrypt SecurityMode = 3
)

func (m SecurityMode) String() string {
	switch m {
	case SecurityNone:
		return "None"
	case SecuritySign:
		return "Sign"
	case SecuritySignAndEncrypt:
		return "SignAndEncrypt"
	}
	return "unknown"
}

// closestPolicy helps messages: the known name equal but for case.
func closestPolicy(name string) string {
	for p := PolicyNone; p < numPolicies; p++ {
		if strings.EqualFold(policies[p].name, name) {
			return policies[p].name
		}
	}
	return ""
}
