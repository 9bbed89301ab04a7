package opcua

// StatusCode is an OPC UA status code, as an ERR message carries it.
type StatusCode uint32

// Status codes the gateway sends (OPC 10000-6 and 10000-4).
const (
	BadCommunicationError           StatusCode = 0x80050000
	BadDecodingError                StatusCode = 0x80070000
	BadTimeout                      StatusCode = 0x800A0000
	BadServiceUnsupported           StatusCode = 0x800B0000
	BadCertificateInvalid           StatusCode = 0x80120000
	BadSecurityChecksFailed         StatusCode = 0x80130000
	BadCertificateTimeInvalid       StatusCode = 0x80140000
	BadCertificateUntrusted         StatusCode = 0x801A0000
	BadCertificateRevoked           StatusCode = 0x801D0000
	BadUserAccessDenied             StatusCode = 0x801F0000
	BadSecurityModeRejected         StatusCode = 0x80540000
	BadSecurityPolicyRejected       StatusCode = 0x80550000
	BadTcpServerTooBusy             StatusCode = 0x807D0000
	BadTcpMessageTypeInvalid        StatusCode = 0x807E0000
	BadTcpSecureChannelUnknown      StatusCode = 0x807F0000
	BadTcpMessageTooLarge           StatusCode = 0x80800000
	BadTcpEndpointURLInvalid        StatusCode = 0x80830000
	BadSecureChannelTokenUnknown    StatusCode = 0x80870000
	BadSequenceNumberInvalid        StatusCode = 0x80880000
	BadNotConnected                 StatusCode = 0x808A0000
	BadProtocolVersionUnsupported   StatusCode = 0x80BE0000
	BadCertificatePolicyCheckFailed StatusCode = 0x81140000
)

// Reason says why a message is refused: one short static name, which is
// the metric label, the event key and the audit detail, the OPC UA status
// code of the ERR that closes the connection, and the ERR's text.
type Reason uint8

// Reasons. Violations of the protocol itself (Reason.Violation) close
// the connection in monitor mode too: the gateway could not follow the
// conversation past them.
const (
	ReasonNone Reason = iota

	// Transport and secure conversation (violations).
	ReasonMessageTypeInvalid // a message type out of order or direction
	ReasonChunkTypeInvalid   // a chunk type other than F, C, A (or C/A where not allowed)
	ReasonMessageTooLarge    // over the negotiated or the conduit's message size
	ReasonChunkTooLarge      // over the negotiated chunk (buffer) size
	ReasonTooManyChunks      // over the negotiated or the conduit's chunk count
	ReasonMalformed          // a message that does not decode
	ReasonHelloInvalid       // HEL with buffer sizes below 8192 or an endpoint URL over 4096 bytes
	ReasonReverseConnect     // RHE: reverse connect is not inspected
	ReasonChannelIDMismatch  // a chunk of another secure channel
	ReasonTokenInvalid       // a token id the channel was not given
	ReasonSequenceInvalid    // a sequence number out of order
	ReasonPolicyChanged      // a renewal OPN with another policy
	ReasonCertificateChanged // a renewal OPN with another client certificate
	ReasonUnreadable         // a message of a readable channel that does not decode

	// The conduit's policy (reported and passed in monitor mode).
	ReasonEndpointURL // endpoint URL not in endpoint_urls
	ReasonSecurityPolicyUnknown
	ReasonSecurityPolicy       // not in security_policies
	ReasonSecurityMode         // policy None with a mode other than None
	ReasonCertificateMissing   // a secured OPN without a client certificate
	ReasonCertificateInvalid   // does not parse, or not for RSA
	ReasonCertificateTooLarge  // SenderCertificate over MaxCertificateLen
	ReasonCertificateUntrusted // chains to no CA file and is not pinned
	ReasonCertificateTime      // outside its validity period
	ReasonCertificateRevoked   // on a CRL
	ReasonCertificateKeySize   // RSA key below 2048 bits
	ReasonEncryptedRefused     // SignAndEncrypt channel on a conduit that restricts services
	ReasonServiceNotAllowed    // a service the conduit does not allow
	ReasonNoneNotAllowed       // a service a policy None channel may not carry
	ReasonServiceUnknown       // a request type that is no OPC UA service
	ReasonWriteNode            // a Write to a node not in write_nodes
	ReasonWriteAttribute       // a Write of another attribute than Value to a write_nodes node
	ReasonCallMethod           // a Call of a method not in call_methods
	ReasonNoPolicy             // the conduit has no policy any more

	numReasons
)

type reasonInfo struct {
	name      string
	status    StatusCode
	violation bool
	text      string // the ERR's reason text
}

