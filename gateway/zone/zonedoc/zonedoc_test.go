package zonedoc

import (
	"bytes"
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"html"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zonegate/zonegate/gateway/zone"
	"github.com/zonegate/zonegate/protocols/modbus"
	"github.com/zonegate/zonegate/protocols/modbus/modbusrules"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

const (
	examplePath = "../../../configs/example-factory.yaml"
	hostilePath = "testdata/hostile.yaml"
)

var reportDay = time.Date(2026, 11, 30, 15, 4, 5, 0, time.UTC)

func loadModel(t *testing.T, path string) *zone.Model {
	t.Helper()
	m, err := zone.LoadFile(path)
	require.NoError(t, err)
	return m
}

// names lists every zone, asset and conduit of a model.
func names(m *zone.Model) []string {
	var out []string
	for _, z := range m.Zones {
		out = append(out, z.Name)
	}
	for _, a := range m.Assets {
		out = append(out, a.Name)
	}
	for _, c := range m.Conduits {
		out = append(out, c.Name)
	}
	return out
}

func TestGolden(t *testing.T) {
	m := loadModel(t, examplePath)
	for _, tt := range []struct {
		file string
		out  []byte
	}{
		{"example-factory.dot", DOT(m, DiagramOptions{})},
		{"example-factory.mmd", Mermaid(m, DiagramOptions{})},
	} {
		t.Run(tt.file, func(t *testing.T) {
			golden := filepath.Join("testdata", tt.file)
			if *update {
				require.NoError(t, os.WriteFile(golden, tt.out, 0o644))
			}
			want, err := os.ReadFile(golden)
			require.NoError(t, err, "run go test -run TestGolden -update ./gateway/zone/zonedoc/ to create it")
			assert.Equal(t, string(want), string(tt.out), "drawing of the example changed; if intended, rerun with -update")
		})
	}
}

func TestStableOutput(t *testing.T) {
	for _, path := range []string{examplePath, hostilePath} {
		a, b := loadModel(t, path), loadModel(t, path)
		opt := DiagramOptions{Counters: map[string]Counter{"scada-to-plc": {1, 2}, "ops-web": {3, 4}}}
		for _, f := range DiagramFormats {
			x, ok := Diagram(a, f, opt)
			require.True(t, ok)
			y, _ := Diagram(b, f, opt)
			assert.Equal(t, x, y, "%s of %s differs between two runs", f, path)
		}
		for _, f := range ReportFormats {
			x, ok := Report(a, f, ReportOptions{Date: reportDay})
			require.True(t, ok)
			y, _ := Report(b, f, ReportOptions{Date: reportDay})
			assert.Equal(t, x, y, "%s report of %s differs between two runs", f, path)
		}
	}
	_, ok := Diagram(loadModel(t, examplePath), "png", DiagramOptions{})
	assert.False(t, ok)
	_, ok = Report(loadModel(t, examplePath), "pdf", ReportOptions{})
	assert.False(t, ok)
}

// svgText parses an SVG (or the SVG inside the HTML report) as XML and
// returns its character data.
func svgText(t *testing.T, doc []byte) string {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(doc))
	var text strings.Builder
	root := ""
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err, "the SVG is not well-formed XML")
		switch tok := tok.(type) {
		case xml.StartElement:
			if root == "" {
				root = tok.Name.Local
				assert.Equal(t, "http://www.w3.org/2000/svg", tok.Name.Space)
			}
		case xml.CharData:
			text.Write(tok)
			text.WriteByte('\n')
		}
	}
	assert.Equal(t, "svg", root)
	return text.String()
}

func TestSVGNamesEverything(t *testing.T) {
	for _, path := range []string{examplePath, hostilePath} {
		t.Run(filepath.Base(path), func(t *testing.T) {
			m := loadModel(t, path)
			text := svgText(t, SVG(m, DiagramOptions{}))
			for _, n := range names(m) {
				assert.Contains(t, text, n)
			}
			assert.Contains(t, text, m.Digest())
			assert.Contains(t, text, m.Gateway.Name)
			for _, z := range m.Zones {
				if m.IsManagementZone(z.Name) {
					assert.Contains(t, text, z.Name+" [management]")
				}
			}
		})
	}
}

