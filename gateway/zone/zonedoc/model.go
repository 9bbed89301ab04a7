package zonedoc

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/zonegate/zonegate/gateway/zone"
	"github.com/zonegate/zonegate/protocols/registry"
)

// rowOrder is the order of the importance groups, top to bottom: from the
// office towards the process, as in the usual zone drawings.
var rowOrder = []zone.Importance{zone.Low, zone.Medium, zone.High, zone.ImportanceUnset}

// group is the zones of one importance, in model order.
type group struct {
	imp   zone.Importance
	zones []*zone.Zone
}

// groups returns the non-empty importance groups in rowOrder.
func groups(m *zone.Model) []group {
	var out []group
	for _, imp := range rowOrder {
		g := group{imp: imp}
		for _, z := range m.Zones {
			if z.Importance == imp {
				g.zones = append(g.zones, z)
			}
		}
		if len(g.zones) > 0 {
			out = append(out, g)
		}
	}
	return out
}

// groupName names an importance group.
func groupName(imp zone.Importance) string {
	if imp == zone.ImportanceUnset {
		return "importance not set"
	}
	return "importance " + imp.String()
}

// assetsOf returns the assets of one zone, in model order.
func assetsOf(m *zone.Model, zoneName string) []*zone.Asset {
	var out []*zone.Asset
	for _, a := range m.Assets {
		if a.Zone == zoneName {
			out = append(out, a)
		}
	}
	return out
}

// colours of the importance levels: fill, border.
type colours struct{ fill, stroke, band string }

func colourOf(imp zone.Importance) colours {
	switch imp {
	case zone.High:
		return colours{"#f8d7da", "#842029", "#fdf1f2"}
	case zone.Medium:
		return colours{"#fff3cd", "#997404", "#fffaeb"}
	case zone.Low:
		return colours{"#d1e7dd", "#0f5132", "#eef7f2"}
	}
	return colours{"#e9ecef", "#495057", "#f6f7f8"}
}

const (
	inspectedColour = "#b02a37"
	plainColour     = "#495057"
)

// clean makes model text safe to place on one line of any output: control
// characters, line and paragraph separators and broken UTF-8 become
// spaces. Escaping for the output format comes after.
func clean(s string) string {
	if s == "" {
		return s
	}
	var b strings.Builder
	for i, w := 0, 0; i < len(s); i += w {
		r, size := utf8.DecodeRuneInString(s[i:])
		w = size
		switch {
		case r == utf8.RuneError && size == 1,
			unicode.IsControl(r), r == '\u2028', r == '\u2029', r == '\ufffe', r == '\uffff':
			b.WriteByte(' ')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// wrap breaks cleaned text into lines of at most width runes at spaces;
// a longer word gets a line of its own.
func wrap(s string, width int) []string {
	var lines []string
	var cur strings.Builder
	n := 0
	for _, word := range strings.Fields(clean(s)) {
		wl := utf8.RuneCountInString(word)
		if n > 0 && n+1+wl > width {
			lines = append(lines, cur.String())
			cur.Reset()
			n = 0
		}
		if n > 0 {
			cur.WriteByte(' ')
			n++
		}
		cur.WriteString(word)
		n += wl
	}
	if n > 0 {
		lines = append(lines, cur.String())
	}
	return lines
}

// zoneTitle is the first line of a zone's box.
func zoneTitle(m *zone.Model, z *zone.Zone) string {
	if m.IsManagementZone(z.Name) {
		return z.Name + " [management]"
	}
	return z.Name
}

// zoneFacts is importance, security level and owner on one line.
func zoneFacts(z *zone.Zone) string {
	parts := []string{"importance " + z.Importance.String()}
	if z.SecurityLevel > 0 {
		parts = append(parts, fmt.Sprintf("SL-T %d", z.SecurityLevel))
	}
	if z.Owner != "" {
		parts = append(parts, "owner: "+clean(z.Owner))
	}
	return strings.Join(parts, ", ")
}

// descWidth is where descriptions are wrapped in drawings.
const descWidth = 44

// zoneBody is the lines of a zone's box after its title.
func zoneBody(m *zone.Model, z *zone.Zone) []string {
	lines := []string{zoneFacts(z)}
	lines = append(lines, wrap(z.Description, descWidth)...)
	if len(z.Interfaces) > 0 {
		lines = append(lines, "interfaces: "+clean(strings.Join(z.Interfaces, ", ")))
	}
	for _, n := range z.Networks {
		lines = append(lines, "net "+n.String())
	}
	for _, a := range assetsOf(m, z.Name) {
		lines = append(lines, fmt.Sprintf("asset %s %s (%s)", a.Name, a.Address, a.Importance))
	}
	return lines
}

// serviceList is a conduit's services, comma separated, in model order.
func serviceList(c *zone.Conduit) string {
	s := make([]string, len(c.Services))
	for i, svc := range c.Services {
		s[i] = svc.String()
	}
	return strings.Join(s, ", ")
}

// assetNarrowing says which assets a conduit is limited to, or "".
func assetNarrowing(c *zone.Conduit) string {
	if len(c.FromAssets) == 0 && len(c.ToAssets) == 0 {
		return ""
	}
	from, to := "any", "any"
	if len(c.FromAssets) > 0 {
		from = strings.Join(c.FromAssets, ", ")
	}
	if len(c.ToAssets) > 0 {
		to = strings.Join(c.ToAssets, ", ")
	}
	return "assets " + clean(from) + " -> " + clean(to)
}

// conduitBody is the label of a conduit's arrow after its name: services,
// asset narrowing, the inspected protocol's summary of its rules and live
// counters.
func conduitBody(c *zone.Conduit, opt DiagramOptions) []string {
	lines := []string{serviceList(c)}
	if s := assetNarrowing(c); s != "" {
		lines = append(lines, s)
	}
	if c.Inspect != "" {
		lines = append(lines, "inspect "+c.Inspect+":")
		if p, ok := registry.Lookup(c.Inspect); ok && p.Summary != nil && c.Rules != nil {
			lines = append(lines, p.Summary(c.Rules)...)
		}
	}
	if cnt, ok := opt.Counters[c.Name]; ok {
		lines = append(lines, CounterText(cnt))
	}
	return lines
}

// CounterText is a counter as printed on a conduit: "1234 packets, 5.6 MiB".
func CounterText(c Counter) string {
	return fmt.Sprintf("%d packets, %s", c.Packets, ByteSize(c.Bytes))
}

// ByteSize is n bytes in words: "512 bytes", "3.4 MiB".
func ByteSize(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d bytes", n)
	}
	div, exp := uint64(unit), 0
	for v := n / unit; v >= unit && exp < 5; v /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// pairKey orders two zone names so both directions share one key.
func pairKey(a, b string) [2]string {
	if a > b {
		a, b = b, a
	}
	return [2]string{a, b}
}

// policyWords is a conduit's inspection in words for the report: what its
// protocol says of its rules, else the protocol's name.
func policyWords(c *zone.Conduit) string {
	if p, ok := registry.Lookup(c.Inspect); ok && p.Words != nil && c.Rules != nil {
		return p.Words(c.Rules)
	}
	return c.Inspect
}

// inspectedTitles names the protocols zonegate inspects, as in "thick red
// arrow = Modbus inspected": "Modbus", "Modbus or OPC UA".
func inspectedTitles() string {
	var titles []string
	for _, p := range registry.All() {
		titles = append(titles, p.Title)
	}
	return strings.Join(titles, " or ")
}
