package modbus

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func rng(lo, hi uint16) *Range { return &Range{lo, hi} }

// testSpec is the policy most decision tests run against.
func testSpec() Spec {
	return Spec{
		Units: []uint8{1, 2},
		Rules: []Rule{
			{Access: AccessRead, Table: HoldingRegisters, Addresses: Range{0, 99}},
			{Access: AccessRead, Table: HoldingRegisters, Addresses: Range{100, 149}}, // adjacent: union 0-149
			{Access: AccessRead, Table: InputRegisters, Addresses: Range{0, 9}},
			{Access: AccessRead, Table: InputRegisters, Addresses: Range{20, 29}}, // gap 10-19
			{Access: AccessRead, Table: Coils, Addresses: Range{0, 15}},
			{Access: AccessRead, Table: DiscreteInputs, Addresses: Range{0, 1999}},
			{Access: AccessWrite, Table: Coils, Addresses: Range{0, 7}},
			{Access: AccessWrite, Table: HoldingRegisters, Addresses: Range{10, 19}, Values: rng(0, 1000)},
			{Access: AccessWrite, Table: HoldingRegisters, Addresses: Range{20, 29}, Values: rng(5000, 6000)},
			{Access: AccessWrite, Table: HoldingRegisters, Addresses: Range{25, 29}, Values: rng(0, 10)}, // overlaps: 25-29 allow 0-10 and 5000-6000
			{Access: AccessWrite, Table: HoldingRegisters, Addresses: Range{40, 49}},                     // any value
			{Access: AccessWrite, Table: HoldingRegisters, Addresses: Range{60, 60}, Values: rng(0x0F00, 0x0FFF)},
			{Access: AccessFunction, Function: FuncEncapsulatedInterface, MEIType: mei(MEIReadDeviceIdentification)},
			{Access: AccessFunction, Function: FuncDiagnostics},
			{Access: AccessFunction, Function: 65},
		},
	}
}

type decideCase struct {
	name string
	unit uint8
	pdu  []byte
	want Decision
}

var (
	okD        = Decision{Allowed: true}
	denyFunc   = Decision{Exception: ExIllegalFunction, Reason: ReasonFunctionDenied}
	denyUnit   = Decision{Exception: ExIllegalFunction, Reason: ReasonUnitNotAllowed}
	denyAddr   = Decision{Exception: ExIllegalDataAddress, Reason: ReasonAddressDenied}
	denyValue  = Decision{Exception: ExIllegalDataValue, Reason: ReasonValueDenied}
	denyMask   = Decision{Exception: ExIllegalDataValue, Reason: ReasonMaskWriteDenied}
	denyQty    = Decision{Exception: ExIllegalDataValue, Reason: ReasonQuantity}
	denyUnknwn = Decision{Exception: ExIllegalFunction, Reason: ReasonFunctionUnknown}
)