var reasons = [numReasons]reasonInfo{
	ReasonNone:                  {"", 0, false, ""},
	ReasonMessageTypeInvalid:    {"message_type_invalid", BadTcpMessageTypeInvalid, true, "zonegate: message type out of order or direction"},
	ReasonChunkTypeInvalid:      {"chunk_type_invalid", BadTcpMessageTypeInvalid, true, "zonegate: invalid chunk type"},
	ReasonMessageTooLarge:       {"message_too_large", BadTcpMessageTooLarge, true, "zonegate: message larger than negotiated or allowed"},
	ReasonChunkTooLarge:         {"chunk_too_large", BadTcpMessageTooLarge, true, "zonegate: chunk larger than the negotiated buffer size"},
	ReasonTooManyChunks:         {"too_many_chunks", BadTcpMessageTooLarge, true, "zonegate: more chunks than negotiated or allowed"},
	ReasonMalformed:             {"malformed_message", BadDecodingError, true, "zonegate: message does not decode"},
	ReasonHelloInvalid:          {"hello_invalid", BadTcpMessageTypeInvalid, true, "zonegate: invalid Hello message"},
	ReasonReverseConnect:        {"reverse_connect_refused", BadTcpMessageTypeInvalid, true, "zonegate: reverse connect is not inspected"},
	ReasonChannelIDMismatch:     {"secure_channel_id_mismatch", BadTcpSecureChannelUnknown, true, "zonegate: chunk of another secure channel"},
	ReasonTokenInvalid:          {"token_id_invalid", BadSecureChannelTokenUnknown, true, "zonegate: security token unknown on this channel"},
	ReasonSequenceInvalid:       {"sequence_number_invalid", BadSequenceNumberInvalid, true, "zonegate: sequence number out of order"},
	ReasonPolicyChanged:         {"security_policy_changed", BadSecurityChecksFailed, true, "zonegate: renewal with another security policy"},
	ReasonCertificateChanged:    {"certificate_changed", BadSecurityChecksFailed, true, "zonegate: renewal with another client certificate"},
	ReasonUnreadable:            {"message_unreadable", BadSecurityChecksFailed, true, "zonegate: message of a signed channel does not decode"},
	ReasonEndpointURL:           {"endpoint_url_not_allowed", BadTcpEndpointURLInvalid, false, "zonegate: endpoint URL not allowed on this conduit"},
	ReasonSecurityPolicyUnknown: {"security_policy_unknown", BadSecurityPolicyRejected, false, "zonegate: unknown security policy"},
	ReasonSecurityPolicy:        {"security_policy_not_allowed", BadSecurityPolicyRejected, false, "zonegate: security policy not allowed on this conduit"},
	ReasonSecurityMode:          {"security_mode_invalid", BadSecurityModeRejected, false, "zonegate: security mode does not fit the policy"},
	ReasonCertificateMissing:    {"certificate_missing", BadCertificateInvalid, false, "zonegate: no client certificate"},
	ReasonCertificateInvalid:    {"certificate_invalid", BadCertificateInvalid, false, "zonegate: client certificate invalid"},
	ReasonCertificateTooLarge:   {"certificate_too_large", BadCertificateInvalid, false, "zonegate: client certificate too large"},
	ReasonCertificateUntrusted:  {"certificate_untrusted", BadCertificateUntrusted, false, "zonegate: client certificate not trusted on this conduit"},
	ReasonCertificateTime:       {"certificate_time_invalid", BadCertificateTimeInvalid, false, "zonegate: client certificate outside its validity period"},
	ReasonCertificateRevoked:    {"certificate_revoked", BadCertificateRevoked, false, "zonegate: client certificate revoked"},
	ReasonCertificateKeySize:    {"certificate_key_too_small", BadCertificatePolicyCheckFailed, false, "zonegate: client certificate key below 2048 bits RSA"},
	ReasonEncryptedRefused:      {"encrypted_channel_refused", BadSecurityChecksFailed, false, "zonegate: encrypted channel on a conduit that restricts services"},
	ReasonServiceNotAllowed:     {"service_not_allowed", BadServiceUnsupported, false, "zonegate: service not allowed on this conduit"},
	ReasonNoneNotAllowed:        {"service_not_allowed_on_none", BadSecurityChecksFailed, false, "zonegate: service not allowed on a channel without security"},
	ReasonServiceUnknown:        {"service_unknown", BadServiceUnsupported, false, "zonegate: unknown service"},
	ReasonWriteNode:             {"write_node_not_allowed", BadUserAccessDenied, false, "zonegate: write to this node not allowed"},
	ReasonWriteAttribute:        {"write_attribute_not_allowed", BadUserAccessDenied, false, "zonegate: write of this attribute not allowed"},
	ReasonCallMethod:            {"method_not_allowed", BadUserAccessDenied, false, "zonegate: method call not allowed"},
	ReasonNoPolicy:              {"no_policy", BadSecurityChecksFailed, true, "zonegate: the conduit has no policy"},
}

// String is the reason's name ("" for ReasonNone): the metric label.
func (r Reason) String() string {
	if r < numReasons {
		return reasons[r].name
	}
	return "unknown"
}

// Status is the status code of the ERR message for the reason.
func (r Reason) Status() StatusCode {
	if r < numReasons {
		return reasons[r].status
	}
	return BadSecurityChecksFailed
}

// Text is the reason text of the ERR message.
func (r Reason) Text() string {
	if r < numReasons {
		return reasons[r].text
	}
	return "zonegate: refused"
}

// Violation reports whether the reason is a violation of the protocol
// (closed in monitor mode too) rather than of the conduit's policy.
func (r Reason) Violation() bool { return r < numReasons && reasons[r].violation }

// Reasons lists every reason name, for documentation and tests.
func Reasons() []string {
	out := make([]string, 0, numReasons-1)
	for r := Reason(1); r < numReasons; r++ {
		out = append(out, reasons[r].name)
	}
	return out
}
