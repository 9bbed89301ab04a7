package modbusrules

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/zonegate/zonegate/protocols/modbus"
	"github.com/zonegate/zonegate/protocols/rulesblock"
)

// The zone model's tests (gateway/zone) test this block through model
// files; these test the protocol's side of the seam on its own.

func readBlock(t *testing.T, src string) (*modbus.Spec, []string) {
	t.Helper()
	var doc yaml.Node
	require.NoError(t, yaml.Unmarshal([]byte(src), &doc))
	var problems []string
	r := rulesblock.NewReader(".", func(at rulesblock.Pos, msg string) {
		problems = append(problems, fmt.Sprintf("%d:%d: %s", at.Line, at.Column, msg))
	})
	rules := Protocol.Read(r, doc.Content[0])
	spec, ok := rules.(*modbus.Spec)
	require.True(t, ok, "%T", rules)
	return spec, problems
}

func TestProtocolIsComplete(t *testing.T) {
	assert.NoError(t, Protocol.Validate())
	assert.Equal(t, Name, Protocol.Name)
}

func TestRead(t *testing.T) {
	spec, problems := readBlock(t, `mode: monitor
units: [3, 1]
allow:
  - {read: holding_registers, addresses: 0-9}
  - {write: holding_registers, addresses: 5, values: 0-7}
  - {function: diagnostics, sub_functions: [return_query_data]}
max_rate: 60/m
response_timeout: 250ms
`)
	assert.Empty(t, problems)
	assert.Equal(t, modbus.ModeMonitor, spec.Mode)
	assert.Equal(t, []uint8{3, 1}, spec.Units)
	require.Len(t, spec.Rules, 3)
	assert.Equal(t, modbus.Range{Lo: 5, Hi: 5}, spec.Rules[1].Addresses)
	assert.Equal(t, []uint16{0}, spec.Rules[2].SubFunctions)
	assert.Equal(t, 1.0, spec.MaxRate)
	assert.Equal(t, 250*time.Millisecond, spec.ResponseTimeout)

	_, problems = readBlock(t, "mdoe: enforce\nallow: [{read: holding_register, addresses: 0-9}, {write: input_registers, addresses: 1}]\nunits: []\n")
	assert.Equal(t, []string{
		`1:1: unknown key "mdoe" in the modbus block: did you mean "mode"? (known keys: mode, on_deny, units, allow, max_rate, response_timeout, max_device_connections, max_in_flight, device_idle_timeout, redial_after_timeouts, frame_timeout, tls, roles)`,
		`2:16: unknown Modbus table "holding_register": did you mean holding_registers?`,
		`2:59: table input_registers is read-only in Modbus: a write rule needs coils or holding_registers`,
		"3:8: units lists no unit identifier: list the allowed units, such as [1], or remove `units:` to allow any unit",
	}, problems)
}

// TestReadDeviceSettings: the device side of a conduit, read, written in
// the canonical form and compiled; bad values are refused at their
// line:column.
func TestReadDeviceSettings(t *testing.T) {
	spec, problems := readBlock(t, "max_device_connections: 2\nmax_in_flight: 1\ndevice_idle_timeout: 30s\nredial_after_timeouts: 3\nframe_timeout: 500ms\n")
	assert.Empty(t, problems)
	assert.Equal(t, 2, spec.MaxDeviceConns)
	assert.Equal(t, 1, spec.MaxInFlight)
	assert.Equal(t, 30*time.Second, spec.DeviceIdleTimeout)
	assert.Equal(t, 3, spec.RedialAfterTimeouts)
	assert.Equal(t, 500*time.Millisecond, spec.FrameTimeout)
	out, err := yaml.Marshal(Protocol.Canonical(spec))
	require.NoError(t, err)
	assert.Contains(t, string(out), "max_device_connections: 2\nmax_in_flight: 1\ndevice_idle_timeout: 30s\nredial_after_timeouts: 3\nframe_timeout: 500ms\n")
	p, err := modbus.Compile(*spec)
	require.NoError(t, err)
	conns, inFlight, idle, redial := p.Device()
	assert.Equal(t, []any{2, 1, 30 * time.Second, 3}, []any{conns, inFlight, idle, redial})
	assert.Equal(t, 500*time.Millisecond, p.FrameTimeout())

	// Unset: nothing in the canonical form (digests of older models stay).
	spec, _ = readBlock(t, "mode: enforce\n")
	out, err = yaml.Marshal(Protocol.Canonical(spec))
	require.NoError(t, err)
	assert.NotContains(t, string(out), "device")

	_, problems = readBlock(t, "max_device_connections: 0\nmax_in_flight: 257\ndevice_idle_timeout: 10ms\nredial_after_timeouts: two\nframe_timeout: 2m\n")
	assert.Equal(t, []string{
		"1:25: max_device_connections 0 is outside 1-64: write the TCP connections the gateway opens to one device, shared by all its clients, such as 1, or remove the line for the default",
		"2:16: max_in_flight 257 is outside 1-256: write the requests outstanding on one device connection, such as 1 for a PLC that answers one at a time, or remove the line for the default",
		`3:22: device_idle_timeout "10ms" is outside 1s-24h0m0s: write how long an unused device connection stays open, such as 1m, or remove the line for the default`,
		`4:24: redial_after_timeouts must be a whole number, not "two"`,
		`5:16: frame_timeout "2m" is outside 10ms-1m0s: write how long a device may pause inside one answer, such as 2s, or remove the line for the default (10s)`,
	}, problems)
}

