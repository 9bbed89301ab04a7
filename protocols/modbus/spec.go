// Package modbus is the pure Modbus/TCP inspection engine: MBAP framing,
// request sanity checks, a policy of allowed functions, tables, addresses and
// values, and exception responses. Bytes in, verdict out: it has no
// sockets, no logger and no allocations on the per-request path (see
// BenchmarkFrameCheckDecide); it links neither net nor zap (a test checks
// the link graph). Package modbustcp is its codec for the proxy engine
// (protocols/proxy), which carries it on connections.
//
// The package knows nothing about zones. Callers describe what a conduit
// allows with a Spec (plain data, usually read from a conduit's `modbus:`
// block by package modbusrules, the zone model's side of Modbus) and
// compile it into a Policy.
package modbus

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// FunctionCode is a Modbus function code (1-127 in requests).
type FunctionCode uint8

// Public function codes from the Modbus Application Protocol Specification V1.1b3.
const (
	FuncReadCoils                  FunctionCode = 1
	FuncReadDiscreteInputs         FunctionCode = 2
	FuncReadHoldingRegisters       FunctionCode = 3
	FuncReadInputRegisters         FunctionCode = 4
	FuncWriteSingleCoil            FunctionCode = 5
	FuncWriteSingleRegister        FunctionCode = 6
	FuncReadExceptionStatus        FunctionCode = 7
	FuncDiagnostics                FunctionCode = 8
	FuncGetCommEventCounter        FunctionCode = 11
	FuncGetCommEventLog            FunctionCode = 12
	FuncWriteMultipleCoils         FunctionCode = 15
	FuncWriteMultipleRegisters     FunctionCode = 16
	FuncReportServerID             FunctionCode = 17
	FuncReadFileRecord             FunctionCode = 20
	FuncWriteFileRecord            FunctionCode = 21
	FuncMaskWriteRegister          FunctionCode = 22
	FuncReadWriteMultipleRegisters FunctionCode = 23
	FuncReadFIFOQueue              FunctionCode = 24
	FuncEncapsulatedInterface      FunctionCode = 43
)

// MEI types carried by function 43 (Encapsulated Interface Transport).
const (
	MEICANopenGeneralReference  uint8 = 13
	MEIReadDeviceIdentification uint8 = 14
)

// Table is one of the four Modbus data tables.
type Table uint8

// The Modbus data tables.
const (
	Coils Table = iota + 1
	DiscreteInputs
	HoldingRegisters
	InputRegisters
)

var tableNames = map[Table]string{
	Coils:            "coils",
	DiscreteInputs:   "discrete_inputs",
	HoldingRegisters: "holding_registers",
	InputRegisters:   "input_registers",
}

func (t Table) String() string {
	if n, ok := tableNames[t]; ok {
		return n
	}
	return "table(" + strconv.Itoa(int(t)) + ")"
}

// Writable reports whether a client can write to the table (coils and
// holding registers).
func (t Table) Writable() bool { return t == Coils || t == HoldingRegisters }

// ParseTable parses a table name as written in the zone model.
func ParseTable(s string) (Table, error) {
	for t, n := range tableNames {
		if n == s {
			return t, nil
		}
	}
	return 0, fmt.Errorf("unknown Modbus table %q: use one of %s", s, strings.Join(TableNames(), ", "))
}

// TableNames lists the table names in a stable order.
func TableNames() []string {
	return []string{"coils", "discrete_inputs", "holding_registers", "input_registers"}
}

// ReadFunction returns the read function code of a table.
func (t Table) ReadFunction() FunctionCode {
	switch t {
	case Coils:
		return FuncReadCoils
	case DiscreteInputs:
		return FuncReadDiscreteInputs
	case HoldingRegisters:
		return FuncReadHoldingRegisters
	case InputRegisters:
		return FuncReadInputRegisters
	}
	return 0
}

// Range is an inclusive range of 16-bit numbers (addresses or values).
type Range struct{ Lo, Hi uint16 }

// Contains reports whether v lies in r.
func (r Range) Contains(v uint16) bool { return v >= r.Lo && v <= r.Hi }

// ContainsSpan reports whether the n items starting at first all lie in r.
func (r Range) ContainsSpan(first uint16, n int) bool {
	if n <= 0 {
		return false
	}
	last := int(first) + n - 1
	return first >= r.Lo && last <= int(r.Hi)
}

