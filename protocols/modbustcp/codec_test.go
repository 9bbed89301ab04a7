package modbustcp

import (
	"net/netip"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zonegate/zonegate/protocols/inspect"
	"github.com/zonegate/zonegate/protocols/modbus"
	"github.com/zonegate/zonegate/protocols/proxy"
)

// evaluate runs the codec's session on one request frame under spec.
func evaluate(t *testing.T, spec modbus.Spec, frame []byte) proxy.Verdict {
	t.Helper()
	pol, err := modbus.Compile(spec)
	require.NoError(t, err)
	var v proxy.Verdict
	Codec{}.NewSession(proxy.Route{}).Request(frame, pol, testNow, &v)
	return v
}

// writeEvent is the Write event the engine reports for a forwarded
// request frame, with the details the feed builds off the loops.
func writeEvent(t *testing.T, frame []byte) *inspect.Event {
	t.Helper()
	v := evaluate(t, modbus.Spec{Mode: modbus.ModeMonitor}, frame)
	require.True(t, v.Write, "a write")
	ev := &inspect.Event{Kind: inspect.Write}
	Codec{}.Describe(ev, &v.Record, frame)
	ev.Details = Codec{}.Details(ev)
	return ev
}

// TestWriteValuesCut: an FC 16 write of 123 registers records the first 64
// values and says how many there were.
func TestWriteValuesCut(t *testing.T) {
	vals := make([]uint16, 123)
	for i := range vals {
		vals[i] = uint16(i)
	}
	ev := writeEvent(t, adu(1, 1, wrRegs(0, vals...)))
	got := ev.Details["values"]
	assert.True(t, strings.HasSuffix(got, " (123 values, 64 shown)"), got)
	assert.True(t, strings.HasPrefix(got, "0,1,2,"), got)
	assert.Equal(t, 64, len(strings.Split(strings.TrimSuffix(got, " (123 values, 64 shown)"), ",")))
	assert.Contains(t, got, ","+strconv.Itoa(63)+" (")
	assert.Equal(t, "0-122", ev.Details["addresses"])
	assert.Equal(t, "unit 1 fc 16 addr 0-122", ev.Summary.String())

	// A write that fits has no note.
	assert.NotContains(t, writeEvent(t, adu(1, 1, wrRegs(0, vals[:64]...))).Details["values"], "shown")
	// FC 23 writes its write half; FC 22 has no values.
	rw := writeEvent(t, adu(1, 1, cat(pdu(23, 0, 2, 10, 2), []byte{4}, be(7, 8))))
	assert.Equal(t, map[string]string{"unit": "1", "function": "23", "addresses": "10-11", "values": "7,8"}, rw.Details)
}

// TestDeniedNoAllocs: evaluating and describing a denied request does not
// allocate.
func TestDeniedNoAllocs(t *testing.T) {
	pol, err := modbus.Compile(proxySpec())
	require.NoError(t, err)
	sess := Codec{}.NewSession(proxy.Route{})
	frame := adu(1, 1, pdu(6, 50, 1))
	var v proxy.Verdict
	ev := &inspect.Event{Kind: inspect.Denied, Source: netip.MustParseAddrPort("198.18.0.10:50000")}
	allocs := testing.AllocsPerRun(1000, func() {
		v = proxy.Verdict{}
		sess.Request(frame, pol, testNow, &v)
		ev.Summary = inspect.Summary{}
		Codec{}.Describe(ev, &v.Record, frame)
	})
	assert.Zero(t, allocs)
	assert.Equal(t, string(modbus.ReasonAddressDenied), v.Reason)
	assert.Equal(t, proxy.Refuse, v.Action)
	assert.Equal(t, "unit 1 fc 6 addr 50", ev.Summary.String())
}

// TestCodecAnswers: the answers the engine gives in the device's place,
// and the pairing of device answers.
func TestCodecAnswers(t *testing.T) {
	v := evaluate(t, proxySpec(), adu(0x1234, 1, pdu(6, 50, 1)))
	for why, code := range map[proxy.Answer]modbus.ExceptionCode{
		proxy.AnswerDeny:        modbus.ExIllegalDataAddress,
		proxy.AnswerNoResponse:  modbus.ExGatewayTargetNoResponse,
		proxy.AnswerBusy:        modbus.ExServerDeviceBusy,
		proxy.AnswerUnreachable: modbus.ExGatewayPathUnavailable,
	} {
		out, keep := Codec{}.AppendAnswer(nil, &v.Record, why)
		assert.True(t, keep)
		wantException(t, modbus.Frame(out), 0x1234, 6, code)
	}
	assert.Equal(t, uint32(0x1234), v.Key)
	assert.Equal(t, proxy.ByKey, v.Pairing)
	assert.Equal(t, uint8(6), v.Op)

	ok := evaluate(t, proxySpec(), adu(7, 1, pdu(3, 0, 1)))
	assert.Equal(t, proxy.Forward, ok.Action)
	assert.Empty(t, ok.Reason)
	s := Codec{}.NewSession(proxy.Route{})
	answer := adu(7, 1, cat([]byte{3, 2}, be(9)))
	assert.Equal(t, proxy.Reply{Kind: proxy.AnswerByKey, Key: 7}, s.Answer(answer))
	assert.True(t, s.Match(answer, &ok.Record))
	assert.True(t, s.Match(modbus.AppendException(nil, 7, 1, 3, modbus.ExServerDeviceFailure), &ok.Record), "an exception to the request")
	assert.False(t, s.Match(adu(7, 2, cat([]byte{3, 2}, be(9))), &ok.Record), "another unit")
	assert.False(t, s.Match(adu(7, 1, cat([]byte{4, 2}, be(9))), &ok.Record), "another function")
	f := modbus.Frame(append([]byte(nil), answer...))
	Codec{}.SetKey(f, 0xBEEF)
	assert.Equal(t, uint16(0xBEEF), f.TransactionID())

	reset := proxySpec()
	reset.OnDeny = modbus.DenyReset
	assert.Equal(t, proxy.Reset, evaluate(t, reset, adu(1, 1, pdu(6, 50, 1))).Action)
	var none proxy.Verdict
	s.Request(adu(1, 1, pdu(3, 0, 1)), nil, testNow, &none)
	assert.Equal(t, proxy.Refuse, none.Action, "a conduit without a policy denies everything")
	assert.Error(t, Codec{}.CheckPolicy("not a policy"))
	assert.Error(t, Codec{}.CheckPolicy((*modbus.Policy)(nil)))
}
