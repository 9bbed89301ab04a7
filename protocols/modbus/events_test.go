package modbus

import "testing"

func TestCounters(t *testing.T) {
	var c Counters
	a := c.Conduit("a")
	if c.Conduit("a") != a {
		t.Fatal("Conduit does not return the same counters")
	}
	a.Request(3, VerdictAllowed)
	a.Request(3, VerdictAllowed)
	a.Request(6, VerdictDenied)
	c.Conduit("b").Request(3, VerdictMonitored)
	a.Event(EventDenied)
	a.Event(numEventKinds) // out of range: ignored
	s := c.Snapshot()
	equal(t, []RequestCount{{"a", 3, VerdictAllowed, 2}, {"a", 6, VerdictDenied, 1}, {"b", 3, VerdictMonitored, 1}}, s.Requests)
	equal(t, []EventCount{{"a", EventDenied, 1}}, s.Events)
	equal(t, uint64(2), s.RequestTotal("", VerdictAllowed))
	equal(t, uint64(1), s.RequestTotal("b", VerdictMonitored))
	equal(t, uint64(1), s.EventTotal("a", EventDenied))
}

func TestNames(t *testing.T) {
	equal(t, "gateway_target_failed_to_respond", ExGatewayTargetNoResponse.String())
	equal(t, "exception(99)", ExceptionCode(99).String())
	equal(t, "upstream_timeout", EventUpstreamTimeout.String())
	equal(t, "event(99)", EventKind(99).String())
	equal(t, "monitored", VerdictMonitored.String())
	equal(t, "bad_protocol_id", FrameBadProtocolID.String())
}
