package firewall_test

import (
	"fmt"
	"io"
	"testing"

	"github.com/zonegate/zonegate/firewall"
	"github.com/zonegate/zonegate/gateway/zone"
	"github.com/zonegate/zonegate/test/lab"
)

func generated(b *testing.B, zones, conduits int) *zone.Model {
	b.Helper()
	m, err := zone.Load("generated.yaml", lab.GenerateModel(zones, conduits))
	if err != nil {
		b.Fatal(err)
	}
	return m
}

// BenchmarkCompileRender measures compiling a model and rendering its nft
// script, for 200 zones with 10 and with 10,000 conduits.
func BenchmarkCompileRender(b *testing.B) {
	for _, conduits := range []int{10, 10000} {
		m := generated(b, 200, conduits)
		b.Run(fmt.Sprintf("zones=200/conduits=%d", conduits), func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				rs := firewall.Compile(m, firewall.Options{})
				if err := firewall.Render(io.Discard, rs); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkLoadCompile includes parsing and validating the YAML model.
func BenchmarkLoadCompile(b *testing.B) {
	data := lab.GenerateModel(200, 10000)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		m, err := zone.Load("generated.yaml", data)
		if err != nil {
			b.Fatal(err)
		}
		firewall.Compile(m, firewall.Options{})
	}
}

// BenchmarkApply measures one netlink transaction replacing table inet
// zonegate, including the read-back, for 200 zones with 10 and 10,000
// conduits. Each iteration alternates between two models (island mode on
// and off) so that every apply really changes the kernel's ruleset.
func BenchmarkApply(b *testing.B) {
	requireRoot(b)
	for _, conduits := range []int{10, 10000} {
		m := generated(b, 200, conduits)
		rulesets := []*firewall.Ruleset{firewall.Compile(m, firewall.Options{}), firewall.Compile(m, firewall.Options{Island: true})}
		b.Run(fmt.Sprintf("zones=200/conduits=%d", conduits), func(b *testing.B) {
			ns := scratchNS(b, "zgbench")
			target := openNS(b, ns)
			for i := 0; i < b.N; i++ {
				res, err := firewall.Apply(target, rulesets[i%2])
				if err != nil {
					b.Fatal(err)
				}
				if !res.Changed {
					b.Fatal("apply changed nothing")
				}
			}
		})
	}
}
