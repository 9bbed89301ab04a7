package audit

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestInspectedRecords(t *testing.T) {
	e := InspectedEvent{Protocol: "modbus", Source: "198.18.0.10:50122", Destination: "198.18.1.10:502", Conduit: "scada-to-plc",
		Reason: "address_not_allowed", Monitor: true,
		Details: map[string]string{"unit": "1", "function": "6", DetailProtocol: "spoofed", DetailMode: "enforce"}}
	r := InspectedDenied(e)
	assert.Equal(t, CategoryInspection, r.Category)
	assert.Equal(t, ActionRequestDenied, r.Action)
	assert.Equal(t, ResultDenied, r.Result)
	assert.Equal(t, e.Source, r.Actor)
	assert.Equal(t, e.Destination, r.Object)
	assert.Equal(t, map[string]string{"unit": "1", "function": "6", DetailProtocol: "modbus", DetailSource: e.Source,
		DetailDestination: e.Destination, DetailConduit: e.Conduit, DetailReason: e.Reason, DetailMode: "monitor"}, r.Details,
		"protocol details cannot override the neutral fields")
	assert.Equal(t, "spoofed", e.Details[DetailProtocol], "the caller's map is not modified")

	w := InspectedWrite(InspectedEvent{Protocol: "modbus", Source: "a", Destination: "b", Conduit: "c"})
	assert.Equal(t, ActionWriteAllowed, w.Action)
	assert.Equal(t, ResultSuccess, w.Result)
	assert.NotContains(t, w.Details, DetailReason)
	assert.NotContains(t, w.Details, DetailMode)
	assert.NoError(t, validate(&w), "a valid record for Append")
}
