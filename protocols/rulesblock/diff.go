package rulesblock

import (
	"fmt"
	"reflect"
	"strings"

	"go.yaml.in/yaml/v3"
)

// DiffFields compares two canonical values of the same struct type (or
// pointers to it) field by field, as `zonegate push` shows a change:
// "PREFIX KEY: OLD -> NEW" for each changed field, "(none)" for one left
// unset; then, for each list of mappings (a list of rules), the elements
// removed ("PREFIX KEY - RULE") and added ("PREFIX KEY + RULE"). Values
// are compact flow-style YAML. Inline fields are left to the caller.
func DiffFields(prefix string, a, b any) []string {
	va, vb := reflect.Indirect(reflect.ValueOf(a)), reflect.Indirect(reflect.ValueOf(b))
	var out, lists []string
	t := va.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		key, inline := yamlName(f)
		if !f.IsExported() || key == "-" || inline {
			continue
		}
		if prefix != "" {
			key = prefix + " " + key
		}
		fa, fb := va.Field(i), vb.Field(i)
		if isRuleList(f.Type) {
			lists = append(lists, elementDiff(key, fa, fb)...)
			continue
		}
		if line, changed := DiffValue(key, fa.Interface(), fb.Interface()); changed {
			out = append(out, line)
		}
	}
	return append(out, lists...)
}

// DiffValue compares two canonical values and, when they differ, says so
// as "KEY: OLD -> NEW"; an unset (zero or nil) value reads "(none)".
func DiffValue(key string, a, b any) (string, bool) {
	fa, fb := diffText(a), diffText(b)
	if fa == fb {
		return "", false
	}
	return fmt.Sprintf("%s: %s -> %s", key, orNone(fa), orNone(fb)), true
}

// diffText is v in one line, "" when unset.
func diffText(v any) string {
	if rv := reflect.ValueOf(v); !rv.IsValid() || rv.IsZero() {
		return ""
	}
	return OneLine(v)
}

func orNone(s string) string {
	if s == "" || s == "[]" || s == "null" || s == "{}" {
		return "(none)"
	}
	return s
}

// isRuleList reports whether t is a list of mappings (structs or maps).
func isRuleList(t reflect.Type) bool {
	if t.Kind() != reflect.Slice {
		return false
	}
	e := t.Elem()
	if e.Kind() == reflect.Pointer {
		e = e.Elem()
	}
	return e.Kind() == reflect.Struct || e.Kind() == reflect.Map
}

// elementDiff lists the elements only a has, then those only b has.
func elementDiff(key string, a, b reflect.Value) []string {
	lines := func(v reflect.Value) []string {
		out := make([]string, v.Len())
		for i := range out {
			out[i] = OneLine(v.Index(i).Interface())
		}
		return out
	}
	la, lb := lines(a), lines(b)
	inA, inB := map[string]bool{}, map[string]bool{}
	for _, l := range la {
		inA[l] = true
	}
	for _, l := range lb {
		inB[l] = true
	}
	var out []string
	for _, l := range la {
		if !inB[l] {
			out = append(out, key+" - "+l)
		}
	}
	for _, l := range lb {
		if !inA[l] {
			out = append(out, key+" + "+l)
		}
	}
	return out
}

// yamlName returns a field's YAML key, as go.yaml.in/yaml/v3 reads the tag,
// and whether the field is inline.
func yamlName(f reflect.StructField) (name string, inline bool) {
	tag := f.Tag.Get("yaml")
	name, opts, _ := strings.Cut(tag, ",")
	if name == "" {
		name = strings.ToLower(f.Name)
	}
	for _, o := range strings.Split(opts, ",") {
		inline = inline || o == "inline"
	}
	return name, inline
}

// OneLine renders a canonical value as compact flow-style YAML.
func OneLine(v any) string {
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
