package proxy

// Reasons of the events the engine reports itself (the codec's verdicts
// carry the policy's reasons). Each is the metric label, the event key and
// the audit detail.
const (
	// ReasonMalformedFrame: a frame the codec refused, or a stream that
	// ended inside a frame; the connection was reset (client) or closed
	// (device).
	ReasonMalformedFrame = "malformed_frame"
	// ReasonNoRoute: no conduit (or no installed policy) for the
	// connection; refused.
	ReasonNoRoute = "no_route"
	// ReasonConnLimitSource: too many connections from one source address.
	ReasonConnLimitSource = "connection_limit_source"
	// ReasonConnLimitTotal: too many connections in total.
	ReasonConnLimitTotal = "connection_limit_total"
	// ReasonUpstreamTimeout: the device did not answer in time; the
	// client got AnswerNoResponse.
	ReasonUpstreamTimeout = "upstream_timeout"
	// ReasonUpstreamClosed: the device connection closed or failed with
	// the request outstanding; the client got AnswerNoResponse.
	ReasonUpstreamClosed = "upstream_closed"
	// ReasonUpstreamFrame: a device frame did not complete in time (or a
	// request timed out inside one); the device connection was closed.
	ReasonUpstreamFrame = "upstream_frame_timeout"
	// ReasonUpstreamDial: connecting to the device failed; the client got
	// AnswerUnreachable.
	ReasonUpstreamDial = "upstream_unreachable"
	// ReasonUpstreamDesync: the device answered a request that was not
	// outstanding (or with an answer that does not match its request)
	// while others were: the device connection was closed and the
	// waiting requests answered at once.
	ReasonUpstreamDesync = "upstream_desync"
	// ReasonUpstreamSilent: requests timed out one after the other
	// (DeviceSettings.RedialAfter) with no byte from the device; the
	// device connection was closed and the next request connects again.
	ReasonUpstreamSilent = "upstream_silent"
	// ReasonQueueFull: a client's queue of requests waiting for a device
	// connection was full; the request got AnswerBusy.
	ReasonQueueFull = "device_queue_full"
	// ReasonUnsolicited: a device answer while nothing was outstanding;
	// dropped.
	ReasonUnsolicited = "unsolicited_response"
	// ReasonLateResponse: the device's answer to a request the engine had
	// already answered at its deadline; dropped.
	ReasonLateResponse = "late_response"
)
