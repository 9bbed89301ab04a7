package firewall_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/zonegate/zonegate/firewall"
	"github.com/zonegate/zonegate/protocols/modbus/modbusrules"
)

// TestProxyPorts: the redirect of an inspected protocol goes to the port
// Options.Proxies gives it, else to the protocol's default port, and its
// chains are named after the protocol.
func TestProxyPorts(t *testing.T) {
	m := loadFile(t, examplePath)
	def := render(t, firewall.Compile(m, firewall.Options{}))
	assert.Contains(t, def, "redirect to :5020")
	for _, name := range []string{firewall.RedirectChain(modbusrules.Name), firewall.RedirectMap(modbusrules.Name)} {
		assert.Contains(t, def, name)
	}
	assert.Equal(t, "modbus_redirect", firewall.RedirectChain(modbusrules.Name), "the chain name of existing rulesets")
	assert.Equal(t, "modbus_from", firewall.RedirectMap(modbusrules.Name), "the map name of existing rulesets")

	custom := render(t, firewall.Compile(m, firewall.Options{Proxies: []firewall.ProxyPort{{Inspector: modbusrules.Name, Port: 15020}}}))
	assert.Contains(t, custom, "redirect to :15020")
	assert.NotContains(t, custom, ":5020")
	assert.Equal(t, strings.Count(def, "redirect to"), strings.Count(custom, "redirect to"))

	island := render(t, firewall.Compile(m, firewall.Options{Island: true}))
	assert.NotContains(t, island, "redirect to", "no conduit in island mode")
	assert.NotContains(t, island, firewall.RedirectChain(modbusrules.Name))
}
