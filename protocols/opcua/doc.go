// Package opcua is the pure OPC UA inspection engine of zonegate: UA TCP
// and UA Secure Conversation (OPC 10000-6) as a gateway between zones sees
// them. It frames both byte streams into messages (a request's chunks are
// one frame), follows the conversation of one connection (Conversation:
// HEL/ACK, OPN, MSG, CLO in order and direction, sizes within what HEL and
// ACK negotiated and the conduit allows, secure channel, token and
// sequence numbers consistent), reads what is in clear (the endpoint URL
// of HEL, the security policy and client certificate of OPN, and the
// request type, written nodes and called methods of the messages of
// policy None and Sign-mode channels) and decides each message under a
// conduit's compiled Policy: forward it, or refuse it with the OPC UA
// status code the ERR message that closes the connection carries.
//
// It links no network code and no logger (a test checks the link graph):
// bytes in, decision out. Deciding a MSG that is forwarded allocates
// nothing; opening a secure channel checks the client certificate
// through the Policy's CertChecker (package uacert), which may.
//
// The proxy side (the codec of the proxy engine) is package
// protocols/opcuatcp; the zone model's `opcua:` block is package
// opcuarules.
package opcua

import "github.com/zonegate/zonegate/protocols/inspect"

// Info names OPC UA as an inspected protocol: the `inspect: opcua` value,
// the title of messages and the proxy's default port.
var Info = inspect.Protocol{Name: "opcua", Title: "OPC UA", DefaultPort: 4850}