func TestCanonicalSortsAndDropsRepeats(t *testing.T) {
	a, _ := readBlock(t, "units: [2, 1]\nallow: [{write: coils, addresses: 0-1}, {read: coils, addresses: 0-9}, {read: coils, addresses: 0-9}]\n")
	b, _ := readBlock(t, "mode: enforce\non_deny: exception\nunits: [1, 2]\nallow: [{read: coils, addresses: 0-9}, {write: coils, addresses: 0-1}]\n")
	assert.Equal(t, Protocol.Canonical(b), Protocol.Canonical(a))
	out, err := yaml.Marshal(Protocol.Canonical(a))
	require.NoError(t, err)
	assert.Equal(t, "mode: enforce\non_deny: exception\nunits: [1, 2]\nallow:\n    - write: coils\n      addresses: 0-1\n    - read: coils\n      addresses: 0-9\n", string(out))
}

func TestLintAndCheck(t *testing.T) {
	spec, _ := readBlock(t, "mode: monitor\nallow: [{function: diagnostics, sub_functions: [force_listen_only]}]\n")
	at := func(key string) rulesblock.Pos {
		return map[string]rulesblock.Pos{"modbus": {Line: 9, Column: 7}, "services.1": {Line: 8, Column: 20}}[key]
	}
	c := rulesblock.Conduit{
		Name: "c", Inspect: "modbus", Rules: spec, At: at,
		From:     rulesblock.Zone{Name: "office", Importance: rulesblock.Low},
		To:       rulesblock.Zone{Name: "control", Importance: rulesblock.High},
		Services: []rulesblock.Service{{Proto: "icmp", Text: "icmp"}, {Proto: "tcp", PortLo: 502, PortHi: 502, Text: "tcp/502"}},
	}
	var got []string
	warnf := func(at rulesblock.Pos, rule, format string, args ...any) {
		got = append(got, fmt.Sprintf("%d:%d [%s] %s", at.Line, at.Column, rule, fmt.Sprintf(format, args...)))
	}
	Protocol.Lint(c, warnf)
	assert.Equal(t, []string{
		`9:7 [monitor-into-high] conduit "c" only monitors Modbus into high-importance zone "control": denied requests still reach the devices; use ` + "`mode: enforce`" + ` once the allow list is complete`,
		`9:7 [disruptive-diagnostics] conduit "c" allows diagnostics force_listen_only into high-importance zone "control": one request takes a device off the bus until it is restarted; remove them from sub_functions unless this conduit is for maintenance`,
	}, got)

	got = nil
	c.Inspect, c.Rules = "", nil
	Protocol.Lint(c, warnf)
	assert.Equal(t, []string{`8:20 [modbus-uninspected] conduit "c" carries Modbus (tcp/502) from low zone "office" into high zone "control" without inspection: add ` + "`inspect: modbus`" + ` with an allow list`}, got)

	var errs []string
	errorf := func(at rulesblock.Pos, format string, args ...any) {
		errs = append(errs, fmt.Sprintf("%d:%d %s", at.Line, at.Column, fmt.Sprintf(format, args...)))
	}
	c.Rules = &modbus.Spec{Mode: modbus.ModeEnforce}
	Protocol.Check(c, errorf)
	assert.Equal(t, []string{`9:7 conduit "c": the modbus block allows nothing, so every request would be denied: add ` + "`allow:`" + ` rules`}, errs)
	errs = nil
	Protocol.Check(rulesblock.Conduit{Name: "c", Rules: spec, At: at}, errorf)
	assert.Empty(t, errs, "monitoring with no rules is allowed")
}

func TestText(t *testing.T) {
	spec, _ := readBlock(t, "units: [1]\nallow: [{read: holding_registers, addresses: 0-99}]\nmax_rate: 100/s\n")
	assert.Equal(t, []string{"read hr 0-99", "unit 1", "≤ 100/s"}, Protocol.Summary(spec))
	assert.Equal(t, "Modbus/TCP deep inspection. Enforced: a request the rules do not allow is answered with a Modbus exception. Unit identifier 1 only. Allowed: read holding registers 0-99. At most 100/s requests per client connection. Everything else is denied.", Protocol.Words(spec))
}
