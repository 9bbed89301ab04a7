package zone

import (
	"os"
	"strings"
	"testing"
)

func TestDiff(t *testing.T) {
	a, err := LoadFile("../../configs/example-factory.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if d := Diff(a, a); len(d) != 0 {
		t.Fatalf("a model differs from itself: %v", d)
	}
	text := exampleText(t)
	text = strings.Replace(text, "services: [tcp/443, icmp/echo-request]", "services: [tcp/443, tcp/444, icmp/echo-request]", 1)
	text = strings.Replace(text, "        - write: holding_registers\n          addresses: 10-19", "        - write: holding_registers\n          addresses: 10-29", 1)
	text = strings.Replace(text, "  - name: vendor-to-eng\n", "  - name: vendor-to-eng-2\n", 1)
	b, err := Load("b.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range Diff(a, b) {
		got = append(got, c.String())
	}
	joined := strings.Join(got, "\n")
	for _, want := range []string{
		"~ conduit office-to-mes: services: [icmp/echo-request, tcp/443] -> [icmp/echo-request, tcp/443, tcp/444]",
		"~ conduit scada-to-plc: modbus allow - {write: holding_registers, addresses: 10-19, values: 0-1000}; modbus allow + {write: holding_registers, addresses: 10-29, values: 0-1000}",
		"- conduit vendor-to-eng",
		"+ conduit vendor-to-eng-2",
	} {
		if !strings.Contains(joined, want) {
			t.Errorf("diff lacks %q:\n%s", want, joined)
		}
	}
	if s := DiffSummary(Diff(a, b)); !strings.Contains(s, "~2 conduits (office-to-mes, scada-to-plc)") || !strings.Contains(s, "+1 conduit (vendor-to-eng-2)") {
		t.Errorf("summary: %s", s)
	}
	if s := DiffSummary(Diff(nil, a)); !strings.Contains(s, "+7 zones") {
		t.Errorf("summary of a first model: %s", s)
	}
}

func exampleText(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../../configs/example-factory.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
