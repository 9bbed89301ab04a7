package zonedoc

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/zonegate/zonegate/gateway/zone"
)

var dotEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "&", "&amp;")

// dotQuote quotes model text as a DOT string. Backslashes are doubled so
// Graphviz's own escapes (\N, \G, \l, ...) cannot be smuggled in, and & is
// written as an entity because Graphviz decodes entities in labels.
func dotQuote(s string) string { return `"` + dotEscaper.Replace(clean(s)) + `"` }

// dotLines quotes lines as one DOT label, each line ended by term: `\l`
// (left-justified) or `\n` (centred).
func dotLines(lines []string, term string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i, l := range lines {
		if i > 0 && term == `\n` {
			b.WriteString(term) // centred lines: between them only
		}
		b.WriteString(dotEscaper.Replace(clean(l)))
		if term != `\n` {
			b.WriteString(term)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// DOT draws the model as a Graphviz digraph: one cluster per importance
// level holding its zones, one edge per conduit. Render it with
// `dot -Tsvg`.
func DOT(m *zone.Model, opt DiagramOptions) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "// Zone and conduit drawing of gateway %s, made by zonegate from the zone model.\n", clean(m.Gateway.Name))
	fmt.Fprintf(&b, "// Model digest %s. Render with: dot -Tsvg -o zones.svg FILE\n", m.Digest())
	b.WriteString("digraph zonegate {\n")
	fmt.Fprintf(&b, "  graph [label=%s, labelloc=t, fontname=\"Helvetica\", fontsize=16, rankdir=TB, newrank=true, nodesep=0.6, ranksep=1.0];\n",
		dotLines([]string{m.Gateway.Name + ": zones and conduits", m.Digest()}, `\n`))
	b.WriteString("  node [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\", fontsize=10, margin=\"0.15,0.08\"];\n")
	fmt.Fprintf(&b, "  edge [fontname=\"Helvetica\", fontsize=9, color=%q, fontcolor=%q];\n", plainColour, plainColour)
	for i, g := range groups(m) {
		c := colourOf(g.imp)
		fmt.Fprintf(&b, "\n  subgraph cluster_%d {\n", i)
		fmt.Fprintf(&b, "    label=%s; style=\"rounded,filled\"; fillcolor=%q; color=%q; fontname=\"Helvetica\"; fontsize=12;\n", dotQuote(groupName(g.imp)), c.band, c.stroke)
		for _, z := range g.zones {
			lines := append([]string{zoneTitle(m, z)}, zoneBody(m, z)...)
			attrs := fmt.Sprintf("label=%s, fillcolor=%q, color=%q", dotLines(lines, `\l`), c.fill, c.stroke)
			if m.IsManagementZone(z.Name) {
				attrs += ", peripheries=2, penwidth=2"
			}
			if z.Description != "" {
				attrs += ", tooltip=" + dotQuote(z.Description)
			}
			fmt.Fprintf(&b, "    %s [%s];\n", dotQuote(z.Name), attrs)
		}
		b.WriteString("  }\n")
	}
	if len(m.Conduits) > 0 {
		b.WriteString("\n")
	}
	for _, c := range m.Conduits {
		lines := append([]string{c.Name}, conduitBody(c, opt)...)
		attrs := "label=" + dotLines(lines, `\l`)
		if c.Inspect != "" {
			attrs += fmt.Sprintf(", color=%q, fontcolor=%q, penwidth=2.5", inspectedColour, inspectedColour)
		}
		if c.Description != "" {
			attrs += ", tooltip=" + dotQuote(c.Description)
		}
		fmt.Fprintf(&b, "  %s -> %s [%s];\n", dotQuote(c.From), dotQuote(c.To), attrs)
	}
	b.WriteString("}\n")
	return b.Bytes()
}