func TestDrawingContents(t *testing.T) {
	m := loadModel(t, examplePath)
	for _, f := range DiagramFormats {
		out, _ := Diagram(m, f, DiagramOptions{})
		s := string(out)
		if f == FormatMermaid {
			s = mermaidDecode(s)
		}
		assert.Contains(t, s, "line3-gw", f)
		assert.Contains(t, s, m.Digest(), f)
		assert.Contains(t, s, "read hr 0-99, co 0-63", f)
		assert.Contains(t, s, "write hr 10-19 ≤ 1000, co 0-15", f)
		assert.Contains(t, s, "tcp/443, icmp/echo-request", f)
		assert.Contains(t, s, "maintenance [management]", f)
		assert.Contains(t, s, "importance high", f)
		assert.Contains(t, s, "net 198.18.40.0/24", f)
		assert.Contains(t, s, "asset plc-1 198.18.40.10 (high)", f)
	}
	// SL-T and owner appear once a model sets them.
	h := loadModel(t, hostilePath)
	for _, f := range DiagramFormats {
		out, _ := Diagram(h, f, DiagramOptions{})
		assert.Contains(t, string(out), "SL-T 3", f)
	}
	assert.Contains(t, string(SVG(h, DiagramOptions{})), "owner: R&amp;D &lt;ops@example.invalid&gt;")
}

// mermaidDecode turns Mermaid entity codes (#60;) back into characters.
func mermaidDecode(s string) string {
	return regexp.MustCompile(`#[0-9]+;`).ReplaceAllStringFunc(s, func(e string) string {
		n, _ := strconv.Atoi(e[1 : len(e)-1])
		return string(rune(n))
	})
}

func TestCounters(t *testing.T) {
	m := loadModel(t, examplePath)
	opt := DiagramOptions{Counters: map[string]Counter{"scada-to-plc": {Packets: 1234, Bytes: 3 << 20}, "no-such-conduit": {1, 1}}}
	for _, f := range DiagramFormats {
		plain, _ := Diagram(m, f, DiagramOptions{})
		live, _ := Diagram(m, f, opt)
		assert.NotContains(t, string(plain), "packets", f)
		assert.Equal(t, 1, strings.Count(string(live), "1234 packets, 3.0 MiB"), f)
	}
	assert.Contains(t, string(HTML(m, ReportOptions{Diagram: opt})), "1234 packets, 3.0 MiB")
	assert.Equal(t, "0 packets, 0 bytes", CounterText(Counter{}))
	assert.Equal(t, "5 packets, 1.5 KiB", CounterText(Counter{5, 1536}))
	assert.Equal(t, "1 packets, 2.0 GiB", CounterText(Counter{1, 2 << 30}))
}

func TestDOTAcceptedByGraphviz(t *testing.T) {
	dot, err := exec.LookPath("dot")
	if err != nil {
		t.Skip("Graphviz `dot` is not installed (Debian package graphviz; .ci/install-deps.sh installs it): cannot check the DOT output")
	}
	for _, path := range []string{examplePath, hostilePath} {
		t.Run(filepath.Base(path), func(t *testing.T) {
			m := loadModel(t, path)
			cmd := exec.Command(dot, "-Tsvg")
			cmd.Stdin = bytes.NewReader(DOT(m, DiagramOptions{Counters: map[string]Counter{"ops-web": {7, 8}}}))
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			require.NoError(t, cmd.Run(), "dot -Tsvg refused the DOT: %s", stderr.String())
			assert.Empty(t, stderr.String(), "dot warned")
			text := svgText(t, stdout.Bytes()[bytes.Index(stdout.Bytes(), []byte("<svg")):])
			for _, n := range names(m) {
				assert.Contains(t, text, n)
			}
		})
	}
}

// The lines of the hostile descriptions, as written in the model.
var hostile = []string{
	`Ops "zone" <script>alert('x')</script> & co | pipes`,
	`\N \l \G ` + "```" + ` #quot; ]] --> end; [link](http://example.invalid/x)`,
	`Cell </text></svg> <!-- x --> ]]> &amp; &#60;`,
	`PLC "nine" <b>bold</b> | x`,
	`Reads | writes <em>"all"</em> & more`,
	`R&D <ops@example.invalid> | "night" shift`,
	"O'Brien `team`",
}

