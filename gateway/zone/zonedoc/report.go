package zonedoc

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/zonegate/zonegate/gateway/zone"
)

// The report's content is gathered once into plain rows of text; HTML and
// Markdown only differ in how they print and escape them.

type reportDoc struct {
	title    string
	facts    [][2]string // label, value
	zones    table
	conduits table
	matrix   table
	findings table
	mapping  [][2]string // what the report documents, and where
}

type table struct {
	head []string
	rows [][]cell
}

// cell is one table cell: lines of model or generated text.
type cell []string

func one(s string) cell { return cell{s} }

func reportDate(opt ReportOptions) string {
	if opt.Date.IsZero() {
		return "not given"
	}
	return opt.Date.UTC().Format("2006-01-02")
}

// ConduitText is a conduit in the words of the report's conduit table:
// plain text, not yet escaped for any format.
type ConduitText struct {
	Name, From, To string
	// FromAssets and ToAssets are the asset names the conduit is narrowed
	// to, comma separated, or "whole zone".
	FromAssets, ToAssets string
	Services             string // comma separated, in model order
	// Policy is the inspection policy in words, as the inspected protocol
	// writes it, or "none: packet filter only".
	Policy      string
	Inspect     string // the inspected protocol; "" for none
	Description string
}

// Conduits words the model's conduits as the report's conduit table does,
// in model order.
func Conduits(m *zone.Model) []ConduitText {
	out := make([]ConduitText, 0, len(m.Conduits))
	for _, c := range m.Conduits {
		t := ConduitText{Name: c.Name, From: c.From, To: c.To, FromAssets: "whole zone", ToAssets: "whole zone",
			Services: serviceList(c), Policy: "none: packet filter only", Inspect: c.Inspect, Description: c.Description}
		if len(c.FromAssets) > 0 {
			t.FromAssets = strings.Join(c.FromAssets, ", ")
		}
		if len(c.ToAssets) > 0 {
			t.ToAssets = strings.Join(c.ToAssets, ", ")
		}
		if c.Inspect != "" {
			t.Policy = policyWords(c)
		}
		out = append(out, t)
	}
	return out
}

func buildReport(m *zone.Model, opt ReportOptions) reportDoc {
	d := reportDoc{title: "Zone and conduit report: " + m.Gateway.Name}
	inspected := 0
	for _, c := range m.Conduits {
		if c.Inspect != "" {
			inspected++
		}
	}
	findings := m.Lint()
	mgmt := "none"
	if len(m.Gateway.ManagementZones) > 0 {
		mgmt = strings.Join(m.Gateway.ManagementZones, ", ")
	}
	d.facts = [][2]string{
		{"Gateway", m.Gateway.Name},
		{"Model file", m.File},
		{"Model digest", m.Digest()},
		{"Date", reportDate(opt)},
		{"Contents", fmt.Sprintf("%d zones, %d assets, %d conduits (%d inspected), %d lint finding(s)", len(m.Zones), len(m.Assets), len(m.Conduits), inspected, len(findings))},
		{"Management zones", mgmt + " (the only zones that reach the gateway's own services)"},
	}

	d.zones.head = []string{"Zone", "Importance", "SL-T", "Owner", "Description", "Interfaces", "Networks", "Assets (address, importance)"}
	for _, g := range groups(m) {
		for _, z := range g.zones {
			name := z.Name
			if m.IsManagementZone(z.Name) {
				name += " (management)"
			}
			sl := "not set"
			if z.SecurityLevel > 0 {
				sl = "SL " + strconv.Itoa(z.SecurityLevel)
			}
			var nets, assets cell
			for _, n := range z.Networks {
				nets = append(nets, n.String())
			}
			for _, a := range assetsOf(m, z.Name) {
				s := fmt.Sprintf("%s (%s, %s)", a.Name, a.Address, a.Importance)
				if a.Description != "" {
					s += ": " + a.Description
				}
				assets = append(assets, s)
			}
			d.zones.rows = append(d.zones.rows, []cell{one(name), one(z.Importance.String()), one(sl), one(z.Owner), one(z.Description),
				one(strings.Join(z.Interfaces, ", ")), nets, assets})
		}
	}

	d.conduits.head = []string{"Conduit", "From", "To", "Assets", "Services", "Inspection and " + inspectedTitles() + " policy", "Description"}
	for _, c := range Conduits(m) {
		d.conduits.rows = append(d.conduits.rows, []cell{one(c.Name), one(c.From), one(c.To), {"from: " + c.FromAssets, "to: " + c.ToAssets},
			one(c.Services), one(c.Policy), one(c.Description)})
	}

	d.matrix.head = []string{"from \\ to"}
	for _, z := range m.Zones {
		d.matrix.head = append(d.matrix.head, z.Name)
	}
	for _, from := range m.Zones {
		row := []cell{one(from.Name)}
		for _, to := range m.Zones {
			var cl cell
			if from == to {
				cl = one("(same zone)")
			}
			for _, c := range m.Conduits {
				if c.From == from.Name && c.To == to.Name {
					s := "→ " + c.Name
					if c.Inspect != "" {
						s += " (inspected: " + c.Inspect + ")"
					}
					cl = append(cl, s)
				}
			}
			if cl == nil {
				cl = one("·")
			}
			row = append(row, cl)
		}
		d.matrix.rows = append(d.matrix.rows, row)
	}

	d.findings.head = []string{"Where", "Rule", "Finding"}
	for _, f := range findings {
		d.findings.rows = append(d.findings.rows, []cell{one(fmt.Sprintf("%s:%d:%d", f.File, f.Pos.Line, f.Pos.Column)), one(f.Rule), one(f.Message)})
	}

	withSL := 0
	for _, z := range m.Zones {
		if z.SecurityLevel > 0 {
			withSL++
		}
	}
	d.mapping = [][2]string{
		{"METI guideline steps 1-2 to 1-7: operations and assets grouped into zones by importance",
			fmt.Sprintf("Section Zones and the drawing: %d zones in importance groups, %d protected assets with their importance and address, interfaces and networks of every zone.", len(m.Zones), len(m.Assets))},
		{"METI guideline step 2, network measures: control the flows between zones",
			fmt.Sprintf("Sections Conduits and Zone pairs: deny by default between zones; %d conduits allow named services in one direction; %d of them carry %s through deep inspection with the policy stated; management access to the gateway only from %s.", len(m.Conduits), inspected, inspectedTitles(), mgmt)},
		{"IEC 62443-3-2 ZCR 3: partition the system under consideration into zones and conduits",
			"The zone model itself: every interface and network belongs to exactly one zone; every permitted flow is a conduit."},
		{"IEC 62443-3-2 ZCR 6: document zones and conduits (drawing, characteristics, SL-T)",
			fmt.Sprintf("The drawing and the tables: name, accountable owner, logical boundary (interfaces, networks), assets, data flows (conduits and services), connected zones, target security level (set for %d of %d zones).", withSL, len(m.Zones))},
		{"Model integrity",
			"The digest is the SHA-256 of the model's canonical form (zonegate check --canonical): it identifies exactly the model this report describes and the one the gateway runs (zonegate status)."},
	}
	return d
}
