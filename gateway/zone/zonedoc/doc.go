// Package zonedoc draws a zone model as a zone and conduit diagram and writes
// it up as a report, the documentation IEC 62443-3-2 asks for and METI's
// factory guideline step 1 produces: zones grouped and coloured by
// importance with their networks and assets, conduits as arrows with their
// services and inspection policy, and tables of zones, conduits, zone pairs
// and lint findings. What a drawing and a report say of a conduit's rules
// block comes from its protocol (package protocols/registry).
//
// Everything here is pure: a loaded model in, bytes out. Nothing reads the
// clock, the file system or the network; the report date is passed in. The
// same model gives byte-identical output in every format, and all model text
// is escaped for the format it lands in.
//
// Formats: DOT (for Graphviz), SVG (laid out here, without Graphviz: zones
// in rows by importance, arrows between the boxes), Mermaid (a flowchart for
// Markdown and wikis), and the report as one self-contained HTML file (SVG
// embedded, no external resources) or Markdown (with a Mermaid block).
package zonedoc

import (
	"time"

	"github.com/zonegate/zonegate/gateway/zone"
)

// Counter is the traffic one conduit has carried, for a live drawing.
type Counter struct {
	Packets, Bytes uint64
}

// DiagramOptions change what a drawing shows; the zero value draws the model.
type DiagramOptions struct {
	// Counters, by conduit name, are printed on the conduits' arrows.
	// Conduits without an entry show none.
	Counters map[string]Counter
	// ZoneLink, when set, makes each zone's box in the SVG drawing a link
	// to the address it returns for the zone's name (a web console links
	// a zone to its conduits). Other formats ignore it.
	ZoneLink func(zone string) string
}

// ReportOptions describe a report.
type ReportOptions struct {
	// Date is printed as the date of the report (YYYY-MM-DD, UTC). The
	// caller chooses it (the model file's modification time, or a date
	// given on the command line) so a report can be made again bit for bit.
	Date time.Time
	// Diagram is passed on to the embedded drawing.
	Diagram DiagramOptions
}

// Format is an output format of the drawing or the report.
type Format string

// Drawing and report formats.
const (
	FormatDOT      Format = "dot"
	FormatSVG      Format = "svg"
	FormatMermaid  Format = "mermaid"
	FormatHTML     Format = "html"
	FormatMarkdown Format = "markdown"
)

// DiagramFormats and ReportFormats list the formats Diagram and Report take.
var (
	DiagramFormats = []Format{FormatSVG, FormatDOT, FormatMermaid}
	ReportFormats  = []Format{FormatHTML, FormatMarkdown}
)

// Diagram draws the model in one of DiagramFormats; ok is false for any
// other format.
func Diagram(m *zone.Model, f Format, opt DiagramOptions) (out []byte, ok bool) {
	switch f {
	case FormatDOT:
		return DOT(m, opt), true
	case FormatSVG:
		return SVG(m, opt), true
	case FormatMermaid:
		return Mermaid(m, opt), true
	}
	return nil, false
}

// Report writes the model up in one of ReportFormats; ok is false for any
// other format.
func Report(m *zone.Model, f Format, opt ReportOptions) (out []byte, ok bool) {
	switch f {
	case FormatHTML:
		return HTML(m, opt), true
	case FormatMarkdown:
		return Markdown(m, opt), true
	}
	return nil, false
}
