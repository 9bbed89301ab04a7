package opcua

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// Mode says whether a conduit enforces its policy or only reports.
type Mode uint8

// Modes.
const (
	ModeEnforce Mode = iota
	// ModeMonitor forwards what the policy would refuse and reports it;
	// violations of the protocol itself close the connection anyway.
	ModeMonitor
)

func (m Mode) String() string {
	if m == ModeMonitor {
		return "monitor"
	}
	return "enforce"
}

// Spec is a conduit's `opcua:` block as the zone model holds it (package
// opcuarules reads it); Compile turns it into a Policy.
type Spec struct {
	Mode Mode
	// EndpointURLs are the endpoint URLs a HEL may name; nil: any.
	EndpointURLs []string
	// SecurityPolicies are the policies a secured channel may use; nil:
	// DefaultSecurityPolicies. None is not among them: AllowNoneFor says
	// what a channel without security may carry.
	SecurityPolicies []SecurityPolicy
	// Services are presets and service names; nil: any (every service,
	// channels whose bodies are encrypted too).
	Services []string
	// AllowNoneFor are the presets and service names a channel with
	// policy None may carry; nil: discovery; empty: no None channel.
	AllowNoneFor []string
	// WriteNodes are the nodes a Write may set (their Value attribute);
	// nil: any node.
	WriteNodes []NodeID
	// CallMethods are the methods a Call may invoke; nil: any.
	CallMethods []NodeID
	// ClientCertificates say which client certificates a secured channel
	// may present; empty: any that is valid now with an RSA key of at
	// least 2048 bits.
	ClientCertificates CertSpec
	// MaxMessageSize and MaxChunkCount bound every message (0: the
	// defaults, 1 MiB and 256 chunks).
	MaxMessageSize uint32
	MaxChunkCount  uint32
}

// CertSpec names the client certificates a conduit accepts.
type CertSpec struct {
	CAFiles  []File     // PEM or DER certificates a client certificate must chain to
	CRLFiles []File     // certificate revocation lists of those CAs
	Pinned   [][32]byte // SHA-256 fingerprints accepted without a chain
}

// Empty reports whether the spec names no CA and pins no certificate.
func (c CertSpec) Empty() bool { return len(c.CAFiles) == 0 && len(c.Pinned) == 0 }

// File is a file the model names: as written, and resolved against the
// model file's directory.
type File struct {
	Name string // as written in the model (kept in the canonical form)
	Path string // where to read it
}

// CertChecker checks the client certificate of an OPN (the
// SenderCertificate: the DER certificate, possibly followed by its
// chain) at time now. Package uacert implements it for a CertSpec.
type CertChecker interface {
	Check(chain []byte, now time.Time) CertResult
}

// CertResult is the outcome of a certificate check.
type CertResult struct {
	// Reason is ReasonNone when the certificate is accepted, else one of
	// the certificate reasons.
	Reason      Reason
	Fingerprint [32]byte // SHA-256 of the leaf certificate
}

// Policy is a conduit's compiled `opcua:` block.
type Policy struct {
	mode        Mode
	endpoints   []string
	policies    [numPolicies]bool
	services    ServiceSet
	none        ServiceSet
	writeNodes  nodeSet // nil: any
	callMethods nodeSet // nil: any
	certs       CertChecker
	maxMsg      uint32
	maxChunks   uint32
	timeout     time.Duration
}

// HandshakeTimeout is how long a server has to answer HEL and OPN.
const HandshakeTimeout = 10 * time.Second

// Compile checks a spec and compiles it with the certificate checker of
// its ClientCertificates (required when the spec allows a secured
// policy).
func Compile(s Spec, certs CertChecker) (*Policy, error) {
	p := &Policy{mode: s.Mode, endpoints: slices.Clone(s.EndpointURLs), certs: certs, timeout: HandshakeTimeout,
		maxMsg: s.MaxMessageSize, maxChunks: s.MaxChunkCount}
	if p.maxMsg == 0 {
		p.maxMsg = DefaultMaxMessage
	}
	if p.maxChunks == 0 {
		p.maxChunks = DefaultMaxChunks
	}
	if p.maxMsg < MinBufferSize || p.maxMsg > MaxMessageSizeCap {
		return nil, fmt.Errorf("max_message_size %d is outside %d-%d bytes", p.maxMsg, MinBufferSize, MaxMessageSizeCap)
	}
	if p.maxChunks > MaxChunkCountCap {
		return nil, fmt.Errorf("max_chunk_count %d is above %d", p.maxChunks, MaxChunkCountCap)
	}
	pols := s.SecurityPolicies
	if pols == nil {
		pols = DefaultSecurityPolicies()
	}
	for _, sp := range pols {
		if sp == PolicyNone || sp == PolicyUnknown || sp >= numPolicies {
			return nil, fmt.Errorf("security_policies: %q is not a secured policy: say what a channel without security may carry with allow_none_for", sp)
		}
		p.policies[sp] = true
	}
	var err error
	if s.Services == nil {
		p.services = ServiceSet{All: true}
	} else if p.services, err = ParseServices(s.Services); err != nil {
		return nil, fmt.Errorf("services: %w", err)
	}
	none := s.AllowNoneFor
	if none == nil {
		none = []string{PresetDiscovery}
	}
	if p.none, err = ParseServices(none); err != nil {
		return nil, fmt.Errorf("allow_none_for: %w", err)
	}
	if p.none.All {
		return nil, errors.New("allow_none_for: `any` would let a channel without security carry encrypted-looking bytes unread: name presets or services")
	}
	p.policies[PolicyNone] = p.none.Len() > 0
	if s.WriteNodes != nil {
		p.writeNodes = append(nodeSet{}, s.WriteNodes...)
	}
	if s.CallMethods != nil {
		p.callMethods = append(nodeSet{}, s.CallMethods...)
	}
	if certs == nil && len(pols) > 0 {
		return nil, errors.New("opcua: Compile needs a certificate checker (uacert.Load of the spec's client_certificates)")
	}
	return p, nil
}

// DenyAll is the policy of a conduit that has none any more: every HEL
// is refused.
func DenyAll() *Policy { return denyAll }

var denyAll = &Policy{maxMsg: MinBufferSize, maxChunks: 1, timeout: HandshakeTimeout, endpoints: []string{}}

// Mode is the policy's mode.
func (p *Policy) Mode() Mode { return p.mode }

// endpointAllowed reports whether HEL may name url.
func (p *Policy) endpointAllowed(url []byte) bool {
	if p.endpoints == nil {
		return true
	}
	for _, e := range p.endpoints {
		if e == string(url) {
			return true
		}
	}
	return false
}
