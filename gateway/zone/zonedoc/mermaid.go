package zonedoc

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"github.com/zonegate/zonegate/gateway/zone"
)

// mermaidText escapes model text for a quoted Mermaid label: every
// character but letters, digits, space and a few harmless punctuation
// marks becomes an entity code (#60; for <), so no quote, bracket, pipe,
// backtick or HTML can end the label, the block or the Markdown fence.
func mermaidText(s string) string {
	var b strings.Builder
	for _, r := range clean(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9',
			r == ' ', r == '.', r == ',', r == ':', r == '/', r == '-', r == '_', r == '(', r == ')', r == '=', r == '+':
			b.WriteRune(r)
		default:
			b.WriteString("#" + strconv.Itoa(int(r)) + ";")
		}
	}
	return b.String()
}

// mermaidLabel is a quoted label of lines, the first one bold.
func mermaidLabel(lines []string, boldFirst bool) string {
	parts := make([]string, len(lines))
	for i, l := range lines {
		parts[i] = mermaidText(l)
		if i == 0 && boldFirst {
			parts[i] = "<b>" + parts[i] + "</b>"
		}
	}
	return `"` + strings.Join(parts, "<br/>") + `"`
}

// mermaidID is a zone's node id. Zone names are [a-z][a-z0-9-]*; "-"
// becomes "_", which names cannot contain, so ids stay distinct.
func mermaidID(name string) string {
	var b strings.Builder
	b.WriteString("z_")
	for _, r := range name {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteString("_")
		}
	}
	return b.String()
}

// Mermaid draws the model as a Mermaid flowchart for Markdown and wikis:
// one subgraph per importance level, one arrow per conduit (thick for
// inspected ones), management zones with a thick border.
func Mermaid(m *zone.Model, opt DiagramOptions) []byte {
	var b bytes.Buffer
	b.WriteString("---\n")
	fmt.Fprintf(&b, "title: \"%s: zones and conduits (%s)\"\n", mermaidText(m.Gateway.Name), m.Digest())
	b.WriteString("---\n")
	b.WriteString("flowchart TB\n")
	var mgmt []string
	for i, g := range groups(m) {
		fmt.Fprintf(&b, "  subgraph imp_%d[\"%s\"]\n", i, mermaidText(groupName(g.imp)))
		for _, z := range g.zones {
			lines := append([]string{zoneTitle(m, z)}, zoneBody(m, z)...)
			fmt.Fprintf(&b, "    %s[%s]\n", mermaidID(z.Name), mermaidLabel(lines, true))
			if m.IsManagementZone(z.Name) {
				mgmt = append(mgmt, mermaidID(z.Name))
			}
		}
		b.WriteString("  end\n")
	}
	var inspected []string
	for i, c := range m.Conduits {
		arrow := "-->"
		if c.Inspect != "" {
			arrow = "==>"
			inspected = append(inspected, strconv.Itoa(i))
		}
		lines := append([]string{c.Name}, conduitBody(c, opt)...)
		fmt.Fprintf(&b, "  %s %s|%s| %s\n", mermaidID(c.From), arrow, mermaidLabel(lines, true), mermaidID(c.To))
	}
	for i, g := range groups(m) {
		c := colourOf(g.imp)
		cls := "imp_" + g.imp.String()
		fmt.Fprintf(&b, "  classDef %s fill:%s,stroke:%s,color:#000\n", cls, c.fill, c.stroke)
		ids := make([]string, len(g.zones))
		for j, z := range g.zones {
			ids[j] = mermaidID(z.Name)
		}
		fmt.Fprintf(&b, "  class %s %s\n", strings.Join(ids, ","), cls)
		fmt.Fprintf(&b, "  style imp_%d fill:%s,stroke:%s\n", i, c.band, c.stroke)
	}
	if len(mgmt) > 0 {
		b.WriteString("  classDef management stroke-width:4px\n")
		fmt.Fprintf(&b, "  class %s management\n", strings.Join(mgmt, ","))
	}
	if len(inspected) > 0 {
		fmt.Fprintf(&b, "  linkStyle %s stroke:%s,color:%s\n", strings.Join(inspected, ","), inspectedColour, inspectedColour)
	}
	return b.Bytes()
}