func decideCases() []decideCase {
	return []decideCase{
		// Units.
		{"unit 1", 1, pdu(3, 0, 10), okD},
		{"unit 2", 2, pdu(3, 0, 10), okD},
		{"unit 3 not allowed", 3, pdu(3, 0, 10), denyUnit},
		{"unit 0 not allowed", 0, pdu(3, 0, 10), denyUnit},
		{"unit 255 not allowed", 255, pdu(3, 0, 10), denyUnit},
		// FC 3: union of adjacent ranges.
		{"fc3 inside first range", 1, pdu(3, 0, 100), okD},
		{"fc3 across adjacent ranges", 1, pdu(3, 90, 20), okD},
		{"fc3 whole union", 1, pdu(3, 25, 125), okD},
		{"fc3 last address", 1, pdu(3, 149, 1), okD},
		{"fc3 past the end", 1, pdu(3, 149, 2), denyAddr},
		{"fc3 outside", 1, pdu(3, 1000, 1), denyAddr},
		{"fc3 quantity 126 (sanity)", 1, pdu(3, 0, 126), denyQty},
		// FC 4: gap between ranges.
		{"fc4 first range", 1, pdu(4, 0, 10), okD},
		{"fc4 second range", 1, pdu(4, 20, 10), okD},
		{"fc4 into the gap", 1, pdu(4, 5, 10), denyAddr},
		{"fc4 across the gap", 1, pdu(4, 0, 30), denyAddr},
		{"fc4 inside the gap", 1, pdu(4, 12, 2), denyAddr},
		// FC 1, 2.
		{"fc1 ok", 1, pdu(1, 0, 16), okD},
		{"fc1 beyond", 1, pdu(1, 0, 17), denyAddr},
		{"fc2 ok", 1, pdu(2, 0, 2000), okD},
		{"fc2 beyond", 1, pdu(2, 1, 2000), denyAddr},
		// FC 5, 15: coils.
		{"fc5 ok", 1, pdu(5, 7, 0xFF00), okD},
		{"fc5 outside", 1, pdu(5, 8, 0xFF00), denyAddr},
		{"fc5 bad value (sanity)", 1, pdu(5, 7, 0x1234), Decision{Exception: ExIllegalDataValue, Reason: ReasonCoilValue}},
		{"fc15 ok", 1, wrCoils(0, 8, 0xFF), okD},
		{"fc15 one too many", 1, wrCoils(0, 9, 0xFF, 1), denyAddr},
		// FC 6, 16: values.
		{"fc6 ok", 1, pdu(6, 10, 1000), okD},
		{"fc6 value too high", 1, pdu(6, 10, 1001), denyValue},
		{"fc6 outside addresses", 1, pdu(6, 9, 0), denyAddr},
		{"fc6 any value range", 1, pdu(6, 45, 0xFFFF), okD},
		{"fc6 gap 30-39", 1, pdu(6, 35, 1), denyAddr},
		{"fc6 overlapping rules: low values", 1, pdu(6, 27, 10), okD},
		{"fc6 overlapping rules: high values", 1, pdu(6, 27, 5500), okD},
		{"fc6 overlapping rules: neither", 1, pdu(6, 27, 11), denyValue},
		{"fc6 non-overlapped part", 1, pdu(6, 22, 10), denyValue},
		{"fc16 ok", 1, wrRegs(10, 0, 500, 1000), okD},
		{"fc16 across value ranges", 1, wrRegs(18, 1, 2, 5000, 6000), okD},
		{"fc16 second value wrong", 1, wrRegs(18, 1, 2, 3), denyValue},
		{"fc16 last value wrong", 1, wrRegs(10, 0, 0, 0, 0, 1001), denyValue},
		{"fc16 into the gap", 1, wrRegs(28, 1, 2, 3), denyAddr},
		{"fc16 before range", 1, wrRegs(9, 1, 2), denyAddr},
		// FC 22: mask write.
		{"fc22 any-value rule", 1, pdu(22, 45, 0xFFFF, 0x1234), okD},
		{"fc22 and 0: exact result in range", 1, pdu(22, 10, 0x0000, 1000), okD},
		{"fc22 and 0: exact result out of range", 1, pdu(22, 10, 0x0000, 1001), denyMask},
		{"fc22 kept low bits stay in range", 1, pdu(22, 60, 0x00FF, 0x0F00), okD},
		{"fc22 kept high bit may leave range", 1, pdu(22, 60, 0x80FF, 0x0F00), denyMask},
		{"fc22 identity mask on constrained register", 1, pdu(22, 10, 0xFFFF, 0x0000), denyMask},
		{"fc22 outside addresses", 1, pdu(22, 0, 0, 0), denyAddr},
		// FC 23: both halves.
		{"fc23 ok", 1, rwRegs(0, 10, 10, 5, 6), okD},
		{"fc23 read half outside", 1, rwRegs(140, 20, 10, 5), denyAddr},
		{"fc23 write half outside", 1, rwRegs(0, 1, 30, 5), denyAddr},
		{"fc23 write value wrong", 1, rwRegs(0, 1, 10, 5, 2000), denyValue},
		// Function rules.
		{"fc43/14 allowed", 1, []byte{43, 14, 1, 0}, okD},
		{"fc43/13 not allowed", 1, []byte{43, 13, 0}, denyFunc},
		{"fc8 allowed", 1, pdu(8, 0, 0x1234), okD},
		{"fc8 undefined sub-function", 1, pdu(8, 0x13, 0), Decision{Exception: ExIllegalFunction, Reason: ReasonSubFunction}},
		{"fc65 user-defined allowed", 1, []byte{65, 1, 2}, okD},
		{"fc66 user-defined not allowed", 1, []byte{66}, denyFunc},
		{"fc7 not allowed", 1, pdu(7), denyFunc},
		{"fc17 not allowed", 1, pdu(17), denyFunc},
		{"fc24 not allowed", 1, pdu(24, 0), denyFunc},
		{"fc20 not allowed", 1, cat([]byte{20, 7, 6}, be(1, 0, 1)), denyFunc},
		{"fc9 reserved", 1, pdu(9), denyUnknwn},
		{"fc0", 1, []byte{0}, Decision{Exception: ExIllegalFunction, Reason: ReasonFunctionInvalid}},
		{"fc 0x83 in a request", 1, pdu(0x83, 0, 1), Decision{Exception: ExIllegalFunction, Reason: ReasonFunctionInvalid}},
	}
}

