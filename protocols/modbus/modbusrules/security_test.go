package modbusrules

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/zonegate/zonegate/protocols/modbus"
	"github.com/zonegate/zonegate/protocols/rulesblock"
)

const secureBlock = `allow: [{read: holding_registers, addresses: 0-9}]
tls:
  certificate: tls/gw.crt
  key: /etc/zonegate/tls/gw.key
  client_cas: [tls/plant-ca.crt]
  crl: tls/plant-ca.crl
  require_role: true
  device_port: 1502
roles:
  operator: [{read: holding_registers, addresses: 0-99}]
  engineer: [{read: holding_registers, addresses: 0-99}, {write: holding_registers, addresses: 10-19}]
`

func TestReadSecurity(t *testing.T) {
	var doc yaml.Node
	require.NoError(t, yaml.Unmarshal([]byte(secureBlock), &doc))
	var problems []string
	r := rulesblock.NewReader("/models", func(at rulesblock.Pos, msg string) {
		problems = append(problems, fmt.Sprintf("%d:%d: %s", at.Line, at.Column, msg))
	})
	spec := Protocol.Read(r, doc.Content[0]).(*modbus.Spec)
	require.Empty(t, problems)
	sec := spec.Security
	require.NotNil(t, sec)
	assert.Equal(t, modbus.File{Name: "tls/gw.crt", Path: "/models/tls/gw.crt"}, sec.Certificate, "relative to the model file")
	assert.Equal(t, "/etc/zonegate/tls/gw.key", sec.Key.Path)
	assert.Equal(t, []modbus.File{{Name: "tls/plant-ca.crt", Path: "/models/tls/plant-ca.crt"}}, sec.ClientCAs)
	assert.Equal(t, "/models/tls/plant-ca.crl", sec.CRL.Path)
	assert.True(t, sec.RequireRole)
	assert.Equal(t, uint16(1502), sec.Port())
	require.Len(t, spec.Roles, 2)
	assert.Equal(t, "operator", spec.Roles[0].Name)
	assert.Len(t, spec.Roles[1].Rules, 2)
	eng, ok := spec.RoleSpec("engineer")
	require.True(t, ok)
	assert.Len(t, eng.Rules, 2)
	_, ok = spec.RoleSpec("visitor")
	assert.False(t, ok, "a role not listed gets nothing")

	out, err := yaml.Marshal(canonical(spec))
	require.NoError(t, err)
	assert.Contains(t, string(out), "tls:\n    certificate: tls/gw.crt\n    key: /etc/zonegate/tls/gw.key\n    client_cas: [tls/plant-ca.crt]\n    crl: tls/plant-ca.crl\n    require_role: true\n    device_port: 1502\n")
	assert.Contains(t, string(out), "roles:\n    engineer:\n")
	plain, _ := readBlock(t, "allow: [{read: holding_registers, addresses: 0-9}]\n")
	out, err = yaml.Marshal(canonical(plain))
	require.NoError(t, err)
	assert.NotContains(t, string(out), "tls")
	assert.NotContains(t, string(out), "roles")

	assert.Equal(t, "TLS :802 roles engineer, operator (role required)", Summary(spec)[len(Summary(spec))-1])
	assert.Contains(t, Words(spec), "Role engineer: read holding registers 0-99; write holding registers 10-19.")
}

func TestSecurityBadValues(t *testing.T) {
	for _, c := range []struct{ src, want string }{
		{"tls: {certificate: a, key: b}\n", "1:6: the tls block needs `client_cas:`"},
		{"tls: {certificate: a, key: b, client_cas: []}\n", "1:43: client_cas lists no CA file"},
		{"tls: {certificate: a, key: b, client_cas: [c], device_port: 70000}\n", "1:61: device_port 70000 is outside 1-65535"},
		{"tls: {certificate: a, key: b, client_cas: [c], require_role: yes}\n", "1:62: require_role"},
		{"tls: {certificate: a, key: b, client_cas: [c], crt: x}\n", `1:48: unknown key "crt" in the tls block`},
		{"tls: {certificate: \"\", key: b, client_cas: [c]}\n", "1:20: certificate is empty"},
		{"roles: {operator: [{read: holding_register, addresses: 0-9}]}\n", `1:27: unknown Modbus table "holding_register"`},
		{"roles: [operator]\n", "1:8: roles must be a mapping"},
	} {
		_, problems := readBlock(t, c.src)
		require.NotEmpty(t, problems, c.src)
		assert.Contains(t, problems[0], c.want, c.src)
	}
}

func TestCheckSecurity(t *testing.T) {
	at := func(string) rulesblock.Pos { return rulesblock.Pos{Line: 4, Column: 5} }
	var errs []string
	errorf := func(p rulesblock.Pos, format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	roleOnly, _ := readBlock(t, "tls: {certificate: a, key: b, client_cas: [c], require_role: true}\nroles: {operator: [{read: coils, addresses: 0-9}]}\n")
	c := rulesblock.Conduit{Name: "c", Rules: roleOnly, At: at, Services: []rulesblock.Service{{Proto: "tcp", PortLo: 802, PortHi: 802, Text: "tcp/802"}}}
	Protocol.Check(c, errorf)
	assert.Empty(t, errs, "rules of roles alone are enough")
	c.Services = []rulesblock.Service{{Proto: "tcp", PortLo: 502, PortHi: 502, Text: "tcp/502"}}
	Protocol.Check(c, errorf)
	assert.Equal(t, []string{"conduit \"c\" has a `tls:` block but no service tcp/802: add tcp/802 to its services (Modbus/TCP Security is terminated on port 802)"}, errs)
	errs = nil
	noTLS, _ := readBlock(t, "allow: [{read: coils, addresses: 0-9}]\nroles: {operator: []}\n")
	Protocol.Check(rulesblock.Conduit{Name: "c", Rules: noTLS, At: at}, errorf)
	assert.Equal(t, []string{"conduit \"c\": `roles:` needs a `tls:` block: roles come from client certificates of Modbus/TCP Security (tcp/802)"}, errs)
}

// TestSecurityOddValues: odd YAML in the tls and roles blocks is refused
// with a position, never a panic.
func TestSecurityOddValues(t *testing.T) {
	for _, src := range []string{
		"tls: null\n", "tls: []\n", "tls: x\n", "tls: {client_cas: null, certificate: a, key: b}\n",
		"tls: {client_cas: {a: b}, certificate: a, key: b}\n", "tls: {certificate: [a], key: b, client_cas: [c]}\n",
		"tls: {certificate: a, key: b, client_cas: [c], crl: null}\n", "tls: {certificate: a, key: b, client_cas: [c], device_port: x}\n",
		"roles: null\n", "roles: {a: x}\n", "roles: {\"\": []}\n", "roles: {a: [x]}\n",
		"roles: {a: [], a: []}\n", "x: &r [{read: coils, addresses: 0-9}]\nroles: {a: *r}\n",
	} {
		_, problems := readBlock(t, src)
		assert.NotEmpty(t, problems, "%q is accepted", src)
	}
}
