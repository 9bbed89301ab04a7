package opcuarules

import (
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/zonegate/zonegate/protocols/opcua"
	"github.com/zonegate/zonegate/protocols/rulesblock"
)

var known = []string{"mode", "endpoint_urls", "security_policies", "allow_none_for", "services", "write_nodes", "call_methods",
	"client_certificates", "max_message_size", "max_chunk_count"}

// read reads a conduit's `opcua:` block; an empty block takes every
// default.
func read(r *rulesblock.Reader, n *yaml.Node) *opcua.Spec {
	spec := &opcua.Spec{}
	if rulesblock.IsNull(r.Resolve(n)) {
		return spec
	}
	r.Fields(n, "the opcua block", known, func(key string, k, v *yaml.Node) {
		switch key {
		case "mode":
			if i := r.OneOf(v, "opcua mode", "enforce", "monitor"); i >= 0 {
				spec.Mode = []opcua.Mode{opcua.ModeEnforce, opcua.ModeMonitor}[i]
			}
		case "endpoint_urls":
			spec.EndpointURLs = []string{}
			r.Each(v, "endpoint_urls", func(e *yaml.Node) {
				s, ok := r.Str(e, "an endpoint URL")
				switch {
				case !ok:
				case !strings.HasPrefix(s, "opc.tcp://") || len(s) > opcua.MaxURLLen:
					r.Errorf(rulesblock.PosOf(e), "endpoint URL %q must start with opc.tcp:// (at most %d bytes), as the client writes it in its Hello", s, opcua.MaxURLLen)
				case slices.Contains(spec.EndpointURLs, s):
					r.Errorf(rulesblock.PosOf(e), "endpoint URL %q is listed twice: remove one", s)
				default:
					spec.EndpointURLs = append(spec.EndpointURLs, s)
				}
			})
			nonEmpty(r, v, "endpoint_urls", "list the URLs clients may name, or remove `endpoint_urls:` to allow any", len(spec.EndpointURLs))
		case "security_policies":
			spec.SecurityPolicies = []opcua.SecurityPolicy{}
			r.Each(v, "security_policies", func(e *yaml.Node) {
				s, ok := r.Str(e, "a security policy")
				if !ok {
					return
				}
				p, found := opcua.ParseSecurityPolicy(s)
				switch {
				case !found:
					hint := "one of " + strings.Join(opcua.SecurityPolicyNames()[1:], ", ")
					if c := rulesblock.Closest(s, opcua.SecurityPolicyNames()); c != "" {
						hint = "did you mean " + c + "?"
					}
					r.Errorf(rulesblock.PosOf(e), "unknown security policy %q: %s", s, hint)
				case p == opcua.PolicyNone:
					r.Errorf(rulesblock.PosOf(e), "security_policies lists None: say what a channel without security may carry with `allow_none_for:` (default [discovery])")
				case slices.Contains(spec.SecurityPolicies, p):
					r.Errorf(rulesblock.PosOf(e), "security policy %s is listed twice: remove one", s)
				default:
					spec.SecurityPolicies = append(spec.SecurityPolicies, p)
				}
			})
			nonEmpty(r, v, "security_policies", "name the policies secured channels may use, or remove `security_policies:` for the default (Basic256Sha256, Aes128_Sha256_RsaOaep, Aes256_Sha256_RsaPss)", len(spec.SecurityPolicies))
		case "allow_none_for":
			spec.AllowNoneFor = readServices(r, v, "allow_none_for", false)
			if slices.Contains(spec.AllowNoneFor, opcua.PresetAny) {
				r.Errorf(rulesblock.PosOf(v), "allow_none_for cannot be `any`: name the presets or services a channel without security may carry, such as [discovery] or [read_only]")
			}
		case "services":
			spec.Services = readServices(r, v, "services", true)
			nonEmpty(r, v, "services", "name presets or services (discovery, read_only, read_write, any, Read, Write, ...), or remove `services:` to allow any", len(spec.Services))
		case "write_nodes":
			spec.WriteNodes = readNodes(r, v, "write_nodes")
			nonEmpty(r, v, "write_nodes", "list the nodes a Write may set, or remove `write_nodes:` to allow any node (or remove Write from services)", len(spec.WriteNodes))
		case "call_methods":
			spec.CallMethods = readNodes(r, v, "call_methods")
			nonEmpty(r, v, "call_methods", "list the methods a Call may invoke, or remove `call_methods:` to allow any (or remove Call from services)", len(spec.CallMethods))
		case "client_certificates":
			spec.ClientCertificates = readCerts(r, v)
		case "max_message_size":
			if s, ok := r.Str(v, "max_message_size"); ok {
				size, err := ParseSize(s)
				if err != nil {
					r.Errorf(rulesblock.PosOf(v), "%v", err)
				}
				spec.MaxMessageSize = size
			}
		case "max_chunk_count":
			if c, ok := r.Int(v, "max_chunk_count"); ok {
				if c < 1 || c > opcua.MaxChunkCountCap {
					r.Errorf(rulesblock.PosOf(v), "max_chunk_count %d is outside 1-%d", c, opcua.MaxChunkCountCap)
				} else {
					spec.MaxChunkCount = uint32(c)
				}
			}
		}
	})
	return spec
}

