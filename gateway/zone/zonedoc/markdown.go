package zonedoc

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/zonegate/zonegate/gateway/zone"
)

// mdEscaper backslash-escapes what Markdown (CommonMark with GitHub
// tables) would read as markup, and the table separator |.
var mdEscaper = strings.NewReplacer(
	`\`, `\\`, "`", "\\`", "*", `\*`, "_", `\_`, "{", `\{`, "}", `\}`, "[", `\[`, "]", `\]`,
	"<", `\<`, ">", `\>`, "#", `\#`, "+", `\+`, "!", `\!`, "|", `\|`, "&", `\&`, "~", `\~`)

func mdText(s string) string { return mdEscaper.Replace(clean(s)) }

// Markdown writes the report as Markdown with the drawing as a Mermaid
// block (GitHub, GitLab and most wikis render it).
func Markdown(m *zone.Model, opt ReportOptions) []byte {
	d := buildReport(m, opt)
	var b bytes.Buffer
	fmt.Fprintf(&b, "# %s\n\n", mdText(d.title))
	b.WriteString("| | |\n|---|---|\n")
	for _, f := range d.facts {
		fmt.Fprintf(&b, "| %s | %s |\n", mdText(f[0]), mdText(f[1]))
	}
	b.WriteString("\n## 1. Zone and conduit drawing\n\n```mermaid\n")
	b.Write(Mermaid(m, opt.Diagram))
	b.WriteString("```\n\n")
	b.WriteString("## 2. Zones\n\nGrouped by importance, low to high. SL-T is the IEC 62443 target security level.\n\n")
	mdTable(&b, d.zones)
	b.WriteString("\n## 3. Conduits\n\nOnly the *from* side may open connections; everything not listed here is denied between zones.\n\n")
	mdTable(&b, d.conduits)
	b.WriteString("\n## 4. Zone pairs\n\nRows: the zone that opens the connection; columns: the zone it reaches. · means no conduit: the gateway drops that traffic.\n\n")
	mdTable(&b, d.matrix)
	b.WriteString("\n## 5. Lint findings\n\n")
	if len(d.findings.rows) == 0 {
		b.WriteString("None: the model passes every lint rule.\n")
	} else {
		b.WriteString("Legal but risky choices, each with the rule that found it (zonegate check --strict treats them as errors).\n\n")
		mdTable(&b, d.findings)
	}
	b.WriteString("\n## 6. What this report documents\n\n| Guideline step or requirement | Where in this report |\n|---|---|\n")
	for _, r := range d.mapping {
		fmt.Fprintf(&b, "| %s | %s |\n", mdText(r[0]), mdText(r[1]))
	}
	fmt.Fprintf(&b, "\n*Made by zonegate from model %s (%s).*\n", mdText(d.facts[1][1]), mdText(d.facts[2][1]))
	return b.Bytes()
}

func mdTable(b *bytes.Buffer, t table) {
	b.WriteString("|")
	for _, h := range t.head {
		fmt.Fprintf(b, " %s |", mdText(h))
	}
	b.WriteString("\n|")
	for range t.head {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for _, row := range t.rows {
		b.WriteString("|")
		for _, c := range row {
			parts := make([]string, len(c))
			for i, l := range c {
				parts[i] = mdText(l)
			}
			fmt.Fprintf(b, " %s |", strings.Join(parts, "<br>"))
		}
		b.WriteString("\n")
	}
}
