package modbus

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// diag returns an FC 8 request frame for sub-function sf with data word v.
func diag(sf, v uint16) Frame { return adu(1, 1, pdu(8, sf, v)) }

func TestDiagnosticsSubFunctions(t *testing.T) {
	safe := []uint16{0x00, 0x02, 0x0B, 0x0C, 0x0D, 0x0E, 0x0F, 0x10, 0x11, 0x12}
	disruptive := []uint16{0x01, 0x03, 0x04, 0x0A, 0x14}
	data := func(sf uint16) uint16 {
		if sf == DiagRestartCommunications {
			return 0xFF00 // clear the event log
		}
		return 0
	}
	decide := func(t *testing.T, p *Policy, sf uint16) Decision {
		t.Helper()
		var req Request
		return p.Evaluate(diag(sf, data(sf)), &req, nil, time.Time{})
	}

	t.Run("without sub_functions only the non-disruptive ones pass", func(t *testing.T) {
		p, err := Compile(Spec{Rules: []Rule{{Access: AccessFunction, Function: FuncDiagnostics}}})
		require.NoError(t, err)
		for _, sf := range safe {
			assert.True(t, decide(t, p, sf).Allowed, "sub-function 0x%02x", sf)
		}
		for _, sf := range disruptive {
			d := decide(t, p, sf)
			assert.False(t, d.Allowed, "sub-function 0x%02x", sf)
			assert.Equal(t, ReasonDiagSubFunction, d.Reason, "sub-function 0x%02x", sf)
			assert.Equal(t, ExIllegalFunction, d.Exception)
		}
	})
	t.Run("named sub-functions pass, the rest does not", func(t *testing.T) {
		p, err := Compile(Spec{Rules: []Rule{{Access: AccessFunction, Function: FuncDiagnostics,
			SubFunctions: []uint16{DiagRestartCommunications, DiagForceListenOnly}}}})
		require.NoError(t, err)
		assert.True(t, decide(t, p, DiagRestartCommunications).Allowed)
		assert.True(t, decide(t, p, DiagForceListenOnly).Allowed)
		d := decide(t, p, DiagReturnQueryData)
		assert.False(t, d.Allowed, "the echo is not named")
		assert.Equal(t, ReasonDiagSubFunction, d.Reason)
	})
	t.Run("two diagnostics rules allow the union", func(t *testing.T) {
		p, err := Compile(Spec{Rules: []Rule{
			{Access: AccessFunction, Function: FuncDiagnostics, SubFunctions: []uint16{DiagClearCounters}},
			{Access: AccessFunction, Function: FuncDiagnostics},
		}})
		require.NoError(t, err)
		assert.True(t, decide(t, p, DiagClearCounters).Allowed)
		assert.True(t, decide(t, p, DiagReturnQueryData).Allowed)
		assert.False(t, decide(t, p, DiagForceListenOnly).Allowed)
	})
	t.Run("no diagnostics rule: function not allowed", func(t *testing.T) {
		p, err := Compile(Spec{Rules: []Rule{{Access: AccessFunction, Function: FuncReportServerID}}})
		require.NoError(t, err)
		assert.Equal(t, ReasonFunctionDenied, decide(t, p, DiagReturnQueryData).Reason)
	})
	t.Run("an undefined sub-function is refused by the sanity checks even when named", func(t *testing.T) {
		p, err := Compile(Spec{Rules: []Rule{{Access: AccessFunction, Function: FuncDiagnostics, SubFunctions: []uint16{0x15, 40000}}}})
		require.NoError(t, err)
		assert.Equal(t, ReasonSubFunction, decide(t, p, 0x15).Reason)
		assert.Equal(t, ReasonSubFunction, decide(t, p, 40000).Reason)
	})
	t.Run("sub-functions only on a diagnostics rule", func(t *testing.T) {
		_, err := Compile(Spec{Rules: []Rule{{Access: AccessFunction, Function: FuncReportServerID, SubFunctions: []uint16{0}}}})
		assert.ErrorContains(t, err, "only to function 8")
		_, err = Compile(Spec{Rules: []Rule{{Access: AccessRead, Table: Coils, Addresses: Range{0, 9}, SubFunctions: []uint16{0}}}})
		assert.ErrorContains(t, err, "sub-functions apply only")
	})
	t.Run("no allocation", func(t *testing.T) {
		p, err := Compile(Spec{Rules: []Rule{{Access: AccessFunction, Function: FuncDiagnostics}}})
		require.NoError(t, err)
		frames := []Frame{diag(0, 0), diag(1, 0), diag(0x0B, 0)}
		var req Request
		allocs := testing.AllocsPerRun(100, func() {
			for _, f := range frames {
				_ = p.Evaluate(f, &req, nil, time.Time{})
			}
		})
		assert.Equal(t, 0.0, allocs)
	})
}

func TestParseDiagSubFunction(t *testing.T) {
	for name, code := range map[string]uint16{"return_query_data": 0, "restart_communications": 1, "force_listen_only": 4,
		"clear_counters": 0x0A, "return_bus_character_overrun_count": 0x12, "clear_overrun_counter": 0x14, "7": 7, "65535": 65535} {
		got, err := ParseDiagSubFunction(name)
		require.NoError(t, err, name)
		assert.Equal(t, code, got, name)
	}
	for _, bad := range []string{"restart", "-1", "65536", ""} {
		_, err := ParseDiagSubFunction(bad)
		assert.Error(t, err, bad)
	}
	assert.Equal(t, "force_listen_only", DiagSubFunctionName(4))
	assert.Equal(t, "21", DiagSubFunctionName(21))
	assert.Equal(t, []uint16{0x00, 0x02, 0x0B, 0x0C, 0x0D, 0x0E, 0x0F, 0x10, 0x11, 0x12}, SafeDiagSubFunctions())
}

func TestResponseTimeoutInSpec(t *testing.T) {
	p, err := Compile(Spec{ResponseTimeout: 500 * time.Millisecond})
	require.NoError(t, err)
	assert.Equal(t, 500*time.Millisecond, p.ResponseTimeout())
	p, err = Compile(Spec{})
	require.NoError(t, err)
	assert.Zero(t, p.ResponseTimeout(), "unset: the proxy's default")
	for _, bad := range []time.Duration{-time.Second, MaxResponseTimeout + 1} {
		_, err := Compile(Spec{ResponseTimeout: bad})
		assert.ErrorContains(t, err, "response_timeout", bad)
	}
}
