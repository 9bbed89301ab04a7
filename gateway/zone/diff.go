package zone

import (
	"fmt"
	"reflect"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
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

// fieldDiff compares two canonical structs field by field.
func fieldDiff(a, b any) []string {
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	var out []string
	for i := 0; i < va.NumField(); i++ {
		name := strings.Split(va.Type().Field(i).Tag.Get("yaml"), ",")[0]
		if ma, ok := va.Field(i).Interface().(*canonModbus); ok {
			if mb := vb.Field(i).Interface().(*canonModbus); ma != nil && mb != nil {
				out = append(out, modbusDiff(ma, mb)...)
				continue
			}
		}
		fa, fb := oneLine(va.Field(i).Interface()), oneLine(vb.Field(i).Interface())
		// An unset optional field (security_level, owner, description)
		// reads as (none), not as its zero value.
		if va.Field(i).IsZero() {
			fa = ""
		}
		if vb.Field(i).IsZero() {
			fb = ""
		}
		if fa != fb {
			out = append(out, fmt.Sprintf("%s: %s -> %s", name, orNone(fa), orNone(fb)))
		}
	}
	return out
}

// modbusDiff lists changed settings and allow rules added or removed.
func modbusDiff(a, b *canonModbus) []string {
	var out []string
	for _, f := range fieldDiff(*a, *b) {
		if !strings.HasPrefix(f, "allow:") {
			out = append(out, "modbus "+f)
		}
	}
	ra, rb := map[string]bool{}, map[string]bool{}
	for _, r := range a.Allow {
		ra[oneLine(r)] = true
	}
	for _, r := range b.Allow {
		rb[oneLine(r)] = true
	}
	for _, r := range a.Allow {
		if l := oneLine(r); !rb[l] {
			out = append(out, "modbus allow - "+l)
		}
	}
	for _, r := range b.Allow {
		if l := oneLine(r); !ra[l] {
			out = append(out, "modbus allow + "+l)
		}
	}
	return out
}

func orNone(s string) string {
	if s == "" || s == "[]" || s == "null" || s == "{}" {
		return "(none)"
	}
	return s
}

// oneLine renders a canonical value as compact flow-style YAML.
func oneLine(v any) string {
	n := &yaml.Node{}
	if err := n.Encode(v); err != nil {
		return fmt.Sprint(v)
	}
	setFlow(n)
	out, err := yaml.Marshal(n)
	if err != nil {
		return fmt.Sprint(v)
	}
	return strings.TrimSpace(string(out))
}

func setFlow(n *yaml.Node) {
	n.Style |= yaml.FlowStyle
	for _, c := range n.Content {
		setFlow(c)
	}
}
