package opcuarules

import (
	"encoding/hex"
	"slices"
	"strings"

	"github.com/zonegate/zonegate/protocols/opcua"
)

// canonOPCUA is the canonical form of an `opcua:` block. Its field names,
// tags and order are hashed into every model's digest: add fields (with
// omitempty), never rename or reorder them.
type canonOPCUA struct {
	Mode               string      `yaml:"mode"`
	EndpointURLs       []string    `yaml:"endpoint_urls,flow,omitempty"`
	SecurityPolicies   []string    `yaml:"security_policies,flow"`
	AllowNoneFor       []string    `yaml:"allow_none_for,flow"`
	Services           []string    `yaml:"services,flow"`
	WriteNodes         []string    `yaml:"write_nodes,flow,omitempty"`
	CallMethods        []string    `yaml:"call_methods,flow,omitempty"`
	ClientCertificates *canonCerts `yaml:"client_certificates,omitempty"`
	MaxMessageSize     uint32      `yaml:"max_message_size"`
	MaxChunkCount      uint32      `yaml:"max_chunk_count"`
}

type canonCerts struct {
	CAFiles  []string `yaml:"ca_files,omitempty"`
	CRLFiles []string `yaml:"crl_files,omitempty"`
	Pinned   []string `yaml:"pinned,omitempty"`
}

// canonical writes a Spec one way only: lists sorted, defaults written
// out (policies, None for discovery, any service, the size limits).
func canonical(s *opcua.Spec) *canonOPCUA {
	c := &canonOPCUA{Mode: s.Mode.String(), MaxMessageSize: s.MaxMessageSize, MaxChunkCount: s.MaxChunkCount}
	if c.MaxMessageSize == 0 {
		c.MaxMessageSize = opcua.DefaultMaxMessage
	}
	if c.MaxChunkCount == 0 {
		c.MaxChunkCount = opcua.DefaultMaxChunks
	}
	c.EndpointURLs = sorted(s.EndpointURLs)
	pols := s.SecurityPolicies
	if pols == nil {
		pols = opcua.DefaultSecurityPolicies()
	}
	pols = slices.Clone(pols)
	slices.Sort(pols)
	c.SecurityPolicies = []string{}
	for _, p := range slices.Compact(pols) {
		c.SecurityPolicies = append(c.SecurityPolicies, p.String())
	}
	c.AllowNoneFor = []string{opcua.PresetDiscovery}
	if s.AllowNoneFor != nil {
		c.AllowNoneFor = sortedTerms(s.AllowNoneFor)
	}
	c.Services = []string{opcua.PresetAny}
	if s.Services != nil {
		c.Services = sortedTerms(s.Services)
	}
	c.WriteNodes = nodes(s.WriteNodes)
	c.CallMethods = nodes(s.CallMethods)
	cs := s.ClientCertificates
	if len(cs.CAFiles)+len(cs.CRLFiles)+len(cs.Pinned) > 0 {
		cc := &canonCerts{}
		for _, f := range cs.CAFiles {
			cc.CAFiles = append(cc.CAFiles, f.Name)
		}
		for _, f := range cs.CRLFiles {
			cc.CRLFiles = append(cc.CRLFiles, f.Name)
		}
		for _, fp := range cs.Pinned {
			cc.Pinned = append(cc.Pinned, "sha256:"+hex.EncodeToString(fp[:]))
		}
		cc.CAFiles, cc.CRLFiles, cc.Pinned = sorted(cc.CAFiles), sorted(cc.CRLFiles), sorted(cc.Pinned)
		c.ClientCertificates = cc
	}
	return c
}

func sorted(s []string) []string {
	if s == nil {
		return nil
	}
	out := slices.Clone(s)
	slices.Sort(out)
	return slices.Compact(out)
}

// sortedTerms sorts presets (in the order of what they allow) before
// service names (alphabetically); an empty list stays empty.
func sortedTerms(terms []string) []string {
	out := slices.Clone(terms)
	rank := func(t string) int {
		if i := slices.Index(opcua.Presets, t); i >= 0 {
			return i
		}
		return len(opcua.Presets)
	}
	slices.SortFunc(out, func(a, b string) int {
		if ra, rb := rank(a), rank(b); ra != rb {
			return ra - rb
		}
		return strings.Compare(a, b)
	})
	return slices.Compact(out)
}

func nodes(ids []opcua.NodeID) []string {
	if ids == nil {
		return nil
	}
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		out = append(out, id.String())
	}
	return sorted(out)
}
