package zonedoc

import (
	"bytes"
	"fmt"
	"math"
	"strings"
	"unicode/utf8"

	"github.com/zonegate/zonegate/gateway/zone"
)

// The SVG is laid out here, without Graphviz (go-graphviz would add 5.5 MB
// to the appliance binary): zones are boxes in rows by importance, low at
// the top and high at the bottom, each row on a coloured band; conduits are
// arrows from box to box, curved apart when a zone pair has several and
// bent below the row when both zones are in the same row. Text is in a
// monospace font so box sizes follow from the number of characters.
const (
	svgFont      = "DejaVu Sans Mono, Menlo, Consolas, monospace"
	zoneFontSize = 11.0
	zoneCharW    = 6.7 // advance of one character at zoneFontSize
	zoneLineH    = 14.0
	edgeFontSize = 10.0
	edgeCharW    = 6.1
	edgeLineH    = 12.5
	boxPad       = 8.0
	boxMinW      = 150.0
	colGap       = 90.0
	bandHead     = 24.0 // band label above the boxes
	bandPad      = 14.0
	minRowGap    = 130.0
	titleBlock   = 74.0
	margin       = 20.0
)

type point struct{ x, y float64 }

func (p point) add(q point) point           { return point{p.x + q.x, p.y + q.y} }
func (p point) sub(q point) point           { return point{p.x - q.x, p.y - q.y} }
func (p point) scale(f float64) point       { return point{p.x * f, p.y * f} }
func (p point) length() float64             { return math.Hypot(p.x, p.y) }
func num(f float64) string                  { return fmt.Sprintf("%.1f", f+0) } // +0: no "-0.0"
func textWidth(s string, w float64) float64 { return float64(utf8.RuneCountInString(s)) * w }

type svgBox struct {
	x, y, w, h float64
	z          *zone.Zone
	lines      []string // title first
	imp        zone.Importance
	row        int
}

func (b *svgBox) centre() point { return point{b.x + b.w/2, b.y + b.h/2} }

// border is where the ray from the box's centre towards p leaves the box.
func (b *svgBox) border(p point) point {
	c := b.centre()
	d := p.sub(c)
	if d.x == 0 && d.y == 0 {
		return c
	}
	t := math.Inf(1)
	if d.x != 0 {
		t = math.Min(t, (b.w/2)/math.Abs(d.x))
	}
	if d.y != 0 {
		t = math.Min(t, (b.h/2)/math.Abs(d.y))
	}
	return c.add(d.scale(t))
}

type svgBand struct {
	x, y, w, h float64
	imp        zone.Importance
}

type svgEdge struct {
	c         *zone.Conduit
	a, ctl, b point
	lines     []string
	lp        point   // label centre
	push      point   // where the label moves when it overlaps another
	lx, ly    float64 // label box top left
	lw, lh    float64
	inspected bool
}

type bounds struct{ minX, minY, maxX, maxY float64 }

func (r *bounds) rect(x, y, w, h float64) {
	r.minX, r.minY = math.Min(r.minX, x), math.Min(r.minY, y)
	r.maxX, r.maxY = math.Max(r.maxX, x+w), math.Max(r.maxY, y+h)
}

