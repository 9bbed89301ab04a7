package opcuarules

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/zonegate/zonegate/protocols/opcua"
	"github.com/zonegate/zonegate/protocols/rulesblock"
)

func readBlock(t *testing.T, src string) (*opcua.Spec, []string) {
	t.Helper()
	var doc yaml.Node
	require.NoError(t, yaml.Unmarshal([]byte(src), &doc))
	var problems []string
	r := rulesblock.NewReader("/models", func(at rulesblock.Pos, msg string) {
		problems = append(problems, fmt.Sprintf("%d:%d: %s", at.Line, at.Column, msg))
	})
	spec, ok := Protocol.Read(r, doc.Content[0]).(*opcua.Spec)
	require.True(t, ok)
	return spec, problems
}

func TestRead(t *testing.T) {
	spec, problems := readBlock(t, `mode: monitor
endpoint_urls: [opc.tcp://scada-1:4840]
security_policies: [Aes256_Sha256_RsaPss, Basic256]
allow_none_for: []
services: read_write
write_nodes: ["ns=2;s=Line3.Order", "i=2258"]
client_certificates:
  ca_files: [certs/ca.pem]
  pinned: ["SHA256:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99"]
max_message_size: 512KiB
max_chunk_count: 64
`)
	assert.Empty(t, problems)
	assert.Equal(t, opcua.ModeMonitor, spec.Mode)
	assert.Equal(t, []opcua.SecurityPolicy{opcua.PolicyAes256Sha256RsaPss, opcua.PolicyBasic256}, spec.SecurityPolicies)
	assert.Equal(t, []string{}, spec.AllowNoneFor)
	assert.Equal(t, []string{"read_write"}, spec.Services)
	assert.Equal(t, "ns=2;s=Line3.Order", spec.WriteNodes[0].String())
	assert.Equal(t, opcua.File{Name: "certs/ca.pem", Path: "/models/certs/ca.pem"}, spec.ClientCertificates.CAFiles[0])
	assert.Equal(t, uint32(512<<10), spec.MaxMessageSize)

	_, problems = readBlock(t, "security_policy: [None]\nsecurity_policies: [None, Basic256sha256]\nservices: [Reed]\nwrite_nodes: [\"nsu=urn:x;s=a\"]\nmax_message_size: 4GiB\n")
	assert.Equal(t, []string{
		`1:1: unknown key "security_policy" in the opcua block: did you mean "security_policies"? (known keys: mode, endpoint_urls, security_policies, allow_none_for, services, write_nodes, call_methods, client_certificates, max_message_size, max_chunk_count)`,
		"2:21: security_policies lists None: say what a channel without security may carry with `allow_none_for:` (default [discovery])",
		`2:27: unknown security policy "Basic256sha256": did you mean Basic256Sha256?`,
		`3:12: services: unknown OPC UA service "Reed" (a preset: discovery, read_only, read_write, any; or a service name such as Read, Write, Call, Browse)`,
		`4:15: write_nodes: NodeId "nsu=urn:x;s=a" names its namespace by URI (nsu=): write its index, such as ns=2;s=...`,
		`5:19: max_message_size "4GiB" must be 8192 bytes to 16MiB, written as bytes or with KiB or MiB, such as 1MiB`,
	}, problems)
}

func TestCanonicalRoundTrip(t *testing.T) {
	a, _ := readBlock(t, "{}")
	b, _ := readBlock(t, "mode: enforce\nsecurity_policies: [Aes256_Sha256_RsaPss, Basic256Sha256, Aes128_Sha256_RsaOaep]\nallow_none_for: [discovery]\nservices: [any]\nmax_message_size: 1048576\nmax_chunk_count: 256\n")
	assert.Equal(t, Protocol.Canonical(a), Protocol.Canonical(b), "defaults written out")
	out, err := yaml.Marshal(Protocol.Canonical(a))
	require.NoError(t, err)
	assert.Equal(t, "mode: enforce\nsecurity_policies: [Basic256Sha256, Aes128_Sha256_RsaOaep, Aes256_Sha256_RsaPss]\nallow_none_for: [discovery]\nservices: [any]\nmax_message_size: 1048576\nmax_chunk_count: 256\n", string(out))
	c, problems := readBlock(t, string(out))
	assert.Empty(t, problems)
	assert.Equal(t, Protocol.Canonical(a), Protocol.Canonical(c), "reading the canonical form gives it back")
}

func TestLintAndCheck(t *testing.T) {
	spec, _ := readBlock(t, "security_policies: [Basic128Rsa15]\nallow_none_for: [read_only]\nservices: [read_write]\n")
	at := func(string) rulesblock.Pos { return rulesblock.Pos{Line: 9, Column: 7} }
	c := rulesblock.Conduit{Name: "c", Inspect: Name, Rules: spec, At: at,
		From: rulesblock.Zone{Name: "mes", Importance: rulesblock.Medium}, To: rulesblock.Zone{Name: "scada", Importance: rulesblock.High}}
	var got []string
	Protocol.Lint(c, func(_ rulesblock.Pos, rule, format string, args ...any) { got = append(got, rule) })
	assert.Equal(t, []string{RuleDeprecatedPolicy, RuleNoneIntoHigh, RuleWriteWithoutNodes}, got)

	got = nil
	c.Inspect, c.Rules = "", nil
	c.Services = []rulesblock.Service{{Proto: "tcp", PortLo: 4840, PortHi: 4840, Text: "tcp/4840"}}
	Protocol.Lint(c, func(_ rulesblock.Pos, rule, format string, args ...any) { got = append(got, rule) })
	assert.Equal(t, []string{RuleUninspected}, got)

	var errs []string
	errorf := func(_ rulesblock.Pos, format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	bad, _ := readBlock(t, "services: discovery\nallow_none_for: [read_only]\nwrite_nodes: [i=5]\n")
	Protocol.Check(rulesblock.Conduit{Name: "c", Rules: bad, At: at}, errorf)
	assert.Len(t, errs, 2, "%v", errs)
}

func TestText(t *testing.T) {
	spec, _ := readBlock(t, "services: [read_only, Write]\nwrite_nodes: [\"ns=2;s=Order\"]\n")
	assert.Equal(t, []string{"services read_only, Write", "write ns=2;s=Order", "policies Basic256Sha256, Aes128_Sha256_RsaOaep, Aes256_Sha256_RsaPss", "None: discovery"}, Protocol.Summary(spec))
	assert.Contains(t, Protocol.Words(spec), "SignAndEncrypt channels, whose requests it cannot read, are refused")
}