func TestEscaping(t *testing.T) {
	m := loadModel(t, hostilePath)
	opt := ReportOptions{Date: reportDay}

	t.Run("html", func(t *testing.T) {
		out := string(HTML(m, opt))
		for _, h := range hostile {
			assert.Contains(t, out, html.EscapeString(h))
		}
		assert.NotContains(t, out, "<script")
		assert.NotContains(t, out, `<em>"all"`)
		assert.NotContains(t, out, "<b>bold")
		assert.NotContains(t, out, "</text></svg> <!--")
		// The embedded SVG is still well-formed and names everything.
		svg := out[strings.Index(out, "<svg"):]
		svg = svg[:strings.Index(svg, "</svg>\n")+len("</svg>\n")]
		text := svgText(t, []byte(svg))
		for _, n := range names(m) {
			assert.Contains(t, text, n)
		}
		assert.Contains(t, text, "Cell </text></svg>", "text survives escaping as text")
	})

	t.Run("markdown", func(t *testing.T) {
		out := string(Markdown(m, opt))
		assert.NotRegexp(t, `[^\\]<script`, out)
		assert.NotContains(t, out, `<em>"all"`)
		assert.Equal(t, 2, strings.Count(out, "```"), "only the Mermaid fence: no backtick run from the model")
		// Every table row has exactly as many unescaped | as its header.
		unescapedPipe := regexp.MustCompile(`(^|[^\\])\|`)
		cols := 0
		for _, line := range strings.Split(out, "\n") {
			if !strings.HasPrefix(line, "|") {
				cols = 0
				continue
			}
			n := len(unescapedPipe.FindAllStringIndex(strings.ReplaceAll(line, "||", "| |"), -1))
			if cols == 0 {
				cols = n
			}
			assert.Equal(t, cols, n, "row breaks the table: %s", line)
		}
		assert.Contains(t, out, `Ops "zone" \<script\>alert('x')\</script\> \& co \| pipes`)
	})

	t.Run("dot", func(t *testing.T) {
		out := string(DOT(m, DiagramOptions{}))
		assert.Contains(t, out, `Ops \"zone\" <script>alert('x')</script> &amp; co | pipes`)
		assert.Contains(t, out, `\\N \\l \\G`)
		for _, line := range strings.Split(out, "\n") {
			quotes := len(regexp.MustCompile(`(^|[^\\])(\\\\)*"`).FindAllString(line, -1))
			assert.Zero(t, quotes%2, "unbalanced quotes (a string runs over the line): %s", line)
		}
	})

	t.Run("mermaid", func(t *testing.T) {
		out := string(Mermaid(m, DiagramOptions{}))
		assert.NotContains(t, out, "`")
		assert.NotContains(t, out, "<script")
		assert.Contains(t, out, "z_ops ==>|\"<b>ops-to-cell</b>", "inspected: a thick arrow")
		assert.Contains(t, out, "z_ops -->|\"<b>ops-web</b>")
		for _, line := range strings.Split(out, "\n") {
			if strings.Contains(line, "[\"") || strings.Contains(line, "|\"") {
				assert.Equal(t, 2, strings.Count(line, `"`), "a quote inside a label: %s", line)
			}
		}
		assert.Contains(t, out, "Ops #34;zone#34; #60;script#62;")
	})

	t.Run("svg", func(t *testing.T) {
		out := SVG(m, DiagramOptions{})
		assert.NotContains(t, string(out), "<script")
		text := svgText(t, out)
		assert.Contains(t, text, `Ops "zone" <script>alert('x')</script> & co | pipes`)
		assert.Contains(t, text, "R&D <ops@example.invalid> | \"night\" shift tab", "the tab is a space")
	})
}

func TestReportNamesEverything(t *testing.T) {
	for _, path := range []string{examplePath, hostilePath} {
		m := loadModel(t, path)
		findings := m.Lint()
		require.NotEmpty(t, findings, "the test models have lint findings")
		for _, f := range ReportFormats {
			t.Run(filepath.Base(path)+"/"+string(f), func(t *testing.T) {
				out, ok := Report(m, f, ReportOptions{Date: reportDay})
				require.True(t, ok)
				esc := func(s string) string { return html.EscapeString(clean(s)) }
				if f == FormatMarkdown {
					esc = mdText
				}
				s := string(out)
				for _, n := range names(m) {
					assert.Contains(t, s, esc(n))
				}
				for _, d := range findings {
					assert.Contains(t, s, esc(d.Message))
					assert.Contains(t, s, esc(d.Rule))
				}
				assert.Contains(t, s, m.Digest())
				assert.Contains(t, s, "2026-11-30")
				assert.Contains(t, s, esc(m.Gateway.Name))
				assert.Contains(t, s, "IEC 62443-3-2")
				assert.Contains(t, s, "METI guideline steps 1-2 to 1-7")
			})
		}
	}
	m := loadModel(t, examplePath)
	h := string(HTML(m, ReportOptions{Date: reportDay}))
	assert.Contains(t, h, "Enforced: a request the rules do not allow is answered with a Modbus exception. Unit identifier 1 only. Allowed: read holding registers 0-99; read coils 0-63; write holding registers 10-19 with values 0-1000; write coils 0-15; function read_device_identification (FC 43). At most 100/s requests per client connection.")
	assert.Contains(t, h, "<tr><td>supervisory</td><td>·</td><td>→ scada-to-historian</td><td>(same zone)</td><td>→ scada-to-plc (inspected: modbus)<br>→ hmi-to-plc-secure (inspected: modbus)</td>")
	assert.Contains(t, h, "→ scada-to-plc (inspected: modbus)")
	assert.Contains(t, string(HTML(m, ReportOptions{})), "<td>not given</td>")
}