func TestDecide(t *testing.T) {
	enforce := testSpec()
	pe, err := Compile(enforce)
	noErr(t, err)
	monitor := testSpec()
	monitor.Mode = ModeMonitor
	pm, err := Compile(monitor)
	noErr(t, err)
	for _, tc := range decideCases() {
		t.Run(tc.name, func(t *testing.T) {
			f := Frame(adu(7, tc.unit, tc.pdu))
			var req Request
			got := pe.Evaluate(f, &req, nil, time.Time{})
			equal(t, tc.want, got, "enforce")
			equal(t, tc.want.Allowed, got.Forward(), "forward in enforce mode")

			got = pm.Evaluate(f, &req, nil, time.Time{})
			want := tc.want
			want.Monitor = !want.Allowed
			equal(t, want, got, "monitor")
			equal(t, true, got.Forward(), "forward in monitor mode")
		})
	}
}

func TestDecideNoRules(t *testing.T) {
	p, err := Compile(Spec{})
	noErr(t, err)
	for _, tc := range decideCases() {
		var req Request
		d := p.Evaluate(Frame(adu(1, tc.unit, tc.pdu)), &req, nil, time.Time{})
		if d.Allowed {
			t.Errorf("%s: allowed by an empty policy", tc.name)
		}
	}
	// Units nil means any unit; an empty list means none.
	var req Request
	noErr(t, ParseRequest(Frame(adu(1, 200, pdu(7))), &req))
	equal(t, denyFunc, p.Decide(&req))
	p, err = Compile(Spec{Units: []uint8{}, Rules: []Rule{{Access: AccessFunction, Function: 7}}})
	noErr(t, err)
	equal(t, denyUnit, p.Decide(&req))
}

func TestDecideWriteNeedsWriteRule(t *testing.T) {
	// A read rule does not allow writes, and the other way round.
	p, err := Compile(Spec{Rules: []Rule{
		{Access: AccessRead, Table: Coils, Addresses: Range{0, 100}},
		{Access: AccessWrite, Table: HoldingRegisters, Addresses: Range{0, 100}},
	}})
	noErr(t, err)
	for name, tc := range map[string]struct {
		p    []byte
		want Decision
	}{
		"fc5 with read rule":         {pdu(5, 1, 0xFF00), denyFunc},
		"fc15 with read rule":        {wrCoils(1, 1, 1), denyFunc},
		"fc1 with read rule":         {pdu(1, 1, 1), okD},
		"fc3 with write rule":        {pdu(3, 1, 1), denyFunc},
		"fc6 with write rule":        {pdu(6, 1, 1), okD},
		"fc23 without read rule":     {rwRegs(0, 1, 0, 1), denyFunc},
		"fc4 no input register rule": {pdu(4, 0, 1), denyFunc},
		"fc2 no discrete input rule": {pdu(2, 0, 1), denyFunc},
		"fc43 no rule":               {[]byte{43, 14, 1, 0}, denyFunc},
	} {
		var req Request
		equal(t, tc.want, p.Evaluate(Frame(adu(1, 1, tc.p)), &req, nil, time.Time{}), name)
	}
}

func TestDecideMEIAny(t *testing.T) {
	p, err := Compile(Spec{Rules: []Rule{{Access: AccessFunction, Function: FuncEncapsulatedInterface}}})
	noErr(t, err)
	var req Request
	equal(t, okD, p.Evaluate(Frame(adu(1, 1, []byte{43, 13, 5})), &req, nil, time.Time{}))
	equal(t, okD, p.Evaluate(Frame(adu(1, 1, []byte{43, 14, 4, 9})), &req, nil, time.Time{}))
	equal(t, Decision{Exception: ExIllegalFunction, Reason: ReasonMEIType}, p.Evaluate(Frame(adu(1, 1, []byte{43, 99})), &req, nil, time.Time{}))
}