func (r Range) String() string {
	if r.Lo == r.Hi {
		return strconv.Itoa(int(r.Lo))
	}
	return strconv.Itoa(int(r.Lo)) + "-" + strconv.Itoa(int(r.Hi))
}

// ParseRange parses "N" or "LO-HI" with both ends in 0..max.
func ParseRange(s string, max int) (Range, error) {
	s = strings.TrimSpace(s)
	lo, hi, isRange := strings.Cut(s, "-")
	a, err := strconv.Atoi(strings.TrimSpace(lo))
	if err != nil {
		return Range{}, fmt.Errorf("%q is not a number or a range LO-HI", s)
	}
	b := a
	if isRange {
		if b, err = strconv.Atoi(strings.TrimSpace(hi)); err != nil {
			return Range{}, fmt.Errorf("%q is not a number or a range LO-HI", s)
		}
	}
	if a < 0 || b < 0 || a > max || b > max {
		return Range{}, fmt.Errorf("range %q is outside 0-%d", s, max)
	}
	if a > b {
		return Range{}, fmt.Errorf("range %q is inverted: write the lower end first (%d-%d)", s, b, a)
	}
	return Range{Lo: uint16(a), Hi: uint16(b)}, nil
}

// Access says what a Rule allows.
type Access uint8

// Rule kinds.
const (
	AccessRead     Access = iota + 1 // read functions of a table
	AccessWrite                      // write functions of a table
	AccessFunction                   // a function without address semantics
)

func (a Access) String() string {
	switch a {
	case AccessRead:
		return "read"
	case AccessWrite:
		return "write"
	case AccessFunction:
		return "function"
	}
	return "access(" + strconv.Itoa(int(a)) + ")"
}

// Rule is one entry of a conduit's allow list.
//
// A read rule allows the read function of its table (FC 1/2/3/4) and the read
// half of FC 23 for holding registers. A write rule allows the write functions
// (coils: FC 5, 15; holding registers: FC 6, 16, 22 and the write half of FC
// 23). A function rule allows one function code that has no address
// semantics; for FC 43 it may name one MEI type.
type Rule struct {
	Access    Access
	Table     Table  // read and write rules
	Addresses Range  // read and write rules: zero-based PDU addresses
	Values    *Range // write rules on holding registers: allowed register values; nil = any
	Function  FunctionCode
	MEIType   *uint8 // function rules for FC 43: the one MEI type allowed; nil = any
	// SubFunctions are the FC 8 (diagnostics) sub-functions a function rule
	// for FC 8 allows; nil allows the non-disruptive ones
	// (SafeDiagSubFunctions). Only for function rules of FC 8.
	SubFunctions []uint16
}

// Mode says whether a policy blocks or only reports.
type Mode uint8

// Policy modes.
const (
	ModeEnforce Mode = iota // deny what is not allowed
	ModeMonitor             // forward everything, report what would be denied
)

func (m Mode) String() string {
	if m == ModeMonitor {
		return "monitor"
	}
	return "enforce"
}

// DenyAction is what the proxy does with a denied request in enforce mode.
type DenyAction uint8

// Deny actions.
const (
	DenyException DenyAction = iota // answer with a Modbus exception
	DenyReset                       // close the client connection
)

func (d DenyAction) String() string {
	if d == DenyReset {
		return "reset"
	}
	return "exception"
}

// Spec is the plain-data description of what one conduit allows; Compile
// turns it into a Policy.
type Spec struct {
	Mode   Mode
	OnDeny DenyAction
	Units  []uint8 // allowed unit identifiers; nil = any
	Rules  []Rule
	// MaxRate is the allowed requests per second per client connection; 0 = no limit.
	MaxRate float64
	// ResponseTimeout is how long the device has to answer a forwarded
	// request before the client gets exception 0x0B; 0 = the proxy's
	// default.
	ResponseTimeout time.Duration

	// The device side of the conduit (0 = the proxy's default each):
	// MaxDeviceConns is the number of TCP connections the proxy opens
	// to one device at most, shared by all its clients (default 1);
	// MaxInFlight the requests outstanding on one device connection
	// (1 for a PLC that answers one request at a time; default 16);
	// DeviceIdleTimeout closes a device connection with nothing
	// outstanding for that long (default 1m); RedialAfterTimeouts
	// closes and redials a device connection after that many requests
	// in a row timed out with no byte from the device (default 2).
	MaxDeviceConns      int
	MaxInFlight         int
	DeviceIdleTimeout   time.Duration
	RedialAfterTimeouts int
	// FrameTimeout closes a device connection whose answer stopped
	// half-way: a partial frame that receives no byte for that long
	// (a request's own deadline never closes the connection). 0: the
	// proxy's default (10s).
	FrameTimeout time.Duration
	// Security is Modbus/TCP Security (TLS on port 802) terminated at the
	// gateway; nil: none.
	Security *Security
	// Roles are the allow rules of the roles client certificates carry
	// (Modbus/TCP Security), in the model's order.
	Roles []RoleRules
}