// svgLayout places the zones and conduits.
func svgLayout(m *zone.Model, opt DiagramOptions) (bands []svgBand, boxes []*svgBox, edges []*svgEdge, bb bounds) {
	byName := map[string]*svgBox{}
	// Conduit labels first: the tallest decides the gap between rows.
	maxLabelH := 0.0
	for _, c := range m.Conduits {
		lines := append([]string{c.Name}, conduitBody(c, opt)...)
		maxLabelH = math.Max(maxLabelH, float64(len(lines))*edgeLineH+6)
		edges = append(edges, &svgEdge{c: c, lines: lines, inspected: c.Inspect != ""})
	}
	rowGap := math.Max(minRowGap, maxLabelH+60)

	type row struct {
		boxes []*svgBox
		w, h  float64
		imp   zone.Importance
	}
	var rows []row
	maxW := 0.0
	for _, g := range groups(m) {
		r := row{imp: g.imp}
		for _, z := range g.zones {
			lines := append([]string{zoneTitle(m, z)}, zoneBody(m, z)...)
			w := boxMinW
			for _, l := range lines {
				w = math.Max(w, textWidth(l, zoneCharW)+2*boxPad)
			}
			h := float64(len(lines))*zoneLineH + 2*boxPad
			b := &svgBox{w: math.Ceil(w), h: h, z: z, lines: lines, imp: g.imp}
			r.boxes = append(r.boxes, b)
			if len(r.boxes) > 1 {
				r.w += colGap
			}
			r.w += b.w
			r.h = math.Max(r.h, h)
		}
		maxW = math.Max(maxW, r.w)
		rows = append(rows, r)
	}
	y := 0.0
	for i, r := range rows {
		x := (maxW - r.w) / 2
		for _, b := range r.boxes {
			b.x, b.y, b.row = x, y+bandHead, i
			x += b.w + colGap
			boxes = append(boxes, b)
			byName[b.z.Name] = b
		}
		bands = append(bands, svgBand{x: -bandPad, y: y, w: maxW + 2*bandPad, h: bandHead + r.h + bandPad, imp: r.imp})
		y += bandHead + r.h + bandPad + rowGap
	}
	bb = bounds{math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)}
	for _, b := range bands {
		bb.rect(b.x, b.y, b.w, b.h)
	}

	// The labels of one zone pair (both directions) sit side by side across
	// the line between the two boxes, or below the row when both boxes are
	// in the same row; each arrow is a curve through its own label.
	var pairs [][2]string
	byPair := map[[2]string][]*svgEdge{}
	for _, e := range edges {
		if byName[e.c.From] == nil || byName[e.c.To] == nil || e.c.From == e.c.To {
			continue // a validated model has no such conduit
		}
		for _, l := range e.lines {
			e.lw = math.Max(e.lw, textWidth(l, edgeCharW)+8)
		}
		e.lh = float64(len(e.lines))*edgeLineH + 6
		key := pairKey(e.c.From, e.c.To)
		if byPair[key] == nil {
			pairs = append(pairs, key)
		}
		byPair[key] = append(byPair[key], e)
	}
	for _, key := range pairs {
		group := byPair[key]
		b0, b1 := byName[key[0]], byName[key[1]]
		p0, p1 := b0.centre(), b1.centre()
		d := p1.sub(p0)
		normal := point{-d.y / d.length(), d.x / d.length()}
		mid := p0.add(p1).scale(0.5)
		sameRow := b0.row == b1.row
		if sameRow {
			normal = point{0, 1}
			bottom := math.Max(b0.y+b0.h, b1.y+b1.h)
			mid.y = bottom + bandPad + 16
		}
		total := 0.0
		ext := make([]float64, len(group))
		for i, e := range group {
			ext[i] = math.Abs(normal.x)*e.lw/2 + math.Abs(normal.y)*e.lh/2
			total += 2 * ext[i]
		}
		total += 14 * float64(len(group)-1)
		at := -total / 2
		if sameRow {
			at = 0 // all below the row
		}
		for i, e := range group {
			e.lp = mid.add(normal.scale(at + ext[i]))
			e.push = normal
			if !sameRow && at+ext[i] < 0 {
				e.push = normal.scale(-1)
			}
			at += 2*ext[i] + 14
		}
	}
	// Labels that still overlap an earlier one move on, away from the
	// line between their boxes, until they are clear.
	var placed []*svgEdge
	for _, e := range edges {
		if e.lw == 0 {
			continue
		}
		for range 400 {
			if !overlapsAny(e, placed) {
				break
			}
			e.lp = e.lp.add(e.push.scale(8))
		}
		placed = append(placed, e)
		from, to := byName[e.c.From], byName[e.c.To]
		// A quadratic curve passes through M at its middle when its
		// control point is 2M - (start+end)/2.
		e.a, e.b = from.centre(), to.centre()
		for range 2 {
			e.ctl = e.lp.scale(2).sub(e.a.add(e.b).scale(0.5))
			e.a, e.b = from.border(e.ctl), to.border(e.ctl)
		}
		// Stop short of the box so the arrowhead stays visible.
		if v := e.b.sub(e.ctl); v.length() > 0 {
			e.b = e.b.sub(v.scale(4 / v.length()))
		}
		e.lx, e.ly = e.lp.x-e.lw/2, e.lp.y-e.lh/2
		bb.rect(e.lx, e.ly, e.lw, e.lh)
	}
	if len(bands) == 0 {
		bb = bounds{0, 0, 300, 0}
	}
	return bands, boxes, edges, bb
}

