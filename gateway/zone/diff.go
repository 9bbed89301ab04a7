package zone

import (
	"fmt"
	"sort"
	"strings"

	"github.com/zonegate/zonegate/protocols/registry"
	"github.com/zonegate/zonegate/protocols/rulesblock"
)

// Change is one difference between two models: an element added, removed
// or changed, with the fields that changed.
type Change struct {
	Kind   string // "gateway", "zone", "asset" or "conduit"
	Name   string
	Op     string   // "added", "removed" or "changed"
	Fields []string // for changes: "services: [tcp/502] -> [tcp/502, tcp/503]"
}

func (c Change) String() string {
	sym := map[string]string{"added": "+", "removed": "-", "changed": "~"}[c.Op]
	s := fmt.Sprintf("%s %s %s", sym, c.Kind, c.Name)
	if len(c.Fields) > 0 {
		s += ": " + strings.Join(c.Fields, "; ")
	}
	return s
}

// Diff lists what changes from model a to model b (either may be nil), in
// a stable order: gateway, zones, assets, conduits, each by name.
func Diff(a, b *Model) []Change {
	var ca, cb canonModel
	if a != nil {
		ca = a.canonical()
	}
	if b != nil {
		cb = b.canonical()
	}
	var out []Change
	if a != nil && b != nil {
		if f := fieldDiff(ca.Gateway, cb.Gateway); len(f) > 0 {
			out = append(out, Change{Kind: "gateway", Name: cb.Gateway.Name, Op: "changed", Fields: f})
		}
	}
	out = append(out, diffNamed("zone", toMap(ca.Zones, func(z canonZone) string { return z.Name }), toMap(cb.Zones, func(z canonZone) string { return z.Name }))...)
	out = append(out, diffNamed("asset", toMap(ca.Assets, func(z canonAsset) string { return z.Name }), toMap(cb.Assets, func(z canonAsset) string { return z.Name }))...)
	out = append(out, diffNamed("conduit", toMap(ca.Conduits, func(z canonConduit) string { return z.Name }), toMap(cb.Conduits, func(z canonConduit) string { return z.Name }))...)
	return out
}

// DiffSummary is a one-line summary of a diff for audit records, e.g.
// "+1 zone (lab); ~1 conduit (scada-to-plc)".
func DiffSummary(changes []Change) string {
	if len(changes) == 0 {
		return "no change"
	}
	type key struct{ op, kind string }
	names := map[key][]string{}
	var order []key
	for _, c := range changes {
		k := key{c.Op, c.Kind}
		if _, ok := names[k]; !ok {
			order = append(order, k)
		}
		names[k] = append(names[k], c.Name)
	}
	parts := make([]string, 0, len(order))
	for _, k := range order {
		sym := map[string]string{"added": "+", "removed": "-", "changed": "~"}[k.op]
		n := names[k]
		list := strings.Join(n, ", ")
		if len(list) > 120 {
			list = list[:117] + "..."
		}
		parts = append(parts, fmt.Sprintf("%s%d %s (%s)", sym, len(n), plural(k.kind, len(n)), list))
	}
	return strings.Join(parts, "; ")
}

func plural(s string, n int) string {
	if n == 1 {
		return s
	}
	return s + "s"
}

func toMap[T any](s []T, key func(T) string) map[string]T {
	m := make(map[string]T, len(s))
	for _, v := range s {
		m[key(v)] = v
	}
	return m
}

func diffNamed[T any](kind string, a, b map[string]T) []Change {
	names := map[string]bool{}
	for n := range a {
		names[n] = true
	}
	for n := range b {
		names[n] = true
	}
	sorted := make([]string, 0, len(names))
	for n := range names {
		sorted = append(sorted, n)
	}
	sort.Strings(sorted)
	var out []Change
	for _, n := range sorted {
		va, inA := a[n]
		vb, inB := b[n]
		switch {
		case !inA:
			out = append(out, Change{Kind: kind, Name: n, Op: "added", Fields: []string{oneLine(vb)}})
		case !inB:
			out = append(out, Change{Kind: kind, Name: n, Op: "removed"})
		default:
			if f := fieldDiff(va, vb); len(f) > 0 {
				out = append(out, Change{Kind: kind, Name: n, Op: "changed", Fields: f})
			}
		}
	}
	return out
}

// fieldDiff compares two canonical structs field by field; a conduit's
// rules blocks through their protocols, after its other fields.
func fieldDiff(a, b any) []string {
	out := rulesblock.DiffFields("", a, b)
	if ca, ok := a.(canonConduit); ok {
		out = append(out, rulesDiff(ca.Rules, b.(canonConduit).Rules)...)
	}
	return out
}

// rulesDiff compares the rules blocks of two versions of a conduit: a
// block added or removed in one line, a changed block by its protocol's
// Diff.
func rulesDiff(a, b map[string]any) []string {
	var out []string
	for _, name := range sortedKeysOf(a, b) {
		ra, rb := a[name], b[name]
		p, ok := registry.Lookup(name)
		switch {
		case ra != nil && rb != nil && ok && p.Diff != nil:
			out = append(out, p.Diff(ra, rb)...)
		case ra != nil && rb != nil:
			out = append(out, rulesblock.DiffFields(name, ra, rb)...)
		default:
			if line, changed := rulesblock.DiffValue(name, ra, rb); changed {
				out = append(out, line)
			}
		}
	}
	return out
}

// sortedKeysOf returns the keys of both maps, sorted.
func sortedKeysOf(a, b map[string]any) []string {
	var keys []string
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		if _, dup := a[k]; !dup {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

// oneLine renders a canonical value as compact flow-style YAML.
func oneLine(v any) string { return rulesblock.OneLine(v) }
