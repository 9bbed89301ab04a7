package modbus

import (
	"bytes"
	"slices"
	"testing"
)

type checkCase struct {
	name string
	pdu  []byte
	want *CheckError // nil: valid
}

func checkCases() []checkCase {
	ok := (*CheckError)(nil)
	var cs []checkCase
	add := func(name string, p []byte, want *CheckError) { cs = append(cs, checkCase{name, p, want}) }

	// FC 1-4: reads.
	for _, r := range []struct {
		fc  byte
		max uint16
	}{{1, 2000}, {2, 2000}, {3, 125}, {4, 125}} {
		fc := string(rune('0' + r.fc))
		add("fc"+fc+" ok", pdu(r.fc, 0, 1), ok)
		add("fc"+fc+" max quantity", pdu(r.fc, 100, r.max), ok)
		add("fc"+fc+" quantity 0", pdu(r.fc, 0, 0), errQuantity)
		add("fc"+fc+" quantity above max", pdu(r.fc, 0, r.max+1), errQuantity)
		add("fc"+fc+" quantity 0xFFFF", pdu(r.fc, 0, 0xFFFF), errQuantity)
		add("fc"+fc+" last address", pdu(r.fc, 0xFFFF, 1), ok)
		add("fc"+fc+" span ends at 65535", pdu(r.fc, uint16(0x10000-int(r.max)), r.max), ok)
		add("fc"+fc+" span overflows", pdu(r.fc, 0xFFFF, 2), errOverflow)
		add("fc"+fc+" pdu too long", cat(pdu(r.fc, 0, 1), []byte{0}), errLength)
		add("fc"+fc+" pdu too short", pdu(r.fc, 0), errLength)
		add("fc"+fc+" function code only", pdu(r.fc), errLength)
	}
	// FC 5.
	add("fc5 on", pdu(5, 7, 0xFF00), ok)
	add("fc5 off", pdu(5, 7, 0x0000), ok)
	add("fc5 value 0x0001", pdu(5, 7, 0x0001), errCoilValue)
	add("fc5 value 0x00FF", pdu(5, 7, 0x00FF), errCoilValue)
	add("fc5 value 0xFFFF", pdu(5, 7, 0xFFFF), errCoilValue)
	add("fc5 too long", cat(pdu(5, 7, 0xFF00), []byte{0}), errLength)
	add("fc5 too short", pdu(5, 7), errLength)
	// FC 6.
	add("fc6 ok", pdu(6, 65535, 0xFFFF), ok)
	add("fc6 too short", cat(pdu(6, 1), []byte{0}), errLength)
	add("fc6 too long", pdu(6, 1, 2, 3), errLength)
	// Functions without data.
	for _, fc := range []byte{7, 11, 12, 17} {
		name := "fc" + string(rune('0'+fc/10)) + string(rune('0'+fc%10))
		add(name+" ok", pdu(fc), ok)
		add(name+" with data", []byte{fc, 0}, errLength)
	}
	// FC 8 diagnostics.
	add("fc8 return query data", pdu(8, 0x00, 0x1234, 0x5678), ok)
	add("fc8 return query data, no data", pdu(8, 0x00), ok)
	add("fc8 no sub-function", []byte{8, 0}, errLength)
	add("fc8 restart 0x0000", pdu(8, 0x01, 0x0000), ok)
	add("fc8 restart clear log 0xFF00", pdu(8, 0x01, 0xFF00), ok)
	add("fc8 restart bad data", pdu(8, 0x01, 0x1234), errDiagData)
	add("fc8 restart no data", pdu(8, 0x01), errLength)
	add("fc8 diagnostic register", pdu(8, 0x02, 0), ok)
	add("fc8 diagnostic register bad data", pdu(8, 0x02, 1), errDiagData)
	add("fc8 ascii delimiter", pdu(8, 0x03, 0x0A00), ok)
	add("fc8 ascii delimiter low byte", pdu(8, 0x03, 0x0A01), errDiagData)
	add("fc8 listen only", pdu(8, 0x04, 0), ok)
	add("fc8 listen only too long", pdu(8, 0x04, 0, 0), errLength)
	for sf := uint16(0x0A); sf <= 0x12; sf++ {
		add("fc8 counter sub-function "+string(rune('a'+sf-0x0A)), pdu(8, sf, 0), ok)
		add("fc8 counter sub-function bad data "+string(rune('a'+sf-0x0A)), pdu(8, sf, 0x0100), errDiagData)
	}
	add("fc8 clear overrun", pdu(8, 0x14, 0), ok)
	for _, sf := range []uint16{0x05, 0x06, 0x09, 0x13, 0x15, 0x16, 0xFFFF} {
		add("fc8 undefined sub-function", pdu(8, sf, 0), errSubFunction)
	}
	// FC 15.
	add("fc15 ok 10 coils", wrCoils(20, 10, 0xFF, 0x03), ok)
	add("fc15 ok 8 coils", wrCoils(20, 8, 0xAA), ok)
	add("fc15 max 1968 coils", wrCoils(0, 1968, make([]byte, 246)...), ok)
	add("fc15 1969 coils", wrCoils(0, 1969, make([]byte, 247)...), errQuantity)
	add("fc15 0 coils", wrCoils(0, 0), errQuantity)
	add("fc15 byte count too small", wrCoils(0, 9, 0xFF), errByteCount)
	add("fc15 byte count too large", wrCoils(0, 8, 0xFF, 0), errByteCount)
	add("fc15 data shorter than byte count", cat(pdu(15, 0, 16), []byte{2, 0xFF}), errLength)
	add("fc15 data longer than byte count", cat(pdu(15, 0, 8), []byte{1, 0xFF, 0}), errLength)
	add("fc15 overflow", wrCoils(0xFFFF, 2, 0x03), errOverflow)
	add("fc15 header short", pdu(15, 0, 8), errLength)
	// FC 16.
	add("fc16 ok", wrRegs(10, 1, 2, 3), ok)
	add("fc16 max 123", wrRegs(0, make([]uint16, 123)...), ok)
	add("fc16 124 registers", cat(pdu(16, 0, 124), []byte{248}, make([]byte, 248)[:246]), errQuantity)
	add("fc16 0 registers", cat(pdu(16, 0, 0), []byte{0}), errQuantity)
	add("fc16 byte count mismatch", cat(pdu(16, 0, 2), []byte{3}, be(1, 2)), errByteCount)
	add("fc16 data short", cat(pdu(16, 0, 2), []byte{4}, be(1)), errLength)
	add("fc16 data long", cat(pdu(16, 0, 1), []byte{2}, be(1, 2)), errLength)
	add("fc16 overflow", wrRegs(0xFFFE, 1, 2, 3), errOverflow)
	add("fc16 no byte count", pdu(16, 0, 1), errLength)
	// FC 20 read file record.
	sub := func(ref byte, file, rec, n uint16) []byte { return cat([]byte{ref}, be(file, rec, n)) }
	add("fc20 one sub-request", cat([]byte{20, 7}, sub(6, 1, 0, 10)), ok)
	add("fc20 two sub-requests", cat([]byte{20, 14}, sub(6, 4, 1, 2), sub(6, 3, 9, 2)), ok)
	add("fc20 largest response", cat([]byte{20, 7}, sub(6, 1, 0, 124)), ok)
	add("fc20 response too long", cat([]byte{20, 7}, sub(6, 1, 0, 125)), errFileRecordLen)
	add("fc20 byte count not 7n", cat([]byte{20, 8}, sub(6, 1, 0, 1), []byte{0}), errByteCount)
	add("fc20 byte count 0", []byte{20, 0}, errByteCount)
	add("fc20 byte count above 0xF5", cat([]byte{20, 0xF6}, make([]byte, 0xF6)), errByteCount)
	add("fc20 reference type 5", cat([]byte{20, 7}, sub(5, 1, 0, 1)), errFileReference)
	add("fc20 file 0", cat([]byte{20, 7}, sub(6, 0, 0, 1)), errFileReference)
	add("fc20 record 10000", cat([]byte{20, 7}, sub(6, 1, 10000, 1)), errFileReference)
	add("fc20 last record", cat([]byte{20, 7}, sub(6, 1, 9999, 1)), ok)
	add("fc20 records beyond 9999", cat([]byte{20, 7}, sub(6, 1, 9999, 2)), errFileReference)
	add("fc20 record length 0", cat([]byte{20, 7}, sub(6, 1, 0, 0)), errFileRecordLen)
	add("fc20 length mismatch", cat([]byte{20, 14}, sub(6, 1, 0, 1)), errLength)
	add("fc20 no byte count", []byte{20}, errLength)
	// FC 21 write file record.
	add("fc21 one sub-request", cat([]byte{21, 11}, sub(6, 1, 0, 2), be(0xAAAA, 0xBBBB)), ok)
	add("fc21 two sub-requests", cat([]byte{21, 20}, sub(6, 1, 0, 1), be(1), sub(6, 2, 5, 2), be(2, 3)), ok)
	add("fc21 byte count below 9", cat([]byte{21, 7}, sub(6, 1, 0, 0)), errByteCount)
	add("fc21 record data short", cat([]byte{21, 11}, sub(6, 1, 0, 3), be(1, 2)), errByteCount)
	add("fc21 trailing partial sub-request", cat([]byte{21, 12}, sub(6, 1, 0, 2), be(1, 2), []byte{6}), errByteCount)
	add("fc21 reference type 0", cat([]byte{21, 9}, sub(0, 1, 0, 1), be(1)), errFileReference)
	add("fc21 record length 0", cat([]byte{21, 9}, sub(6, 1, 0, 0), be(1)), errFileRecordLen)
	add("fc21 length mismatch", cat([]byte{21, 9}, sub(6, 1, 0, 1), be(1), []byte{0}), errLength)
	// FC 22.
	add("fc22 ok", pdu(22, 4, 0xF2, 0x25), ok)
	add("fc22 short", pdu(22, 4, 0xF2), errLength)
	add("fc22 long", pdu(22, 4, 0xF2, 0x25, 0), errLength)
	// FC 23.
	add("fc23 ok", rwRegs(0, 10, 20, 1, 2), ok)
	add("fc23 max", rwRegs(0, 125, 20, make([]uint16, 121)...), ok)
	add("fc23 read 0", rwRegs(0, 0, 20, 1), errQuantity)
	add("fc23 read 126", rwRegs(0, 126, 20, 1), errQuantity)
	add("fc23 write 122", cat(pdu(23, 0, 1, 0, 122), []byte{244}, make([]byte, 242)), errQuantity)
	add("fc23 write 0", cat(pdu(23, 0, 1, 0, 0), []byte{0}), errQuantity)
	add("fc23 byte count mismatch", cat(pdu(23, 0, 1, 0, 2), []byte{2}, be(1, 2)), errByteCount)
	add("fc23 data short", cat(pdu(23, 0, 1, 0, 2), []byte{4}, be(1)), errLength)
	add("fc23 read overflow", rwRegs(0xFFFF, 2, 0, 1), errOverflow)
	add("fc23 write overflow", rwRegs(0, 1, 0xFFFF, 1, 2), errOverflow)
	add("fc23 header short", pdu(23, 0, 1, 0, 1), errLength)
	// FC 24.
	add("fc24 ok", pdu(24, 0x04DE), ok)
	add("fc24 long", pdu(24, 0x04DE, 0), errLength)
	add("fc24 short", []byte{24, 4}, errLength)
	// FC 43.
	add("fc43/14 basic", []byte{43, 14, 1, 0}, ok)
	add("fc43/14 basic last object", []byte{43, 14, 1, 2}, ok)
	add("fc43/14 basic object 3", []byte{43, 14, 1, 3}, errObjectID)
	add("fc43/14 regular", []byte{43, 14, 2, 0x7F}, ok)
	add("fc43/14 regular object 0x80", []byte{43, 14, 2, 0x80}, errObjectID)
	add("fc43/14 extended", []byte{43, 14, 3, 0xFF}, ok)
	add("fc43/14 individual", []byte{43, 14, 4, 0x85}, ok)
	add("fc43/14 code 0", []byte{43, 14, 0, 0}, errDeviceIDCode)
	add("fc43/14 code 5", []byte{43, 14, 5, 0}, errDeviceIDCode)
	add("fc43/14 too long", []byte{43, 14, 1, 0, 0}, errLength)
	add("fc43/14 too short", []byte{43, 14, 1}, errLength)
	add("fc43/13 canopen", []byte{43, 13, 1, 2, 3, 4}, ok)
	add("fc43/13 canopen no data", []byte{43, 13}, ok)
	add("fc43 mei 15", []byte{43, 15, 1, 0}, errMEIType)
	add("fc43 mei 0", []byte{43, 0}, errMEIType)
	add("fc43 no mei type", []byte{43}, errLength)
	// Function codes.
	add("fc0", []byte{0, 1, 2}, errFuncInvalid)
	for _, fc := range []byte{0x80, 0x81, 0x83, 0x90, 0xFF} {
		add("exception function code in request", []byte{fc, 0, 0, 0, 1}, errFuncInvalid)
	}
	for _, fc := range []byte{9, 10, 13, 14, 41, 42, 90, 91, 125, 126, 127} {
		add("reserved function code", []byte{fc, 0, 0}, errFuncUnknown)
	}
	for _, fc := range []byte{18, 19, 25, 40, 44, 64, 73, 99, 111, 124} {
		add("unassigned function code", []byte{fc, 0, 0}, errFuncUnknown)
	}
	for _, fc := range []byte{65, 66, 72, 100, 105, 110} {
		add("user-defined function code", []byte{fc, 1, 2, 3}, ok)
		add("user-defined function code, no data", []byte{fc}, ok)
	}
	return cs
}