// overlapsAny reports whether e's label, with a small gap, overlaps one
// of the placed labels.
func overlapsAny(e *svgEdge, placed []*svgEdge) bool {
	const gap = 6
	for _, o := range placed {
		if math.Abs(e.lp.x-o.lp.x) < (e.lw+o.lw)/2+gap && math.Abs(e.lp.y-o.lp.y) < (e.lh+o.lh)/2+gap {
			return true
		}
	}
	return false
}

// xmlText escapes model text for XML text and attribute values.
func xmlText(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&#39;").Replace(clean(s))
}

// SVG draws the model as a standalone SVG image, laid out by zonegate
// itself: the same model always gives the same bytes.
func SVG(m *zone.Model, opt DiagramOptions) []byte {
	var b bytes.Buffer
	writeSVG(&b, m, opt, true)
	return b.Bytes()
}

// SVGElement is the drawing as an <svg> element without the XML
// declaration, to be placed inside an HTML page.
func SVGElement(m *zone.Model, opt DiagramOptions) []byte {
	var b bytes.Buffer
	writeSVG(&b, m, opt, false)
	return b.Bytes()
}

func writeSVG(b *bytes.Buffer, m *zone.Model, opt DiagramOptions, standalone bool) {
	bands, boxes, edges, bb := svgLayout(m, opt)
	legend := "fill colour = importance (green low, yellow medium, red high); double border = management zone; thick red arrow = " + inspectedTitles() + " inspected"
	bb.rect(bb.minX, bb.minY, textWidth(legend, edgeCharW), 0)
	x0, y0 := bb.minX-margin, bb.minY-titleBlock-margin
	w, h := bb.maxX-bb.minX+2*margin, bb.maxY-bb.minY+titleBlock+2*margin
	if standalone {
		b.WriteString("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n")
	}
	fmt.Fprintf(b, "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"%s %s %s %s\" width=\"%s\" height=\"%s\" font-family=\"%s\">\n",
		num(x0), num(y0), num(w), num(h), num(w), num(h), svgFont)
	fmt.Fprintf(b, "<title>%s</title>\n", xmlText(m.Gateway.Name+": zones and conduits, "+m.Digest()))
	b.WriteString("<defs>\n")
	for _, mk := range []struct{ id, colour string }{{"arrow", plainColour}, {"arrow-inspected", inspectedColour}} {
		fmt.Fprintf(b, "<marker id=\"%s\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"8\" markerHeight=\"8\" orient=\"auto-start-reverse\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"%s\"/></marker>\n", mk.id, mk.colour)
	}
	b.WriteString("</defs>\n")
	fmt.Fprintf(b, "<rect x=\"%s\" y=\"%s\" width=\"%s\" height=\"%s\" fill=\"#ffffff\"/>\n", num(x0), num(y0), num(w), num(h))
	ty := bb.minY - titleBlock
	fmt.Fprintf(b, "<text x=\"%s\" y=\"%s\" font-size=\"16\" font-weight=\"bold\">%s</text>\n", num(bb.minX), num(ty+16), xmlText(m.Gateway.Name+": zones and conduits"))
	fmt.Fprintf(b, "<text x=\"%s\" y=\"%s\" font-size=\"11\">model %s</text>\n", num(bb.minX), num(ty+36), xmlText(m.Digest()))
	fmt.Fprintf(b, "<text x=\"%s\" y=\"%s\" font-size=\"10\" fill=\"%s\">%s</text>\n", num(bb.minX), num(ty+54), plainColour, xmlText(legend))

	for _, band := range bands {
		c := colourOf(band.imp)
		fmt.Fprintf(b, "<g class=\"band\"><rect x=\"%s\" y=\"%s\" width=\"%s\" height=\"%s\" rx=\"10\" fill=\"%s\" stroke=\"%s\" stroke-dasharray=\"4 3\"/>",
			num(band.x), num(band.y), num(band.w), num(band.h), c.band, c.stroke)
		fmt.Fprintf(b, "<text x=\"%s\" y=\"%s\" font-size=\"12\" font-style=\"italic\" fill=\"%s\">%s</text></g>\n", num(band.x+10), num(band.y+16), c.stroke, xmlText(groupName(band.imp)))
	}
	for _, e := range edges {
		colour, marker, width := plainColour, "arrow", "1.5"
		if e.inspected {
			colour, marker, width = inspectedColour, "arrow-inspected", "3"
		}
		fmt.Fprintf(b, "<path class=\"conduit\" d=\"M%s,%s Q%s,%s %s,%s\" fill=\"none\" stroke=\"%s\" stroke-width=\"%s\" marker-end=\"url(#%s)\"><title>%s</title></path>\n",
			num(e.a.x), num(e.a.y), num(e.ctl.x), num(e.ctl.y), num(e.b.x), num(e.b.y), colour, width, marker,
			xmlText(e.c.Name+": "+e.c.From+" -> "+e.c.To))
	}
	for _, bx := range boxes {
		c := colourOf(bx.imp)
		if opt.ZoneLink != nil {
			fmt.Fprintf(b, "<a href=\"%s\">", xmlText(opt.ZoneLink(bx.z.Name)))
		}
		fmt.Fprintf(b, "<g class=\"zone\" id=\"zone-%s\">", xmlText(bx.z.Name))
		if bx.z.Description != "" {
			fmt.Fprintf(b, "<title>%s</title>", xmlText(bx.z.Description))
		}
		if m.IsManagementZone(bx.z.Name) {
			fmt.Fprintf(b, "<rect x=\"%s\" y=\"%s\" width=\"%s\" height=\"%s\" rx=\"9\" fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\"/>",
				num(bx.x-4), num(bx.y-4), num(bx.w+8), num(bx.h+8), c.stroke)
		}
		fmt.Fprintf(b, "<rect x=\"%s\" y=\"%s\" width=\"%s\" height=\"%s\" rx=\"6\" fill=\"%s\" stroke=\"%s\" stroke-width=\"1.5\"/>",
			num(bx.x), num(bx.y), num(bx.w), num(bx.h), c.fill, c.stroke)
		for i, l := range bx.lines {
			attrs := ""
			if i == 0 {
				attrs = " font-weight=\"bold\""
			}
			fmt.Fprintf(b, "<text x=\"%s\" y=\"%s\" font-size=\"%s\"%s>%s</text>", num(bx.x+boxPad), num(bx.y+boxPad+float64(i+1)*zoneLineH-3),
				num(zoneFontSize), attrs, xmlText(l))
		}
		b.WriteString("</g>")
		if opt.ZoneLink != nil {
			b.WriteString("</a>")
		}
		b.WriteString("\n")
	}
	for _, e := range edges {
		colour := plainColour
		if e.inspected {
			colour = inspectedColour
		}
		fmt.Fprintf(b, "<g class=\"conduit-label\"><rect x=\"%s\" y=\"%s\" width=\"%s\" height=\"%s\" rx=\"3\" fill=\"#ffffff\" fill-opacity=\"0.9\" stroke=\"%s\" stroke-width=\"0.5\"/>",
			num(e.lx), num(e.ly), num(e.lw), num(e.lh), colour)
		for i, l := range e.lines {
			attrs := ""
			if i == 0 {
				attrs = " font-weight=\"bold\""
			}
			fmt.Fprintf(b, "<text x=\"%s\" y=\"%s\" font-size=\"%s\" fill=\"%s\"%s>%s</text>", num(e.lx+4), num(e.ly+3+float64(i+1)*edgeLineH-2.5),
				num(edgeFontSize), colour, attrs, xmlText(l))
		}
		b.WriteString("</g>\n")
	}
	b.WriteString("</svg>\n")
}