func TestCompileErrors(t *testing.T) {
	for name, tc := range map[string]struct {
		spec Spec
		want string
	}{
		"bad mode":                {Spec{Mode: 7}, "mode"},
		"bad on_deny":             {Spec{OnDeny: 7}, "on_deny"},
		"negative rate":           {Spec{MaxRate: -1}, "max_rate"},
		"bad table":               {Spec{Rules: []Rule{{Access: AccessRead, Table: 9}}}, "table 9"},
		"inverted range":          {Spec{Rules: []Rule{{Access: AccessRead, Table: Coils, Addresses: Range{5, 1}}}}, "inverted"},
		"write input regs":        {Spec{Rules: []Rule{{Access: AccessWrite, Table: InputRegisters}}}, "read-only"},
		"values on read":          {Spec{Rules: []Rule{{Access: AccessRead, Table: HoldingRegisters, Values: rng(0, 1)}}}, "values apply only"},
		"values on coils":         {Spec{Rules: []Rule{{Access: AccessWrite, Table: Coils, Values: rng(0, 1)}}}, "values apply only"},
		"inverted values":         {Spec{Rules: []Rule{{Access: AccessWrite, Table: HoldingRegisters, Values: rng(9, 1)}}}, "inverted"},
		"function with addresses": {Spec{Rules: []Rule{{Access: AccessFunction, Function: 3}}}, "read: holding_registers"},
		"reserved function":       {Spec{Rules: []Rule{{Access: AccessFunction, Function: 9}}}, "reserved"},
		"function 0":              {Spec{Rules: []Rule{{Access: AccessFunction, Function: 0}}}, "reserved"},
		"mei on fc 8":             {Spec{Rules: []Rule{{Access: AccessFunction, Function: 8, MEIType: mei(14)}}}, "only to function 43"},
		"unknown mei":             {Spec{Rules: []Rule{{Access: AccessFunction, Function: 43, MEIType: mei(12)}}}, "MEI type 12"},
		"mei on read rule":        {Spec{Rules: []Rule{{Access: AccessRead, Table: Coils, MEIType: mei(14)}}}, "mei type"},
		"unknown access":          {Spec{Rules: []Rule{{Access: 9}}}, "access 9"},
	} {
		_, err := Compile(tc.spec)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got error %v, want one containing %q", name, err, tc.want)
		}
	}
}

func TestCompileParsedFunctionRules(t *testing.T) {
	// Every rule ParseFunctionRule accepts by name compiles.
	for _, name := range FunctionNames() {
		r, err := ParseFunctionRule(name)
		noErr(t, err, name)
		_, err = Compile(Spec{Rules: []Rule{r}})
		noErr(t, err, name)
	}
}

func TestPolicySpecIsCopied(t *testing.T) {
	s := testSpec()
	p, err := Compile(s)
	noErr(t, err)
	s.Rules[7].Values.Hi = 5
	s.Units[0] = 9
	got := p.Spec()
	equal(t, uint16(1000), got.Rules[7].Values.Hi)
	equal(t, uint8(1), got.Units[0])
	var req Request
	equal(t, okD, p.Evaluate(Frame(adu(1, 1, pdu(6, 10, 1000))), &req, nil, time.Time{}))
}

func TestSpanSetBuild(t *testing.T) {
	s := buildSpanSet([]Rule{
		{Addresses: Range{10, 19}, Values: rng(0, 5)},
		{Addresses: Range{20, 29}, Values: rng(0, 5)}, // adjacent, same values: merged
		{Addresses: Range{15, 24}, Values: rng(6, 9)}, // overlaps: values merge to 0-9 there
		{Addresses: Range{40, 65535}},                 // to the top address
		{Addresses: Range{50, 60}, Values: rng(1, 1)}, // inside an any-value rule: still any value
	})
	want := spanSet{
		{lo: 10, hi: 14, values: []Range{{0, 5}}},
		{lo: 15, hi: 24, values: []Range{{0, 9}}},
		{lo: 25, hi: 29, values: []Range{{0, 5}}},
		{lo: 40, hi: 65535, anyValue: true},
	}
	equal(t, want, s)
	equal(t, true, s.covers(10, 20))
	equal(t, false, s.covers(10, 21))
	equal(t, true, s.covers(65535, 1))
	equal(t, true, s.covers(40, 65496))
	equal(t, false, s.covers(39, 2))
	equal(t, false, s.covers(0, 1))
}