func TestParseRequestSanity(t *testing.T) {
	seen := map[string]bool{}
	for _, tc := range checkCases() {
		name := tc.name
		for i := 2; seen[name]; i++ {
			name = tc.name + "#" + string(rune('0'+i))
		}
		seen[name] = true
		t.Run(name, func(t *testing.T) {
			if len(tc.pdu) > MaxPDULen {
				t.Fatalf("test PDU of %d bytes does not fit a frame", len(tc.pdu))
			}
			f := Frame(adu(0x4242, 17, tc.pdu))
			var req Request
			err := ParseRequest(f, &req)
			if tc.want == nil {
				noErr(t, err)
				equal(t, true, req.Valid())
			} else {
				must(t, error(tc.want), err)
				equal(t, false, req.Valid())
				if tc.want.Exception < ExIllegalFunction || tc.want.Exception > ExIllegalDataValue {
					t.Errorf("sanity failure answered with exception %v, want 01-03", tc.want.Exception)
				}
			}
			equal(t, uint16(0x4242), req.TransactionID)
			equal(t, uint8(17), req.Unit)
			equal(t, FunctionCode(tc.pdu[0]), req.Function)
		})
	}
}

func TestKnownFunctions(t *testing.T) {
	public := []int{1, 2, 3, 4, 5, 6, 7, 8, 11, 12, 15, 16, 17, 20, 21, 22, 23, 24, 43}
	for fc := 0; fc < 256; fc++ {
		user := fc >= 65 && fc <= 72 || fc >= 100 && fc <= 110
		want := slices.Contains(public, fc) || user
		equal(t, want, KnownFunction(FunctionCode(fc)), "KnownFunction(", fc, ")")
		equal(t, user, UserDefinedFunction(FunctionCode(fc)), "UserDefinedFunction(", fc, ")")
	}
}

