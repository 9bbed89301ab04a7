// Package seamtest proves the protocol seam of the zone model: its test
// registers a toy inspected protocol (package protocols/registry; its rules
// block, no inspector) and shows that its rules block is read with
// FILE:LINE:COLUMN errors, checked, linted, written in canonical form,
// hashed, diffed, drawn and reported through the protocol alone, with no
// line of package zone or zonedoc about it. It is a
// package of its own so that the toy protocol is registered in no other
// test binary.
package seamtest