func TestRateLimiter(t *testing.T) {
	t0 := time.Unix(1000, 0)
	var l RateLimiter
	// Burst: one second's worth.
	for i := range 10 {
		equal(t, true, l.Allow(t0, 10), "burst request ", i)
	}
	equal(t, false, l.Allow(t0, 10), "11th request in the same instant")
	equal(t, false, l.Allow(t0.Add(50*time.Millisecond), 10), "half a token later")
	equal(t, true, l.Allow(t0.Add(100*time.Millisecond), 10), "one token later")
	equal(t, false, l.Allow(t0.Add(100*time.Millisecond), 10))
	// A long pause refills to the burst, not beyond.
	t1 := t0.Add(time.Hour)
	for i := range 10 {
		equal(t, true, l.Allow(t1, 10), "refilled ", i)
	}
	equal(t, false, l.Allow(t1, 10))
	// Time going backwards does not add tokens.
	equal(t, false, l.Allow(t0, 10))
	// Slow rates still allow one request.
	var s RateLimiter
	equal(t, true, s.Allow(t0, 0.5))
	equal(t, false, s.Allow(t0.Add(time.Second), 0.5))
	equal(t, true, s.Allow(t0.Add(2*time.Second), 0.5))
}

func TestEvaluateRateLimit(t *testing.T) {
	spec := testSpec()
	spec.MaxRate = 2
	p, err := Compile(spec)
	noErr(t, err)
	t0 := time.Unix(5, 0)
	var l RateLimiter
	var req Request
	f := Frame(adu(1, 1, pdu(3, 0, 1)))
	bad := Frame(adu(1, 1, pdu(3, 0, 0)))
	equal(t, okD, p.Evaluate(f, &req, &l, t0))
	equal(t, denyQty, p.Evaluate(bad, &req, &l, t0)) // counts too
	rate := Decision{Exception: ExServerDeviceBusy, Reason: ReasonRateLimited}
	equal(t, rate, p.Evaluate(f, &req, &l, t0))
	equal(t, okD, p.Evaluate(f, &req, &l, t0.Add(500*time.Millisecond)))
	// Without a limiter, or without a rate, nothing is limited.
	equal(t, okD, p.Evaluate(f, &req, nil, t0))
	p0, _ := Compile(testSpec())
	for range 100 {
		equal(t, okD, p0.Evaluate(f, &req, &l, t0))
	}
}

func TestEvaluateDoesNotAllocate(t *testing.T) {
	p, _ := Compile(testSpec())
	frames := []Frame{
		adu(1, 1, pdu(3, 0, 100)),
		adu(1, 1, wrRegs(18, 1, 2, 5000, 6000)),
		adu(1, 1, rwRegs(0, 10, 10, 5, 6)),
		adu(1, 1, pdu(22, 60, 0x00FF, 0x0F00)),
		adu(1, 9, pdu(3, 0, 1)),
		adu(1, 1, pdu(99)),
	}
	var l RateLimiter
	var req Request
	now := time.Now()
	allocs := testing.AllocsPerRun(100, func() {
		for _, f := range frames {
			_ = p.Evaluate(f, &req, &l, now)
		}
	})
	equal(t, 0.0, allocs, "allocations")
}

// TestDenyAllMatchesCompiled: the fail-closed policy (a conduit without a
// policy any more) is the one Compile builds for a spec that allows no
// unit, and denies everything.
func TestDenyAllMatchesCompiled(t *testing.T) {
	compiled, err := Compile(Spec{Units: []uint8{}})
	require.NoError(t, err)
	assert.Equal(t, compiled, DenyAll())
	var req Request
	d := DenyAll().Evaluate(Frame(adu(1, 1, pdu(3, 0, 1))), &req, nil, time.Time{})
	assert.False(t, d.Forward())
	assert.Equal(t, ReasonUnitNotAllowed, d.Reason)
}
