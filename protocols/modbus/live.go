package modbus

// DenyAll returns the policy that denies every request: what a connection
// gets when its conduit has no policy any more (fail closed).
func DenyAll() *Policy { return denyAll }

// denyAll is built directly rather than compiled, so there is no error to
// ignore: enforce mode, exception answers, no unit allowed (anyUnit false,
// no unit bit set) and no rule, which is what Compile(Spec{Units:
// []uint8{}}) returns.
var denyAll = &Policy{mode: ModeEnforce, onDeny: DenyException, spec: Spec{Units: []uint8{}, Rules: []Rule{}}}
