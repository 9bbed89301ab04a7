package zonedoc

import (
	"bytes"
	"fmt"
	"html"

	"github.com/zonegate/zonegate/gateway/zone"
)

func htmlText(s string) string { return html.EscapeString(clean(s)) }

const htmlStyle = `body{font-family:system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;margin:2em;color:#212529;line-height:1.4}
h1{font-size:1.6em}h2{font-size:1.25em;margin-top:1.6em;border-bottom:1px solid #dee2e6}
table{border-collapse:collapse;margin:.5em 0;font-size:.9em}
th,td{border:1px solid #ced4da;padding:.3em .5em;text-align:left;vertical-align:top}
th{background:#f1f3f5}
table.facts th{width:12em}
td.imp-high{background:#f8d7da}td.imp-medium{background:#fff3cd}td.imp-low{background:#d1e7dd}
.drawing{overflow:auto;border:1px solid #dee2e6;padding:.5em}
.muted{color:#6c757d}
@media print{.drawing{overflow:visible}svg{max-width:100%;height:auto}}
`

// HTML writes the report as one self-contained HTML file: the drawing is
// embedded as SVG, the style sheet is inline, and nothing is loaded from
// anywhere else.
func HTML(m *zone.Model, opt ReportOptions) []byte {
	d := buildReport(m, opt)
	var b bytes.Buffer
	b.WriteString("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
	fmt.Fprintf(&b, "<title>%s</title>\n<style>\n%s</style>\n</head>\n<body>\n", htmlText(d.title), htmlStyle)
	fmt.Fprintf(&b, "<h1>%s</h1>\n", htmlText(d.title))
	b.WriteString("<table class=\"facts\">\n")
	for _, f := range d.facts {
		fmt.Fprintf(&b, "<tr><th>%s</th><td>%s</td></tr>\n", htmlText(f[0]), htmlText(f[1]))
	}
	b.WriteString("</table>\n")

	b.WriteString("<h2>1. Zone and conduit drawing</h2>\n<div class=\"drawing\">\n")
	writeSVG(&b, m, opt.Diagram, false)
	b.WriteString("</div>\n")

	b.WriteString("<h2>2. Zones</h2>\n<p>Grouped by importance, low to high. SL-T is the IEC 62443 target security level.</p>\n")
	htmlTable(&b, d.zones, 1)
	b.WriteString("<h2>3. Conduits</h2>\n<p>Only the <em>from</em> side may open connections; everything not listed here is denied between zones.</p>\n")
	htmlTable(&b, d.conduits, -1)
	b.WriteString("<h2>4. Zone pairs</h2>\n<p>Rows: the zone that opens the connection; columns: the zone it reaches. · means no conduit: the gateway drops that traffic.</p>\n")
	htmlTable(&b, d.matrix, -1)
	b.WriteString("<h2>5. Lint findings</h2>\n")
	if len(d.findings.rows) == 0 {
		b.WriteString("<p>None: the model passes every lint rule.</p>\n")
	} else {
		b.WriteString("<p>Legal but risky choices, each with the rule that found it (zonegate check --strict treats them as errors).</p>\n")
		htmlTable(&b, d.findings, -1)
	}
	b.WriteString("<h2>6. What this report documents</h2>\n<table>\n<tr><th>Guideline step or requirement</th><th>Where in this report</th></tr>\n")
	for _, r := range d.mapping {
		fmt.Fprintf(&b, "<tr><td>%s</td><td>%s</td></tr>\n", htmlText(r[0]), htmlText(r[1]))
	}
	b.WriteString("</table>\n")
	fmt.Fprintf(&b, "<p class=\"muted\">Made by zonegate from model %s (%s).</p>\n", htmlText(d.facts[1][1]), htmlText(d.facts[2][1]))
	b.WriteString("</body>\n</html>\n")
	return b.Bytes()
}

// htmlTable prints a table; the cells of column impCol (if >= 0) are
// coloured by the importance they name.
func htmlTable(b *bytes.Buffer, t table, impCol int) {
	b.WriteString("<table>\n<tr>")
	for _, h := range t.head {
		fmt.Fprintf(b, "<th>%s</th>", htmlText(h))
	}
	b.WriteString("</tr>\n")
	for _, row := range t.rows {
		b.WriteString("<tr>")
		for i, c := range row {
			if i == impCol && len(c) == 1 {
				fmt.Fprintf(b, "<td class=\"imp-%s\">", htmlText(c[0]))
			} else {
				b.WriteString("<td>")
			}
			for j, l := range c {
				if j > 0 {
					b.WriteString("<br>")
				}
				b.WriteString(htmlText(l))
			}
			b.WriteString("</td>")
		}
		b.WriteString("</tr>\n")
	}
	b.WriteString("</table>\n")
}