func TestParseRequestFields(t *testing.T) {
	parse := func(p []byte) *Request {
		t.Helper()
		var r Request
		noErr(t, ParseRequest(Frame(adu(1, 2, p)), &r))
		return &r
	}
	type pair struct{ A, V uint16 }
	values := func(r *Request) []pair {
		var out []pair
		for a, v := range r.Values() {
			out = append(out, pair{a, v})
		}
		return out
	}

	r := parse(pdu(3, 100, 20))
	equal(t, HoldingRegisters, r.Table())
	equal(t, [2]uint16{100, 20}, [2]uint16{r.Address, r.Quantity})
	equal(t, false, r.IsWrite())
	equal(t, []pair(nil), values(r))

	r = parse(pdu(2, 7, 9))
	equal(t, DiscreteInputs, r.Table())

	r = parse(pdu(6, 11, 999))
	equal(t, [4]uint16{11, 1, 11, 1}, [4]uint16{r.Address, r.Quantity, r.WriteAddress, r.WriteQuantity})
	equal(t, true, r.IsWrite())
	equal(t, []pair{{11, 999}}, values(r))

	r = parse(wrRegs(40, 7, 8, 9))
	equal(t, uint16(8), r.Register(1))
	equal(t, []pair{{40, 7}, {41, 8}, {42, 9}}, values(r))

	r = parse(pdu(5, 3, 0xFF00))
	equal(t, Coils, r.Table())
	equal(t, true, r.Coil(0))
	equal(t, []pair{{3, 1}}, values(r))

	r = parse(wrCoils(20, 10, 0b1100_1101, 0b01))
	equal(t, []pair{{20, 1}, {21, 0}, {22, 1}, {23, 1}, {24, 0}, {25, 0}, {26, 1}, {27, 1}, {28, 1}, {29, 0}}, values(r))

	r = parse(rwRegs(1, 2, 30, 5, 6))
	equal(t, [4]uint16{1, 2, 30, 2}, [4]uint16{r.Address, r.Quantity, r.WriteAddress, r.WriteQuantity})
	equal(t, []pair{{30, 5}, {31, 6}}, values(r))
	equal(t, true, r.WritesRegisters())

	r = parse(pdu(22, 4, 0xF2, 0x25))
	equal(t, [3]uint16{4, 0xF2, 0x25}, [3]uint16{r.WriteAddress, r.AndMask, r.OrMask})
	equal(t, []pair(nil), values(r))

	r = parse(pdu(8, 0x0B, 0))
	equal(t, uint16(0x0B), r.SubFunction)

	r = parse([]byte{43, 14, 4, 0x81})
	equal(t, [3]uint8{14, 4, 0x81}, [3]uint8{r.MEIType, r.DeviceIDCode, r.ObjectID})

	r = parse(cat([]byte{21, 9}, []byte{6}, be(1, 0, 1), be(7)))
	equal(t, true, r.IsWrite())
	equal(t, Table(0), r.Table())
}

func TestParseRequestBadFrame(t *testing.T) {
	var r Request
	good := adu(1, 1, pdu(3, 0, 1))
	for name, f := range map[string][]byte{
		"length field lies": append(bytes.Clone(good), 0),
		"protocol id":       append([]byte{0, 1, 0, 1}, good[4:]...),
		"short":             good[:7],
		"empty":             nil,
	} {
		equal(t, error(errBadFrame), ParseRequest(Frame(f), &r), name)
	}
}

func TestParseRequestDoesNotAllocate(t *testing.T) {
	frames := [][]byte{
		adu(1, 1, pdu(3, 0, 10)),
		adu(1, 1, wrRegs(0, 1, 2, 3, 4)),
		adu(1, 1, rwRegs(0, 1, 2, 3)),
		adu(1, 1, []byte{43, 14, 1, 0}),
		adu(1, 1, pdu(99)),
	}
	var r Request
	allocs := testing.AllocsPerRun(100, func() {
		for _, f := range frames {
			_ = ParseRequest(Frame(f), &r)
		}
	})
	equal(t, 0.0, allocs, "allocations")
}
