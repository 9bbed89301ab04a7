package modbus

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"time"
)

// Policy is a compiled Spec: what one conduit allows. A Policy is immutable
// and safe for concurrent use; the proxy replaces it as a whole to change
// what is allowed.
//
// Semantics:
//
//   - Units: a request for a unit not in Spec.Units (when Units is not nil)
//     is denied with exception 01 (illegal function) and reason
//     unit_not_allowed. 01 rather than 0x0B because the proxy refuses the
//     request itself: 0x0B would claim a device timeout, invite retries and
//     send the engineer looking at the wrong device; the event's reason tells
//     the real cause without revealing which units exist.
//   - Address spans: a request is allowed if every address of its span is
//     covered by the union of the ranges of the rules that allow the
//     function on that table; two adjacent rules 0-9 and 10-19 allow a read
//     of 0-19. A function with no rule at all is denied with 01, a span not
//     (fully) covered with 02.
//   - Values: every register value written by FC 6, 16 and the write half of
//     FC 23 must lie in the values of a write rule covering that address (a
//     rule without values allows any value); otherwise 03.
//   - FC 22 (mask write register) writes (current AND and_mask) OR (or_mask
//     AND NOT and_mask); the current value is unknown to the proxy. The
//     result always lies between or_mask&^and_mask (all kept bits 0) and
//     that value | and_mask (all kept bits 1). The request is allowed if this
//     interval lies inside one allowed value range of the rules covering the
//     address, i.e. whatever the register holds, the result stays allowed.
//     With and_mask 0 this is an exact check of or_mask; with a rule without
//     values any mask is allowed. Otherwise 03 (mask_write_unverifiable).
//   - Function rules allow their function code; for FC 43 a rule may name
//     one MEI type. A diagnostics (FC 8) rule allows the sub-functions it
//     lists (Rule.SubFunctions) or, listing none, the non-disruptive ones
//     (SafeDiagSubFunctions: the echo and the read-only counters); other
//     sub-functions are denied with 01 (subfunction_not_allowed). User-defined codes (65-72, 100-110) are allowed only by
//     a numeric function rule. Reserved and unknown codes never pass.
//   - Rate: MaxRate is a token bucket per client connection (burst: one
//     second's worth, at least 1). Every request counts, allowed or not;
//     above the rate the request is denied with exception 06 (server device
//     busy, "retry later") and reason rate_limited.
//   - Sanity check failures are denials like any other (see ParseRequest).
//   - Monitor mode: Decide and Evaluate still report denials, with
//     Decision.Monitor set: the proxy forwards the request and reports the
//     would-be denial.
type Policy struct {
	mode    Mode
	onDeny  DenyAction
	maxRate float64

	anyUnit bool
	units   [4]uint64

	read  [5]spanSet // by Table
	write [5]spanSet // by Table

	funcs [256]bool // function rules without MEI restriction
	// diagSubs has bit n set when FC 8 sub-function n (< 32) is allowed;
	// every defined sub-function is below 32, and the sanity checks refuse
	// the others before the policy sees them.
	diagSubs    uint32
	respTimeout time.Duration
	meiAny      bool      // FC 43 allowed with any MEI type
	meiType     [256]bool // FC 43 allowed with these MEI types

	spec Spec
}

// segment is a run of addresses with the same allowed values.
type segment struct {
	lo, hi   uint16
	anyValue bool
	values   []Range // sorted, merged; used when !anyValue
}

// spanSet is a sorted list of disjoint segments.
type spanSet []segment

// Decision is the verdict on one request.
type Decision struct {
	Allowed   bool          // the policy allows the request
	Monitor   bool          // denied, but the policy is in monitor mode: forward it and report
	Exception ExceptionCode // for denials: the exception to answer with
	Reason    Reason        // for denials: why
}

// Forward reports whether the proxy forwards the request: it is allowed, or
// the policy only monitors.
func (d Decision) Forward() bool { return d.Allowed || d.Monitor }

