package zone

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// leaves calls fn with the path of every string, number and list inside v
// (a value of the canonical structs, the protocols' blocks included) and a
// function that changes it.
func leaves(v reflect.Value, path string, fn func(path string, change func())) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			leaves(v.Elem(), path, fn)
		}
	case reflect.Map:
		keys := v.MapKeys()
		slices.SortFunc(keys, func(a, b reflect.Value) int { return strings.Compare(a.String(), b.String()) })
		for _, k := range keys {
			leaves(v.MapIndex(k), path+"."+k.String(), fn)
		}
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if f := v.Type().Field(i); f.IsExported() {
				leaves(v.Field(i), path+"."+f.Name, fn)
			}
		}
	case reflect.Slice:
		if v.Len() > 0 {
			fn(path+"[dropped]", func() { v.Set(v.Slice(0, v.Len()-1)) })
		}
		for i := 0; i < v.Len(); i++ {
			leaves(v.Index(i), fmt.Sprintf("%s[%d]", path, i), fn)
		}
	case reflect.String:
		fn(path, func() { v.SetString(v.String() + "x") })
	case reflect.Int:
		fn(path, func() { v.SetInt(v.Int() + 1) })
	}
}

// TestDigestCoversEveryField changes each value of the canonical form of
// canonA in turn (every field the canonical structs have, found by
// reflection, so fields added later are covered too) and expects a new
// digest each time.
func TestDigestCoversEveryField(t *testing.T) {
	m := mustLoad(t, canonA)
	base := m.Digest()
	var paths []string
	cm := m.canonical()
	leaves(reflect.ValueOf(&cm).Elem(), "model", func(path string, _ func()) { paths = append(paths, path) })
	require.NotEmpty(t, paths)
	seen := map[string]string{base: "the unchanged model"}
	for i, path := range paths {
		cm := m.canonical()
		n := 0
		leaves(reflect.ValueOf(&cm).Elem(), "model", func(_ string, change func()) {
			if n == i {
				change()
			}
			n++
		})
		d := digestValue(cm)
		if other, dup := seen[d]; dup {
			t.Errorf("changing %s gives the same digest as %s", path, other)
		}
		seen[d] = path
	}
	// Names of the fields are part of the input, not just their order.
	for _, sub := range []string{".Description", ".Importance", ".Interfaces", ".Networks", ".Services", ".Units", ".MaxRate"} {
		assert.True(t, strings.Contains(strings.Join(paths, " "), sub), "canonA has no %s to change", sub)
	}
}

// TestDigestOptionalFieldUnset shows that adding an optional field
// (omitempty) to a canonical struct keeps the digest of every model that
// does not set it, and that setting it changes the digest.
func TestDigestOptionalFieldUnset(t *testing.T) {
	type before struct {
		Name string `yaml:"name"`
		Nets []string
	}
	type after struct {
		Name          string `yaml:"name"`
		Nets          []string
		SecurityLevel int    `yaml:"security_level,omitempty"`
		Owner         string `yaml:"owner,omitempty"`
	}
	d := digestValue(before{Name: "office", Nets: []string{"10.0.0.0/8"}})
	assert.Equal(t, d, digestValue(after{Name: "office", Nets: []string{"10.0.0.0/8"}}))
	assert.NotEqual(t, d, digestValue(after{Name: "office", Nets: []string{"10.0.0.0/8"}, SecurityLevel: 2}))
	assert.NotEqual(t, d, digestValue(after{Name: "office", Nets: []string{"10.0.0.0/8"}, Owner: "ot"}))
	// Lists carry their length: moving an item between neighbouring lists
	// or strings changes the digest.
	type two struct{ A, B []string }
	assert.NotEqual(t, digestValue(two{A: []string{"x", "y"}}), digestValue(two{A: []string{"x"}, B: []string{"y"}}))
	assert.NotEqual(t, digestValue(two{A: []string{"xy"}}), digestValue(two{A: []string{"x", "y"}}))
}
