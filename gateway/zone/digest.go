package zone

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"hash"
	"math"
	"reflect"
	"slices"
	"strings"
)

// digestDomain starts every digest's input: it names the encoding, so that
// a digest can never be mistaken for the hash of anything else (digests
// before this encoding were the SHA-256 of the canonical YAML text).
const digestDomain = "zonegate canonical model, binary encoding 2\n"

// Digest is the SHA-256 of the canonical form, as "sha256:HEX". The
// canonical value is streamed into the hash in a deterministic,
// length-prefixed encoding (see encodeCanonical) instead of YAML text:
// this costs one pass over the model, also for 10,000 conduits. Equal
// canonical forms (Canonical) give equal digests and different ones
// different digests.
func (m *Model) Digest() string { return digestValue(m.canonical()) }

// digestValue hashes the encoding of a canonical value.
func digestValue(v any) string {
	h := sha256.New()
	w := &digestWriter{h: h, buf: make([]byte, 0, 32<<10)}
	w.buf = append(w.buf, digestDomain...)
	encodeCanonical(w, reflect.ValueOf(v))
	w.flush()
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// digestWriter buffers the encoding in front of the hash.
type digestWriter struct {
	h   hash.Hash
	buf []byte
}

func (w *digestWriter) grow() {
	if len(w.buf) >= cap(w.buf)-64 {
		w.flush()
	}
}

func (w *digestWriter) flush() {
	w.h.Write(w.buf)
	w.buf = w.buf[:0]
}

func (w *digestWriter) tag(b byte) {
	w.grow()
	w.buf = append(w.buf, b)
}

func (w *digestWriter) uvarint(v uint64) {
	w.grow()
	w.buf = binary.AppendUvarint(w.buf, v)
}

func (w *digestWriter) str(s string) {
	w.uvarint(uint64(len(s)))
	if len(s) > cap(w.buf)-len(w.buf) {
		w.flush()
		w.h.Write([]byte(s))
		return
	}
	w.buf = append(w.buf, s...)
}

// Tags of the encoding; every value starts with one, strings and lists
// carry their length, structs end with tagEnd: the encoding is prefix-free,
// so two different values never encode to the same bytes.
const (
	tagStruct = 'S'
	tagField  = 'K'
	tagEnd    = 'E'
	tagString = 's'
	tagInt    = 'i'
	tagUint   = 'u'
	tagBool   = 'b'
	tagFloat  = 'f'
	tagList   = 'L'
	tagMap    = 'M'
	tagNil    = 'n'
)

// encodeCanonical writes v, a value of the canonical structs, generically:
// every exported field under its YAML key, in declaration order, fields
// tagged omitempty left out when YAML leaves them out, the keys of an
// inline map (the conduits' rules blocks) after the fields, as YAML writes
// them. The protocols' canonical blocks are encoded by the same rules. A field added to the
// canonical structs is therefore part of the digest without further code,
// and an optional field left unset does not change any digest.
func encodeCanonical(w *digestWriter, v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			w.tag(tagNil)
			return
		}
		encodeCanonical(w, v.Elem())
	case reflect.Struct:
		w.tag(tagStruct)
		var inline reflect.Value
		encodeFields(w, v, &inline)
		if inline.IsValid() && inline.Len() > 0 {
			// As YAML writes an inline map: its keys after the fields.
			for _, k := range sortedKeys(inline) {
				w.tag(tagField)
				w.str(k.String())
				encodeCanonical(w, inline.MapIndex(k))
			}
		}
		w.tag(tagEnd)
	case reflect.String:
		w.tag(tagString)
		w.str(v.String())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		w.tag(tagInt)
		w.grow()
		w.buf = binary.AppendVarint(w.buf, v.Int())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		w.tag(tagUint)
		w.uvarint(v.Uint())
	case reflect.Bool:
		w.tag(tagBool)
		if v.Bool() {
			w.tag(1)
		} else {
			w.tag(0)
		}
	case reflect.Float32, reflect.Float64:
		w.tag(tagFloat)
		w.uvarint(math.Float64bits(v.Float()))
	case reflect.Slice, reflect.Array:
		w.tag(tagList)
		w.uvarint(uint64(v.Len()))
		for i := 0; i < v.Len(); i++ {
			encodeCanonical(w, v.Index(i))
		}
	case reflect.Map:
		w.tag(tagMap)
		w.uvarint(uint64(v.Len()))
		for _, k := range sortedKeys(v) {
			encodeCanonical(w, k)
			encodeCanonical(w, v.MapIndex(k))
		}
	default:
		panic("zone: the canonical form cannot hold a " + v.Type().String())
	}
}

// encodeFields writes the fields of struct v: every exported field under
// its YAML key, in declaration order, the fields of an inline struct in its
// place; an inline map is left in *inline for the caller.
func encodeFields(w *digestWriter, v reflect.Value, inline *reflect.Value) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, omitEmpty, isInline, skip := yamlKey(f)
		switch {
		case skip:
		case isInline && f.Type.Kind() == reflect.Map:
			*inline = v.Field(i)
		case isInline && f.Type.Kind() == reflect.Struct:
			encodeFields(w, v.Field(i), inline)
		case isInline:
			panic("zone: the canonical form cannot inline a " + f.Type.String())
		case omitEmpty && yamlZero(v.Field(i)):
		default:
			w.tag(tagField)
			w.str(name)
			encodeCanonical(w, v.Field(i))
		}
	}
}

// sortedKeys returns the keys of a map with string keys, sorted.
func sortedKeys(m reflect.Value) []reflect.Value {
	if m.Type().Key().Kind() != reflect.String {
		panic("zone: canonical maps must have string keys, not " + m.Type().Key().String())
	}
	keys := m.MapKeys()
	slices.SortFunc(keys, func(a, b reflect.Value) int { return strings.Compare(a.String(), b.String()) })
	return keys
}

// yamlKey returns a field's YAML key and whether it is omitted when empty,
// inline or always skipped, as go.yaml.in/yaml/v3 reads the tag.
func yamlKey(f reflect.StructField) (name string, omitEmpty, inline, skip bool) {
	tag := f.Tag.Get("yaml")
	if tag == "-" {
		return "", false, false, true
	}
	name, opts, _ := strings.Cut(tag, ",")
	if name == "" {
		name = strings.ToLower(f.Name)
	}
	for _, o := range strings.Split(opts, ",") {
		switch o {
		case "omitempty":
			omitEmpty = true
		case "inline":
			inline = true
		}
	}
	return name, omitEmpty, inline, false
}

// yamlZero reports whether go.yaml.in/yaml/v3 treats v as empty for
// omitempty: zero scalars, nil pointers, empty lists and maps, structs
// whose exported fields are all empty.
func yamlZero(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.String:
		return v.Len() == 0
	case reflect.Slice, reflect.Array, reflect.Map:
		return v.Len() == 0
	case reflect.Pointer, reflect.Interface:
		return v.IsNil()
	case reflect.Bool:
		return !v.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return v.Int() == 0
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return v.Uint() == 0
	case reflect.Float32, reflect.Float64:
		return v.Float() == 0
	case reflect.Struct:
		t := v.Type()
		for i := 0; i < v.NumField(); i++ {
			if t.Field(i).IsExported() && !yamlZero(v.Field(i)) {
				return false
			}
		}
		return true
	}
	return false
}