// Compile checks a Spec and compiles it into a Policy. Errors name the
// offending rule and say how to fix it.
func Compile(spec Spec) (*Policy, error) {
	p := &Policy{mode: spec.Mode, onDeny: spec.OnDeny, maxRate: spec.MaxRate}
	if spec.Mode != ModeEnforce && spec.Mode != ModeMonitor {
		return nil, fmt.Errorf("modbus policy: mode %d is unknown: use enforce or monitor", spec.Mode)
	}
	if spec.OnDeny != DenyException && spec.OnDeny != DenyReset {
		return nil, fmt.Errorf("modbus policy: on_deny %d is unknown: use exception or reset", spec.OnDeny)
	}
	if spec.MaxRate < 0 || math.IsNaN(spec.MaxRate) || math.IsInf(spec.MaxRate, 0) {
		return nil, fmt.Errorf("modbus policy: max_rate %v is invalid: use a positive number of requests per second, or 0 for no limit", spec.MaxRate)
	}
	if spec.ResponseTimeout < 0 || spec.ResponseTimeout > MaxResponseTimeout {
		return nil, fmt.Errorf("modbus policy: response_timeout %v is invalid: use a duration above 0 and at most %v, or 0 for the proxy's default", spec.ResponseTimeout, MaxResponseTimeout)
	}
	p.respTimeout = spec.ResponseTimeout
	if err := checkDevice(spec); err != nil {
		return nil, err
	}
	p.anyUnit = spec.Units == nil
	for _, u := range spec.Units {
		p.units[u/64] |= 1 << (u % 64)
	}
	var reads, writes [5][]Rule
	var errs []error
	for i, r := range spec.Rules {
		if err := checkRule(r); err != nil {
			errs = append(errs, fmt.Errorf("modbus policy: rule %d (%s): %w", i+1, r.Access, err))
			continue
		}
		switch r.Access {
		case AccessRead:
			reads[r.Table] = append(reads[r.Table], r)
		case AccessWrite:
			writes[r.Table] = append(writes[r.Table], r)
		case AccessFunction:
			switch {
			case r.Function == FuncDiagnostics:
				p.funcs[r.Function] = true
				subs := r.SubFunctions
				if subs == nil {
					subs = SafeDiagSubFunctions()
				}
				for _, sf := range subs {
					if sf < 32 {
						p.diagSubs |= 1 << sf
					}
				}
			case r.Function != FuncEncapsulatedInterface:
				p.funcs[r.Function] = true
			case r.MEIType == nil:
				p.meiAny = true
			default:
				p.meiType[*r.MEIType] = true
			}
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	for t := range reads {
		p.read[t] = buildSpanSet(reads[t])
		p.write[t] = buildSpanSet(writes[t])
	}
	p.spec = cloneSpec(spec)
	return p, nil
}

func checkRule(r Rule) error {
	switch r.Access {
	case AccessRead, AccessWrite:
		if r.Table < Coils || r.Table > InputRegisters {
			return fmt.Errorf("table %d is unknown: use one of coils, discrete_inputs, holding_registers, input_registers", r.Table)
		}
		if r.Addresses.Lo > r.Addresses.Hi {
			return fmt.Errorf("address range %d-%d is inverted: write the lower end first", r.Addresses.Lo, r.Addresses.Hi)
		}
		if r.Access == AccessWrite && !r.Table.Writable() {
			return fmt.Errorf("table %s is read-only: only coils and holding_registers can be written", r.Table)
		}
		if r.Values != nil {
			if r.Access != AccessWrite || r.Table != HoldingRegisters {
				return errors.New("values apply only to `write: holding_registers` rules: remove them")
			}
			if r.Values.Lo > r.Values.Hi {
				return fmt.Errorf("value range %d-%d is inverted: write the lower end first", r.Values.Lo, r.Values.Hi)
			}
		}
		if r.MEIType != nil {
			return errors.New("mei type applies only to function rules for FC 43")
		}
		if r.SubFunctions != nil {
			return errors.New("sub-functions apply only to `function: diagnostics` rules: remove them")
		}
	case AccessFunction:
		fc := r.Function
		if use, ok := AddressFunctions[fc]; ok {
			return fmt.Errorf("function code %d has addresses: allow it with a `%s` rule instead", fc, use)
		}
		if fc == 0 || fc >= 0x80 || !KnownFunction(fc) {
			return fmt.Errorf("function code %d is reserved or not defined by the Modbus specification and is always refused: remove the rule (user-defined codes are 65-72 and 100-110)", fc)
		}
		if r.MEIType != nil {
			if fc != FuncEncapsulatedInterface {
				return fmt.Errorf("an MEI type applies only to function 43, not %d", fc)
			}
			if m := *r.MEIType; m != MEICANopenGeneralReference && m != MEIReadDeviceIdentification {
				return fmt.Errorf("MEI type %d is not defined: use 13 (CANopen general reference) or 14 (read device identification)", m)
			}
		}
		if r.Values != nil {
			return errors.New("values apply only to `write: holding_registers` rules: remove them")
		}
		if r.SubFunctions != nil && fc != FuncDiagnostics {
			return fmt.Errorf("sub-functions apply only to function 8 (diagnostics), not %d: remove them", fc)
		}
	default:
		return fmt.Errorf("access %d is unknown: use read, write or function", r.Access)
	}
	return nil
}

// buildSpanSet turns rules of one access and table into disjoint segments.
func buildSpanSet(rules []Rule) spanSet {
	if len(rules) == 0 {
		return nil
	}
	// Elementary intervals between all range boundaries.
	var cuts []int
	for _, r := range rules {
		cuts = append(cuts, int(r.Addresses.Lo), int(r.Addresses.Hi)+1)
	}
	sort.Ints(cuts)
	cuts = slices.Compact(cuts)
	var set spanSet
	for i := 0; i+1 < len(cuts); i++ {
		lo, hi := cuts[i], cuts[i+1]-1
		seg := segment{lo: uint16(lo), hi: uint16(hi)}
		covered := false
		for _, r := range rules {
			if int(r.Addresses.Lo) > lo || int(r.Addresses.Hi) < hi {
				continue
			}
			covered = true
			if r.Values == nil {
				seg.anyValue = true
			} else {
				seg.values = append(seg.values, *r.Values)
			}
		}
		if !covered {
			continue
		}
		if seg.anyValue {
			seg.values = nil
		} else {
			seg.values = mergeRanges(seg.values)
		}
		if n := len(set); n > 0 && int(set[n-1].hi)+1 == lo && set[n-1].anyValue == seg.anyValue && slices.Equal(set[n-1].values, seg.values) {
			set[n-1].hi = seg.hi
			continue
		}
		set = append(set, seg)
	}
	return set
}

// mergeRanges sorts ranges and merges overlapping and adjacent ones.
func mergeRanges(rs []Range) []Range {
	slices.SortFunc(rs, func(a, b Range) int { return int(a.Lo) - int(b.Lo) })
	out := rs[:0]
	for _, r := range rs {
		if n := len(out); n > 0 && int(r.Lo) <= int(out[n-1].Hi)+1 {
			if r.Hi > out[n-1].Hi {
				out[n-1].Hi = r.Hi
			}
			continue
		}
		out = append(out, r)
	}
	return out
}

// find returns the index of the segment containing addr, or -1.
func (s spanSet) find(addr uint16) int {
	i := sort.Search(len(s), func(i int) bool { return s[i].hi >= addr })
	if i < len(s) && s[i].lo <= addr {
		return i
	}
	return -1
}

// covers reports whether the n addresses from first are all covered.
func (s spanSet) covers(first uint16, n uint16) bool {
	i := s.find(first)
	if i < 0 || n == 0 {
		return false
	}
	last := int(first) + int(n) - 1
	for ; i < len(s); i++ {
		if int(s[i].hi) >= last {
			return true
		}
		if i+1 < len(s) && s[i+1].lo != s[i].hi+1 {
			return false
		}
	}
	return false
}

// valueOK reports whether v is an allowed value in segment g.
func (g *segment) valueOK(v uint16) bool {
	if g.anyValue {
		return true
	}
	for _, r := range g.values {
		if v >= r.Lo && v <= r.Hi {
			return true
		}
	}
	return false
}

// intervalOK reports whether [lo, hi] lies inside one allowed value range.
func (g *segment) intervalOK(lo, hi uint16) bool {
	if g.anyValue {
		return true
	}
	for _, r := range g.values {
		if lo >= r.Lo && hi <= r.Hi {
			return true
		}
	}
	return false
}

// Mode returns the policy's mode.
func (p *Policy) Mode() Mode { return p.mode }

// OnDeny returns what the proxy does with denied requests in enforce mode.
func (p *Policy) OnDeny() DenyAction { return p.onDeny }

// MaxRate returns the allowed requests per second per client connection (0:
// no limit).
func (p *Policy) MaxRate() float64 { return p.maxRate }

// checkDevice checks the device settings of a spec.
func checkDevice(spec Spec) error {
	switch {
	case spec.MaxDeviceConns < 0 || spec.MaxDeviceConns > MaxDeviceConns:
		return fmt.Errorf("modbus policy: max_device_connections %d is invalid: use 1 to %d, or 0 for the proxy's default (1)", spec.MaxDeviceConns, MaxDeviceConns)
	case spec.MaxInFlight < 0 || spec.MaxInFlight > MaxInFlight:
		return fmt.Errorf("modbus policy: max_in_flight %d is invalid: use 1 to %d, or 0 for the proxy's default", spec.MaxInFlight, MaxInFlight)
	case spec.DeviceIdleTimeout != 0 && (spec.DeviceIdleTimeout < MinDeviceIdleTimeout || spec.DeviceIdleTimeout > MaxDeviceIdleTimeout):
		return fmt.Errorf("modbus policy: device_idle_timeout %v is invalid: use %v to %v, or 0 for the proxy's default", spec.DeviceIdleTimeout, MinDeviceIdleTimeout, MaxDeviceIdleTimeout)
	case spec.RedialAfterTimeouts < 0 || spec.RedialAfterTimeouts > MaxRedialAfter:
		return fmt.Errorf("modbus policy: redial_after_timeouts %d is invalid: use 1 to %d, or 0 for the proxy's default (2)", spec.RedialAfterTimeouts, MaxRedialAfter)
	case spec.FrameTimeout != 0 && (spec.FrameTimeout < MinFrameTimeout || spec.FrameTimeout > MaxFrameTimeout):
		return fmt.Errorf("modbus policy: frame_timeout %v is invalid: use %v to %v, or 0 for the proxy's default", spec.FrameTimeout, MinFrameTimeout, MaxFrameTimeout)
	}
	return nil
}

// Device returns the device settings of the conduit (Spec's
// MaxDeviceConns, MaxInFlight, DeviceIdleTimeout, RedialAfterTimeouts;
// 0: the proxy's default).
func (p *Policy) Device() (maxConns, maxInFlight int, idle time.Duration, redialAfter int) {
	return p.spec.MaxDeviceConns, p.spec.MaxInFlight, p.spec.DeviceIdleTimeout, p.spec.RedialAfterTimeouts
}

// FrameTimeout returns how long a device's partial answer may make no
// progress before the device connection is closed (Spec.FrameTimeout;
// 0: the proxy's default).
func (p *Policy) FrameTimeout() time.Duration { return p.spec.FrameTimeout }

// ResponseTimeout returns how long the device has to answer a forwarded
// request (Spec.ResponseTimeout); 0: the proxy's default.
func (p *Policy) ResponseTimeout() time.Duration { return p.respTimeout }

// Spec returns a copy of the Spec the policy was compiled from.
func (p *Policy) Spec() Spec { return cloneSpec(p.spec) }

func cloneSpec(s Spec) Spec {
	if s.Units != nil {
		s.Units = slices.Clone(s.Units)
	}
	rules := make([]Rule, len(s.Rules))
	for i, r := range s.Rules {
		if r.Values != nil {
			v := *r.Values
			r.Values = &v
		}
		if r.MEIType != nil {
			m := *r.MEIType
			r.MEIType = &m
		}
		if r.SubFunctions != nil {
			r.SubFunctions = slices.Clone(r.SubFunctions)
		}
		rules[i] = r
	}
	s.Rules = rules
	return s
}

func (p *Policy) deny(reason Reason, ex ExceptionCode) Decision {
	return Decision{Monitor: p.mode == ModeMonitor, Exception: ex, Reason: reason}
}

func (p *Policy) denyCheck(e *CheckError) Decision { return p.deny(e.Reason, e.Exception) }

var allowed = Decision{Allowed: true}

// Evaluate is the whole per-request check: it parses and sanity-checks frame
// f into req, applies the rate limit lim (nil: none) at time now, and
// decides. It does not allocate.
func (p *Policy) Evaluate(f Frame, req *Request, lim *RateLimiter, now time.Time) Decision {
	err := ParseRequest(f, req)
	if lim != nil && p.maxRate > 0 && !lim.Allow(now, p.maxRate) {
		return p.deny(ReasonRateLimited, ExServerDeviceBusy)
	}
	if err != nil {
		return p.denyCheck(err.(*CheckError))
	}
	return p.Decide(req)
}

// Decide applies the policy's rules to a request that passed ParseRequest.
// It does not check the rate; see Evaluate.
func (p *Policy) Decide(req *Request) Decision {
	if !p.anyUnit && p.units[req.Unit/64]&(1<<(req.Unit%64)) == 0 {
		return p.deny(ReasonUnitNotAllowed, ExIllegalFunction)
	}
	switch fc := req.Function; fc {
	case FuncReadCoils, FuncReadDiscreteInputs, FuncReadHoldingRegisters, FuncReadInputRegisters:
		return p.span(p.read[req.Table()], req.Address, req.Quantity)
	case FuncWriteSingleCoil, FuncWriteMultipleCoils:
		return p.span(p.write[Coils], req.WriteAddress, req.WriteQuantity)
	case FuncWriteSingleRegister, FuncWriteMultipleRegisters:
		return p.registers(req)
	case FuncMaskWriteRegister:
		s := p.write[HoldingRegisters]
		if d := p.span(s, req.WriteAddress, 1); !d.Allowed {
			return d
		}
		lo := req.OrMask &^ req.AndMask
		if !s[s.find(req.WriteAddress)].intervalOK(lo, lo|req.AndMask) {
			return p.deny(ReasonMaskWriteDenied, ExIllegalDataValue)
		}
		return allowed
	case FuncReadWriteMultipleRegisters:
		if len(p.read[HoldingRegisters]) == 0 || len(p.write[HoldingRegisters]) == 0 {
			return p.deny(ReasonFunctionDenied, ExIllegalFunction)
		}
		if d := p.span(p.read[HoldingRegisters], req.Address, req.Quantity); !d.Allowed {
			return d
		}
		return p.registers(req)
	case FuncEncapsulatedInterface:
		if p.meiAny || p.meiType[req.MEIType] {
			return allowed
		}
	case FuncDiagnostics:
		if !p.funcs[fc] {
			break
		}
		if req.SubFunction < 32 && p.diagSubs&(1<<req.SubFunction) != 0 {
			return allowed
		}
		return p.deny(ReasonDiagSubFunction, ExIllegalFunction)
	default:
		if p.funcs[fc] {
			return allowed
		}
	}
	return p.deny(ReasonFunctionDenied, ExIllegalFunction)
}

// span checks that a table's rules exist and cover a span.
func (p *Policy) span(s spanSet, addr, n uint16) Decision {
	if len(s) == 0 {
		return p.deny(ReasonFunctionDenied, ExIllegalFunction)
	}
	if !s.covers(addr, n) {
		return p.deny(ReasonAddressDenied, ExIllegalDataAddress)
	}
	return allowed
}

// registers checks the write span and every written register value.
func (p *Policy) registers(req *Request) Decision {
	s := p.write[HoldingRegisters]
	if d := p.span(s, req.WriteAddress, req.WriteQuantity); !d.Allowed {
		return d
	}
	i := s.find(req.WriteAddress)
	for k := 0; k < int(req.WriteQuantity); k++ {
		addr := req.WriteAddress + uint16(k)
		if addr > s[i].hi {
			i++ // covered spans are contiguous: the next segment follows
		}
		if !s[i].valueOK(req.Register(k)) {
			return p.deny(ReasonValueDenied, ExIllegalDataValue)
		}
	}
	return allowed
}

// RateLimiter is a token bucket for one client connection. The zero value
// is ready to use and starts full. Time is passed in, so tests control it.
// It is not safe for concurrent use.
type RateLimiter struct {
	tokens float64
	last   time.Time
}

// Allow takes one token at time now from a bucket filling at rate tokens
// per second and holding max(rate, 1) tokens; it reports whether a token
// was there. The rate is passed in so a policy swap takes effect at once.
func (l *RateLimiter) Allow(now time.Time, rate float64) bool {
	burst := math.Max(rate, 1)
	if l.last.IsZero() {
		l.tokens = burst
		l.last = now
	} else if dt := now.Sub(l.last); dt > 0 {
		l.tokens = math.Min(burst, l.tokens+dt.Seconds()*rate)
		l.last = now
	}
	if l.tokens > burst {
		l.tokens = burst
	}
	if l.tokens >= 1 {
		l.tokens--
		return true
	}
	return false
}
