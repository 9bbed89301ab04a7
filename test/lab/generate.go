package lab

import (
	"fmt"
	"strings"
)

// GenerateModel writes a synthetic zone model with the given numbers of
// zones and conduits, for the ruleset benchmarks (no assets, tcp only; see
// ScaleModel for a model meant to be built as a lab and probed). Zone i is named
// z<i>, faces interface e<i> and owns one /24 of 198.18.0.0/15 and one /64
// of fd00::/8 (so at most 512 zones). Conduit k joins two different zones
// with tcp port 10000+k; conduits are spread evenly over zone pairs.
func GenerateModel(zones, conduits int) []byte {
	if zones < 2 || zones > 512 {
		panic(fmt.Sprintf("lab: GenerateModel supports 2-512 zones, not %d", zones))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "version: 1\ngateway:\n  name: bench-gw\n  management:\n    zones: [z0]\nzones:\n")
	for i := 0; i < zones; i++ {
		importance := []string{"low", "medium", "high"}[i%3]
		fmt.Fprintf(&b, "  - name: z%d\n    importance: %s\n    interfaces: [e%d]\n    networks: [198.%d.%d.0/24, \"fd00:%x::/64\"]\n",
			i, importance, i, 18+i/256, i%256, i+1)
	}
	fmt.Fprintf(&b, "conduits:\n")
	for k := 0; k < conduits; k++ {
		from := k % zones
		to := (from + 1 + (k/zones)%(zones-1)) % zones
		fmt.Fprintf(&b, "  - {name: c%d, from: z%d, to: z%d, services: [tcp/%d]}\n", k, from, to, 10000+k%50000)
	}
	return []byte(b.String())
}