// Bounds of the device settings of a Spec.
const (
	MaxDeviceConns       = 64
	MaxInFlight          = 256
	MinDeviceIdleTimeout = time.Second
	MaxDeviceIdleTimeout = 24 * time.Hour
	MaxRedialAfter       = 100
	MinFrameTimeout      = 10 * time.Millisecond
	MaxFrameTimeout      = time.Minute
)

// MaxResponseTimeout bounds Spec.ResponseTimeout: a device that needs
// longer is broken, and a client waiting longer has long given up.
const MaxResponseTimeout = time.Minute

// NamedFunction is a function that a `function:` rule may name.
type NamedFunction struct {
	Name     string
	Code     FunctionCode
	MEIType  *uint8
	Describe string
}

func mei(v uint8) *uint8 { return &v }

// namedFunctions are the functions without address semantics that a
// `function:` rule may name.
var namedFunctions = []NamedFunction{
	{"read_exception_status", FuncReadExceptionStatus, nil, "FC 7"},
	{"diagnostics", FuncDiagnostics, nil, "FC 8"},
	{"get_comm_event_counter", FuncGetCommEventCounter, nil, "FC 11"},
	{"get_comm_event_log", FuncGetCommEventLog, nil, "FC 12"},
	{"report_server_id", FuncReportServerID, nil, "FC 17"},
	{"read_file_record", FuncReadFileRecord, nil, "FC 20"},
	{"write_file_record", FuncWriteFileRecord, nil, "FC 21"},
	{"read_fifo_queue", FuncReadFIFOQueue, nil, "FC 24"},
	{"encapsulated_interface_transport", FuncEncapsulatedInterface, nil, "FC 43, any MEI type"},
	{"can_open_general_reference", FuncEncapsulatedInterface, mei(MEICANopenGeneralReference), "FC 43 / MEI 13"},
	{"read_device_identification", FuncEncapsulatedInterface, mei(MEIReadDeviceIdentification), "FC 43 / MEI 14"},
}

// AddressFunctions are the function codes covered by read and write rules;
// a `function:` rule must not name them.
var AddressFunctions = map[FunctionCode]string{
	FuncReadCoils:                  "read: coils",
	FuncReadDiscreteInputs:         "read: discrete_inputs",
	FuncReadHoldingRegisters:       "read: holding_registers",
	FuncReadInputRegisters:         "read: input_registers",
	FuncWriteSingleCoil:            "write: coils",
	FuncWriteMultipleCoils:         "write: coils",
	FuncWriteSingleRegister:        "write: holding_registers",
	FuncWriteMultipleRegisters:     "write: holding_registers",
	FuncMaskWriteRegister:          "write: holding_registers",
	FuncReadWriteMultipleRegisters: "read: and write: holding_registers",
}

// FunctionNames lists the names a `function:` rule accepts, sorted.
func FunctionNames() []string {
	names := make([]string, 0, len(namedFunctions))
	for _, f := range namedFunctions {
		names = append(names, f.Name)
	}
	sort.Strings(names)
	return names
}

// ParseFunctionRule parses the value of a `function:` rule: a name from
// FunctionNames or a decimal function code 1-127 without address semantics.
func ParseFunctionRule(s string) (Rule, error) {
	for _, f := range namedFunctions {
		if f.Name == s {
			return Rule{Access: AccessFunction, Function: f.Code, MEIType: f.MEIType}, nil
		}
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return Rule{}, fmt.Errorf("unknown Modbus function %q: use a code 1-127 or one of %s", s, strings.Join(FunctionNames(), ", "))
	}
	if n < 1 || n > 127 {
		return Rule{}, fmt.Errorf("Modbus function code %d is outside 1-127", n)
	}
	if use, ok := AddressFunctions[FunctionCode(n)]; ok {
		return Rule{}, fmt.Errorf("function code %d has addresses: allow it with a `%s` rule instead", n, use)
	}
	return Rule{Access: AccessFunction, Function: FunctionCode(n)}, nil
}

