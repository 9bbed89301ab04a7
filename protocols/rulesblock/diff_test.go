package rulesblock

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

type rule struct {
	Read      string `yaml:"read,omitempty"`
	Addresses string `yaml:"addresses,omitempty"`
}

type block struct {
	Mode   string         `yaml:"mode"`
	Units  []int          `yaml:"units,flow,omitempty"`
	Allow  []rule         `yaml:"allow"`
	Rate   string         `yaml:"max_rate,omitempty"`
	TLS    *tls           `yaml:"tls,omitempty"`
	Inline map[string]any `yaml:",inline"`
}

type tls struct {
	Certificate string `yaml:"certificate"`
}

func TestDiffFields(t *testing.T) {
	a := &block{Mode: "enforce", Units: []int{1}, Allow: []rule{{"coils", "0-9"}, {"holding_registers", "0-99"}}}
	b := &block{Mode: "monitor", Units: []int{1, 2}, Allow: []rule{{"holding_registers", "0-99"}, {"coils", "0-19"}}, Rate: "5/s",
		TLS: &tls{Certificate: "gw.crt"}, Inline: map[string]any{"x": 1}}
	assert.Equal(t, []string{
		"modbus mode: enforce -> monitor",
		"modbus units: [1] -> [1, 2]",
		"modbus max_rate: (none) -> 5/s",
		"modbus tls: (none) -> {certificate: gw.crt}",
		"modbus allow - {read: coils, addresses: 0-9}",
		"modbus allow + {read: coils, addresses: 0-19}",
	}, DiffFields("modbus", a, b), "changed fields first, then rules removed and added; inline fields left out")
	assert.Empty(t, DiffFields("modbus", a, a))
	assert.Equal(t, []string{"mode: enforce -> (none)"}, DiffFields("", block{Mode: "enforce"}, block{}))
}

func TestDiffValue(t *testing.T) {
	line, changed := DiffValue("toy", nil, &tls{Certificate: "a"})
	assert.True(t, changed)
	assert.Equal(t, "toy: (none) -> {certificate: a}", line)
	_, changed = DiffValue("toy", &tls{Certificate: "a"}, &tls{Certificate: "a"})
	assert.False(t, changed)
	_, changed = DiffValue("toy", nil, nil)
	assert.False(t, changed)
}
