package zone_test

import (
	"testing"

	"github.com/zonegate/zonegate/gateway/zone"
	"github.com/zonegate/zonegate/test/lab"
)

func large(b *testing.B) *zone.Model {
	b.Helper()
	m, err := zone.Load("generated.yaml", lab.GenerateModel(200, 10000))
	if err != nil {
		b.Fatal(err)
	}
	return m
}

// BenchmarkLarge measures the parts of `zonegate check` on a generated
// model of 200 zones and 10,000 conduits.
func BenchmarkLarge(b *testing.B) {
	data := lab.GenerateModel(200, 10000)
	b.Run("load", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := zone.Load("generated.yaml", data); err != nil {
				b.Fatal(err)
			}
		}
	})
	m := large(b)
	b.Run("lint", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			m.Lint()
		}
	})
	b.Run("digest", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			m.Digest()
		}
	})
	b.Run("canonical", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			m.Canonical()
		}
	})
}