func nonEmpty(r *rulesblock.Reader, v *yaml.Node, what, fix string, n int) {
	vn := r.Resolve(v)
	if n == 0 && (rulesblock.IsNull(vn) || (vn.Kind == yaml.SequenceNode && len(vn.Content) == 0)) {
		r.Errorf(rulesblock.PosOf(vn), "%s lists nothing: %s", what, fix)
	}
}

// readServices reads a list of presets and service names; scalar allows
// a single preset written without brackets (`services: read_only`).
func readServices(r *rulesblock.Reader, v *yaml.Node, what string, scalar bool) []string {
	out := []string{}
	add := func(e *yaml.Node) {
		s, ok := r.Str(e, "a preset or service")
		if !ok {
			return
		}
		if _, err := opcua.ParseServices([]string{s}); err != nil {
			r.Errorf(rulesblock.PosOf(e), "%s: %v", what, err)
			return
		}
		if slices.Contains(out, s) {
			r.Errorf(rulesblock.PosOf(e), "%s lists %s twice: remove one", what, s)
			return
		}
		out = append(out, s)
	}
	if vn := r.Resolve(v); scalar && vn.Kind == yaml.ScalarNode && !rulesblock.IsNull(vn) {
		add(vn)
		return out
	}
	r.Each(v, what, add)
	return out
}

func readNodes(r *rulesblock.Reader, v *yaml.Node, what string) []opcua.NodeID {
	out := []opcua.NodeID{}
	r.Each(v, what, func(e *yaml.Node) {
		s, ok := r.Str(e, "a NodeId")
		if !ok {
			return
		}
		id, err := opcua.ParseNodeID(s)
		switch {
		case err != nil:
			r.Errorf(rulesblock.PosOf(e), "%s: %v", what, err)
		case slices.Contains(out, id):
			r.Errorf(rulesblock.PosOf(e), "%s lists %s twice: remove one", what, s)
		default:
			out = append(out, id)
		}
	})
	return out
}

func readCerts(r *rulesblock.Reader, v *yaml.Node) opcua.CertSpec {
	var cs opcua.CertSpec
	files := func(v *yaml.Node, what string) []opcua.File {
		out := []opcua.File{}
		r.Each(v, what, func(e *yaml.Node) {
			if path, ok := r.Path(e, what); ok {
				out = append(out, opcua.File{Name: r.Resolve(e).Value, Path: path})
			}
		})
		return out
	}
	r.Fields(v, "client_certificates", []string{"ca_files", "crl_files", "pinned"}, func(key string, k, v *yaml.Node) {
		switch key {
		case "ca_files":
			cs.CAFiles = files(v, "ca_files")
		case "crl_files":
			cs.CRLFiles = files(v, "crl_files")
		case "pinned":
			r.Each(v, "pinned", func(e *yaml.Node) {
				s, ok := r.Str(e, "a SHA-256 fingerprint")
				if !ok {
					return
				}
				fp, err := ParseFingerprint(s)
				switch {
				case err != nil:
					r.Errorf(rulesblock.PosOf(e), "%v", err)
				case slices.Contains(cs.Pinned, fp):
					r.Errorf(rulesblock.PosOf(e), "fingerprint %s is pinned twice: remove one", s)
				default:
					cs.Pinned = append(cs.Pinned, fp)
				}
			})
		}
	})
	return cs
}

// ParseFingerprint parses a SHA-256 fingerprint: 64 hex digits, with or
// without "sha256:" before and colons between the bytes.
func ParseFingerprint(s string) ([32]byte, error) {
	var fp [32]byte
	h := strings.ReplaceAll(strings.TrimPrefix(strings.ToLower(strings.TrimSpace(s)), "sha256:"), ":", "")
	b, err := hex.DecodeString(h)
	if err != nil || len(b) != 32 {
		return fp, fmt.Errorf("pinned fingerprint %q must be a SHA-256 of the certificate: 64 hex digits, such as sha256:3fa2… (openssl x509 -noout -fingerprint -sha256 -in CERT)", s)
	}
	copy(fp[:], b)
	return fp, nil
}

// ParseSize parses a byte count: 65536, 512KiB, 1MiB.
func ParseSize(s string) (uint32, error) {
	t := strings.TrimSpace(s)
	mult := uint64(1)
	switch {
	case strings.HasSuffix(t, "MiB"):
		mult, t = 1<<20, strings.TrimSuffix(t, "MiB")
	case strings.HasSuffix(t, "KiB"):
		mult, t = 1<<10, strings.TrimSuffix(t, "KiB")
	}
	n, err := strconv.ParseUint(strings.TrimSpace(t), 10, 32)
	v := n * mult
	if err != nil || v < opcua.MinBufferSize || v > opcua.MaxMessageSizeCap {
		return 0, fmt.Errorf("max_message_size %q must be %d bytes to 16MiB, written as bytes or with KiB or MiB, such as 1MiB", s, opcua.MinBufferSize)
	}
	return uint32(v), nil
}
