package registry

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"go.yaml.in/yaml/v3"

	"github.com/zonegate/zonegate/protocols/inspect"
	"github.com/zonegate/zonegate/protocols/modbus"
	"github.com/zonegate/zonegate/protocols/modbustcp"
	"github.com/zonegate/zonegate/protocols/modbustls/tlstest"
	"github.com/zonegate/zonegate/protocols/rulesblock"
)

func TestBuiltin(t *testing.T) {
	assert.Equal(t, "modbus", Names()[0])
	p, ok := Lookup("modbus")
	assert.True(t, ok)
	assert.Equal(t, "Modbus", p.Title)
	assert.Equal(t, uint16(5020), p.DefaultPort)
	_, ok = Lookup("nonesuch")
	assert.False(t, ok)
	// Every built-in protocol is inspected by this build, and its proxy
	// knows it by the same name, title and port as the model.
	for _, p := range builtin {
		if assert.NotNil(t, p.Inspector, p.Name) {
			assert.Equal(t, p.Protocol.Protocol, p.Inspector.Protocol(), p.Name)
		}
	}
}

func TestRegisterRefusesBadProtocols(t *testing.T) {
	read := func(*rulesblock.Reader, *yaml.Node) any { return nil }
	canon := func(any) any { return nil }
	dnp3 := inspect.Protocol{Name: "dnp3", Title: "DNP3", DefaultPort: 20020}
	named := func(name string) inspect.Protocol { return inspect.Protocol{Name: name, DefaultPort: 1} }
	for name, p := range map[string]rulesblock.Protocol{
		"taken name":      {Protocol: named("modbus"), TCPHint: "tcp/1", Read: read, Canonical: canon},
		"bad name":        {Protocol: named("OPC-UA"), TCPHint: "tcp/4840", Read: read, Canonical: canon},
		"empty name":      {Protocol: named(""), TCPHint: "tcp/1", Read: read, Canonical: canon},
		"no reader":       {Protocol: dnp3, TCPHint: "tcp/20000", Canonical: canon},
		"no canonical":    {Protocol: dnp3, TCPHint: "tcp/20000", Read: read},
		"no tcp hint":     {Protocol: dnp3, Read: read, Canonical: canon},
		"no default port": {Protocol: inspect.Protocol{Name: "dnp3"}, TCPHint: "tcp/20000", Read: read, Canonical: canon},
	} {
		assert.Panics(t, func() { Register(Protocol{Protocol: p}) }, name)
	}
	// An inspector of another protocol (here Modbus's) under a new name.
	assert.Panics(t, func() {
		Register(Protocol{Protocol: rulesblock.Protocol{Protocol: named("other"), TCPHint: "tcp/1", Read: read, Canonical: canon}, Inspector: modbustcp.Inspector{}})
	}, "inspector of another protocol")
	assert.NotContains(t, Names(), "OPC-UA", "nothing registered")
	assert.NotContains(t, Names(), "other", "nothing registered")

	if _, done := Lookup("dnp3"); !done { // -count=2 runs this twice
		Register(Protocol{Protocol: rulesblock.Protocol{Protocol: dnp3, TCPHint: "tcp/20000", Read: read, Canonical: canon}})
	}
	assert.Equal(t, []string{"modbus", "opcua", "dnp3"}, Names(), "after the built-in ones")
	all := All()
	all[0].Name = "changed"
	assert.Equal(t, "modbus", All()[0].Name, "All returns a copy")
}

// TestModbusLintsCertificateExpiry: Modbus's lint, as the registry lists
// it, reads the certificates of a secure conduit and warns of one that
// expires within 30 days.
func TestModbusLintsCertificateExpiry(t *testing.T) {
	dir := t.TempDir()
	ca := tlstest.NewCA("plant CA", 400*24*time.Hour)
	gw := ca.Server("gw", 5*24*time.Hour, "gw")
	sec := &modbus.Security{
		Certificate: modbus.File{Path: tlstest.Write(dir, "gw.crt", tlstest.CertPEM(gw.Cert))},
		Key:         modbus.File{Path: tlstest.Write(dir, "gw.key", tlstest.KeyPEM(gw.Key))},
		ClientCAs:   []modbus.File{{Path: tlstest.Write(dir, "ca.crt", tlstest.CertPEM(ca.Cert))}},
	}
	p, _ := Lookup("modbus")
	var rules []string
	p.Lint(rulesblock.Conduit{Name: "c", Inspect: "modbus", Rules: &modbus.Spec{Mode: modbus.ModeEnforce, Security: sec},
		At: func(string) rulesblock.Pos { return rulesblock.Pos{} }}, func(_ rulesblock.Pos, rule, _ string, _ ...any) { rules = append(rules, rule) })
	assert.Equal(t, []string{"tls-certificate-expiring"}, rules)
}
