package registry

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"go.yaml.in/yaml/v3"

	"github.com/zonegate/zonegate/protocols/inspect"
	"github.com/zonegate/zonegate/protocols/rulesblock"
)

func TestBuiltin(t *testing.T) {
	assert.Equal(t, "modbus", Names()[0])
	p, ok := Lookup("modbus")
	assert.True(t, ok)
	assert.Equal(t, "Modbus", p.Title)
	_, ok = Lookup("nonesuch")
	assert.False(t, ok)
	// The proxies and the firewall know the same protocols by the same
	// names (package inspect).
	for _, p := range builtin {
		_, ok := inspect.Lookup(p.Name)
		assert.True(t, ok, "inspect.Lookup(%q)", p.Name)
	}
}

func TestRegisterRefusesBadProtocols(t *testing.T) {
	read := func(*rulesblock.Reader, *yaml.Node) any { return nil }
	canon := func(any) any { return nil }
	for name, p := range map[string]rulesblock.Protocol{
		"taken name":   {Name: "modbus", TCPHint: "tcp/1", Read: read, Canonical: canon},
		"bad name":     {Name: "OPC-UA", TCPHint: "tcp/4840", Read: read, Canonical: canon},
		"empty name":   {TCPHint: "tcp/1", Read: read, Canonical: canon},
		"no reader":    {Name: "dnp3", TCPHint: "tcp/20000", Canonical: canon},
		"no canonical": {Name: "dnp3", TCPHint: "tcp/20000", Read: read},
		"no tcp hint":  {Name: "dnp3", Read: read, Canonical: canon},
	} {
		assert.Panics(t, func() { Register(p) }, name)
	}
	assert.NotContains(t, Names(), "OPC-UA", "nothing registered")

	if _, done := Lookup("dnp3"); !done { // -count=2 runs this twice
		Register(rulesblock.Protocol{Name: "dnp3", Title: "DNP3", TCPHint: "tcp/20000", Read: read, Canonical: canon})
	}
	assert.Equal(t, []string{"modbus", "dnp3"}, Names(), "after the built-in ones")
	all := All()
	all[0].Name = "changed"
	assert.Equal(t, "modbus", All()[0].Name, "All returns a copy")
}