// FunctionRuleName gives the canonical spelling of a function rule.
func FunctionRuleName(r Rule) string {
	for _, f := range namedFunctions {
		if f.Code == r.Function && ((f.MEIType == nil && r.MEIType == nil) || (f.MEIType != nil && r.MEIType != nil && *f.MEIType == *r.MEIType)) {
			return f.Name
		}
	}
	return strconv.Itoa(int(r.Function))
}

// DiagSubFunction describes a diagnostics (FC 8) sub-function that a
// `sub_functions:` list may name.
type DiagSubFunction struct {
	Name string
	Code uint16
	// Disruptive sub-functions change the device's state (restart, listen
	// only, counters cleared, ASCII delimiter): a diagnostics rule allows
	// them only when it names them.
	Disruptive bool
	// OffBus sub-functions take the device off the bus until it is
	// restarted or power-cycled (restart communications, force listen
	// only mode).
	OffBus bool
}

// diagSubFunctions are the sub-functions of FC 8 defined for Modbus/TCP
// by the Modbus Application Protocol V1.1b3, section 6.8.1.
var diagSubFunctions = []DiagSubFunction{
	{"return_query_data", DiagReturnQueryData, false, false},
	{"restart_communications", DiagRestartCommunications, true, true},
	{"return_diagnostic_register", DiagReturnRegister, false, false},
	{"change_ascii_delimiter", DiagChangeASCIIDelimiter, true, false},
	{"force_listen_only", DiagForceListenOnly, true, true},
	{"clear_counters", DiagClearCounters, true, false},
	{"return_bus_message_count", 0x0B, false, false},
	{"return_bus_communication_error_count", 0x0C, false, false},
	{"return_bus_exception_error_count", 0x0D, false, false},
	{"return_server_message_count", 0x0E, false, false},
	{"return_server_no_response_count", 0x0F, false, false},
	{"return_server_nak_count", 0x10, false, false},
	{"return_server_busy_count", 0x11, false, false},
	{"return_bus_character_overrun_count", DiagReturnOverrunCount, false, false},
	{"clear_overrun_counter", DiagClearOverrun, true, false},
}

// DiagSubFunctions lists the named diagnostics sub-functions by code.
func DiagSubFunctions() []DiagSubFunction { return slices.Clone(diagSubFunctions) }

// DiagSubFunctionNames lists the names a `sub_functions:` list accepts,
// in the order of their codes.
func DiagSubFunctionNames() []string {
	out := make([]string, len(diagSubFunctions))
	for i, d := range diagSubFunctions {
		out[i] = d.Name
	}
	return out
}

// SafeDiagSubFunctions are the sub-functions a diagnostics rule without
// `sub_functions:` allows: the echo and the read-only counters and
// registers.
func SafeDiagSubFunctions() []uint16 {
	var out []uint16
	for _, d := range diagSubFunctions {
		if !d.Disruptive {
			out = append(out, d.Code)
		}
	}
	return out
}

// LookupDiagSubFunction returns the named sub-function with this code.
func LookupDiagSubFunction(code uint16) (DiagSubFunction, bool) {
	for _, d := range diagSubFunctions {
		if d.Code == code {
			return d, true
		}
	}
	return DiagSubFunction{}, false
}

// ParseDiagSubFunction parses one entry of a `sub_functions:` list: a name
// from DiagSubFunctionNames or a decimal number 0-65535.
func ParseDiagSubFunction(s string) (uint16, error) {
	for _, d := range diagSubFunctions {
		if d.Name == s {
			return d.Code, nil
		}
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("unknown diagnostics sub-function %q: use a number 0-65535 or one of %s", s, strings.Join(DiagSubFunctionNames(), ", "))
	}
	if n < 0 || n > 0xFFFF {
		return 0, fmt.Errorf("diagnostics sub-function %d is outside 0-65535", n)
	}
	return uint16(n), nil
}

// DiagSubFunctionName gives the canonical spelling of a sub-function: its
// name, or its decimal number when it has none.
func DiagSubFunctionName(code uint16) string {
	if d, ok := LookupDiagSubFunction(code); ok {
		return d.Name
	}
	return strconv.Itoa(int(code))
}