func TestHTMLIsSelfContained(t *testing.T) {
	for _, path := range []string{examplePath, hostilePath} {
		out := string(HTML(loadModel(t, path), ReportOptions{Date: reportDay}))
		assert.NotRegexp(t, `(?i)\b(src|href|xlink:href|action)\s*=\s*["']?\s*(https?:)?//`, out)
		assert.NotRegexp(t, `(?i)<(script|link|iframe|img|object|embed)\b`, out)
		assert.NotRegexp(t, `(?i)url\(\s*["']?[^#"'\s]`, out, "only fragment references such as url(#arrow)")
		assert.NotContains(t, out, "@import")
		assert.True(t, strings.HasPrefix(out, "<!DOCTYPE html>"))
	}
}

func TestPolicyWording(t *testing.T) {
	m := loadModel(t, examplePath)
	assert.Equal(t, []string{"read di 0-127, ir 0-63", "unit 1", "deny: reset"}, modbusrules.Summary(modbusSpec(m.Conduit("scada-to-sis"))))
	assert.Equal(t, []string{"read hr 0-99, co 0-63", "write hr 10-19 ≤ 1000, co 0-15", "fn read_device_identification", "unit 1", "≤ 100/s"},
		modbusrules.Summary(modbusSpec(m.Conduit("scada-to-plc"))))
	w := modbusrules.Words(modbusSpec(m.Conduit("scada-to-sis")))
	assert.Contains(t, w, "Enforced: a request the rules do not allow closes the connection.")
	assert.Contains(t, w, "Allowed: read discrete inputs 0-127; read input registers 0-63.")

	src, err := os.ReadFile(examplePath)
	require.NoError(t, err)
	mon, err := zone.Load("m.yaml", []byte(strings.Replace(string(src), "      mode: enforce\n      on_deny: reset\n", "      mode: monitor\n", 1)))
	require.NoError(t, err)
	assert.Equal(t, "MONITOR only, denies nothing", modbusrules.Summary(modbusSpec(mon.Conduit("scada-to-sis")))[0])
	assert.Contains(t, modbusrules.Words(modbusSpec(mon.Conduit("scada-to-sis"))), "only reported")
}

func TestSmallAndLargeModels(t *testing.T) {
	small := "version: 1\ngateway: {name: gw}\nzones:\n  - {name: only, importance: low, interfaces: [eth0], networks: [10.0.0.0/8]}\n"
	var large strings.Builder
	large.WriteString("version: 1\ngateway: {name: big, management: {zones: [z0]}}\nzones:\n")
	imps := []string{"low", "medium", "high"}
	for i := range 24 {
		fmt.Fprintf(&large, "  - {name: z%d, importance: %s, security_level: %d, interfaces: [eth%d], networks: [10.%d.0.0/16]}\n", i, imps[i%3], i%4+1, i, i)
	}
	large.WriteString("conduits:\n")
	for i := range 60 {
		from, to := i%24, (i*7+3)%24
		if from == to {
			to = (to + 1) % 24
		}
		fmt.Fprintf(&large, "  - {name: c%d, from: z%d, to: z%d, services: [tcp/%d]}\n", i, from, to, 1000+i)
	}
	for name, src := range map[string]string{"small": small, "large": large.String()} {
		t.Run(name, func(t *testing.T) {
			m, err := zone.Load(name+".yaml", []byte(src))
			require.NoError(t, err)
			text := svgText(t, SVG(m, DiagramOptions{}))
			for _, n := range names(m) {
				assert.Contains(t, text, n)
			}
			assert.Equal(t, SVG(m, DiagramOptions{}), SVG(m, DiagramOptions{}))
			for _, f := range ReportFormats {
				out, _ := Report(m, f, ReportOptions{})
				for _, n := range names(m) {
					assert.Contains(t, string(out), n)
				}
			}
		})
	}
}

// modbusSpec returns the Modbus rules of a conduit with `inspect: modbus`.
func modbusSpec(c *zone.Conduit) *modbus.Spec {
	spec, _ := c.Rules.(*modbus.Spec)
	return spec
}
