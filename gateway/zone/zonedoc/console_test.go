package zonedoc

import (
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestZoneLinks: with ZoneLink every zone's box is a link (a web console's
// drawing), the link text escaped like all model text; without it the
// drawing is the same bytes as before.
func TestZoneLinks(t *testing.T) {
	m := loadModel(t, hostilePath)
	link := func(z string) string { return "/conduits?zone=" + url.QueryEscape(z) + "&x=<\"'>" }
	out := string(SVGElement(m, DiagramOptions{ZoneLink: link}))
	assert.False(t, strings.HasPrefix(out, "<?xml"), "an element for an HTML page: no XML declaration")
	require.True(t, strings.HasPrefix(out, "<svg "))
	for _, z := range m.Zones {
		assert.Contains(t, out, `<a href="/conduits?zone=`+z.Name+`&amp;x=&lt;&quot;&#39;&gt;"><g class="zone" id="zone-`+z.Name+`">`)
	}
	assert.Equal(t, len(m.Zones), strings.Count(out, "</g></a>"))
	svgText(t, []byte(out)) // still well-formed XML

	plain := SVG(m, DiagramOptions{})
	assert.Equal(t, string(plain), "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"+string(SVGElement(m, DiagramOptions{})))
	assert.NotContains(t, string(plain), "<a ")
}

// TestConduitsText: the conduit rows the report and the web console share.
func TestConduitsText(t *testing.T) {
	m := loadModel(t, examplePath)
	cs := Conduits(m)
	require.Len(t, cs, len(m.Conduits))
	byName := map[string]ConduitText{}
	for _, c := range cs {
		byName[c.Name] = c
	}
	plc := byName["scada-to-plc"]
	assert.Equal(t, "supervisory", plc.From)
	assert.Equal(t, "scada-1, hmi-1", plc.FromAssets)
	assert.Equal(t, "plc-1, plc-2", plc.ToAssets)
	assert.Equal(t, "tcp/502, icmp/echo-request", plc.Services)
	assert.Equal(t, "modbus", plc.Inspect)
	assert.Contains(t, plc.Policy, "holding registers")
	mes := byName["office-to-mes-v6"]
	assert.Equal(t, "whole zone", mes.FromAssets)
	assert.Equal(t, "none: packet filter only", mes.Policy)
	assert.Equal(t, "The MES reports portal over IPv6", mes.Description)
}
