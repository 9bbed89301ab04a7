package opcua

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// acceptAll is a certificate checker that accepts every certificate.
type acceptAll struct{}

func (acceptAll) Check([]byte, time.Time) CertResult { return CertResult{} }

func chunk(typ string, ct byte, body []byte) []byte {
	b := append([]byte(typ), ct, 0, 0, 0, 0)
	b = append(b, body...)
	binary.LittleEndian.PutUint32(b[4:], uint32(len(b)))
	return b
}

func u32(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }

func str(s string) []byte { return append(u32(uint32(len(s))), s...) }

func helloFrame(url string) []byte {
	var b []byte
	for _, v := range []uint32{0, 65535, 65535, 0, 0} {
		b = append(b, u32(v)...)
	}
	return chunk("HEL", 'F', append(b, str(url)...))
}

func ack() []byte {
	var b []byte
	for _, v := range []uint32{0, 65535, 65535, 2 << 20, 512} {
		b = append(b, u32(v)...)
	}
	return chunk("ACK", 'F', b)
}

// requestHeader is an empty RequestHeader.
func requestHeader() []byte {
	b := []byte{0, 0}                  // AuthenticationToken: two-byte NodeId 0
	b = append(b, make([]byte, 16)...) // Timestamp, RequestHandle, ReturnDiagnostics
	b = append(b, 0xff, 0xff, 0xff, 0xff)
	b = append(b, u32(10000)...)
	return append(b, 0, 0, 0) // AdditionalHeader: null ExtensionObject
}

func typeID(id uint32) []byte { return []byte{1, 0, byte(id), byte(id >> 8)} }

// openNone is an OPN with policy None.
func openNone(seq, reqType uint32) []byte {
	b := u32(0)
	b = append(b, str(PolicyNone.URI())...)
	b = append(b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)
	b = append(b, u32(seq)...)
	b = append(b, u32(1)...)
	b = append(b, typeID(idOpenSecureChannelRequest)...)
	b = append(b, requestHeader()...)
	b = append(b, u32(0)...)       // ClientProtocolVersion
	b = append(b, u32(reqType)...) // Issue
	b = append(b, u32(uint32(SecurityNone))...)
	b = append(b, 0, 0, 0, 0)      // ClientNonce
	b = append(b, u32(3600000)...) // lifetime
	return chunk("OPN", 'F', b)
}

func openResponse(chanID uint32) []byte {
	return chunk("OPN", 'F', append(u32(chanID), make([]byte, 40)...))
}

func msg(chanID, token, seq, req uint32, body []byte) []byte {
	b := append(u32(chanID), u32(token)...)
	b = append(b, u32(seq)...)
	b = append(b, u32(req)...)
	return chunk("MSG", 'F', append(b, body...))
}

func request(svc Service, rest ...byte) []byte {
	return append(append(typeID(svc.RequestTypeID()), requestHeader()...), rest...)
}

// writeBody is a WriteRequest body of one Double to ns=2;s=<node>.
func writeBody(node string) []byte {
	b := u32(1)
	b = append(b, 3, 2, 0)
	b = append(b, str(node)...)
	b = append(b, u32(13)...)
	b = append(b, 0xff, 0xff, 0xff, 0xff) // IndexRange null
	b = append(b, 0x01, typeDouble)       // DataValue with a Variant Double
	b = append(b, make([]byte, 8)...)
	return b
}

// converse runs a None-policy conversation up to an open channel.
func converse(t *testing.T, p *Policy) *Conversation {
	t.Helper()
	c := &Conversation{}
	var d Decision
	now := time.Now()
	for _, step := range []struct {
		client []byte
		server []byte
	}{{helloFrame("opc.tcp://scada-1:4840"), ack()}, {openNone(1, 0), openResponse(7)}} {
		n, err := c.SplitClient(step.client)
		require.NoError(t, err)
		require.Equal(t, len(step.client), n)
		c.Client(step.client, p, now, &d)
		require.True(t, d.Forward, "%s: %s", d.Type, d.Reason)
		kind, r := c.Server(step.server)
		require.Equal(t, ServerHandshake, kind, r.String())
	}
	return c
}

func compile(t *testing.T, s Spec) *Policy {
	t.Helper()
	p, err := Compile(s, acceptAll{})
	require.NoError(t, err)
	return p
}

func TestConversationNone(t *testing.T) {
	p := compile(t, Spec{AllowNoneFor: []string{PresetReadOnly}, Services: []string{PresetReadWrite}, WriteNodes: []NodeID{{NS: 2, Kind: NodeString, ID: "Order"}}})
	c := converse(t, p)
	var d Decision
	now := time.Now()
	c.Client(msg(7, 1, 2, 2, request(SvcRead)), p, now, &d)
	assert.True(t, d.Forward)
	assert.Equal(t, SvcRead, d.Service)
	c.Client(msg(7, 1, 3, 3, request(SvcWrite, writeBody("Order")...)), p, now, &d)
	assert.False(t, d.Forward, "Write is not in allow_none_for's read_only")
	assert.Equal(t, ReasonNoneNotAllowed, d.Reason)
	// Under monitor the same Write is reported and forwarded, audited as
	// a write.
	pm := compile(t, Spec{Mode: ModeMonitor, AllowNoneFor: []string{PresetReadOnly}})
	c = converse(t, pm)
	c.Client(msg(7, 1, 2, 2, request(SvcWrite, writeBody("Order")...)), pm, now, &d)
	assert.True(t, d.Forward)
	assert.True(t, d.Monitor)
	assert.True(t, d.Write)
	assert.Equal(t, ReasonNoneNotAllowed, d.Reason)
}

func TestConversationRefusals(t *testing.T) {
	now := time.Now()
	p := compile(t, Spec{AllowNoneFor: []string{PresetReadWrite}, Services: []string{PresetReadWrite}, WriteNodes: []NodeID{{NS: 2, Kind: NodeString, ID: "Order"}}})
	for name, tc := range map[string]struct {
		frame []byte
		want  Reason
	}{
		"write to another node":  {msg(7, 1, 2, 2, request(SvcWrite, writeBody("Other")...)), ReasonWriteNode},
		"service not allowed":    {msg(7, 1, 2, 2, request(SvcAddNodes, 0, 0, 0, 0)), ReasonNoneNotAllowed},
		"another channel":        {msg(8, 1, 2, 2, request(SvcRead)), ReasonChannelIDMismatch},
		"sequence out of order":  {msg(7, 1, 9, 2, request(SvcRead)), ReasonSequenceInvalid},
		"unknown request type":   {msg(7, 1, 2, 2, request(Service(0), 0)), ReasonServiceUnknown},
		"truncated write":        {msg(7, 1, 2, 2, request(SvcWrite, 1, 0, 0, 0, 3)), ReasonUnreadable},
		"a second HEL":           {helloFrame("opc.tcp://x"), ReasonMessageTypeInvalid},
		"an ACK from the client": {ack(), ReasonMessageTypeInvalid},
	} {
		t.Run(name, func(t *testing.T) {
			c := converse(t, p)
			n, err := c.SplitClient(tc.frame)
			require.NoError(t, err)
			var d Decision
			c.Client(tc.frame[:n], p, now, &d)
			assert.False(t, d.Forward)
			assert.Equal(t, tc.want, d.Reason, d.Reason.String())
		})
	}
}

func TestBadInput(t *testing.T) {
	p := compile(t, Spec{})
	now := time.Now()
	huge := []byte("MSGF\xff\xff\xff\xff")
	for name, tc := range map[string]struct {
		frame []byte
		want  Reason
	}{
		"4 GiB length":     {huge, ReasonChunkTooLarge},
		"garbage":          {[]byte("GET / HTTP/1.1\r\n\r\n"), ReasonMessageTypeInvalid},
		"chunk type X":     {chunk("MSG", 'X', make([]byte, 20)), ReasonChunkTypeInvalid},
		"too short":        {chunk("MSG", 'F', make([]byte, 4)), ReasonMalformed},
		"1 MB certificate": {chunk("OPN", 'F', append(append(append(u32(0), str(PolicyBasic256Sha256.URI())...), u32(1<<20)...), make([]byte, 1<<20)...)), ReasonChunkTooLarge},
	} {
		t.Run(name, func(t *testing.T) {
			c := converse(t, p)
			n, err := c.SplitClient(tc.frame)
			require.NoError(t, err)
			require.LessOrEqual(t, n, len(tc.frame), "the frame ends at the bad header: no waiting for 4 GiB")
			var d Decision
			c.Client(tc.frame[:n], p, now, &d)
			assert.False(t, d.Forward)
			assert.Equal(t, tc.want, d.Reason, d.Reason.String())
			assert.True(t, d.Reason.Violation())
		})
	}
	t.Run("chunk count bomb", func(t *testing.T) {
		c := converse(t, compile(t, Spec{AllowNoneFor: []string{PresetReadOnly}, MaxChunkCount: 8}))
		var bomb []byte
		for range 100 {
			bomb = append(bomb, chunk("MSG", 'C', append(u32(7), make([]byte, 12)...))...)
		}
		n, err := c.SplitClient(bomb)
		require.NoError(t, err)
		assert.Equal(t, 8*24+HeaderLen, n, "the frame ends at the ninth chunk's header")
		var d Decision
		c.Client(bomb[:n], p, now, &d)
		assert.Equal(t, ReasonTooManyChunks, d.Reason)
	})
}

func TestForwardedMSGNoAllocs(t *testing.T) {
	p := compile(t, Spec{AllowNoneFor: []string{PresetReadOnly}})
	c := converse(t, p)
	var d Decision
	now := time.Now()
	seq := uint32(2)
	frames := make([][]byte, 1100)
	for i := range frames {
		frames[i] = msg(7, 1, seq+uint32(i), uint32(i), request(SvcRead))
	}
	i := 0
	resp := msg(7, 1, 5, 5, nil)
	allocs := testing.AllocsPerRun(1000, func() {
		f := frames[i]
		i++
		if n, _ := c.SplitClient(f); n != len(f) {
			t.Fatal("split")
		}
		c.Client(f, p, now, &d)
		if !d.Forward {
			t.Fatal(d.Reason)
		}
		if kind, _ := c.Server(resp); kind != ServerPass {
			t.Fatal("server chunk")
		}
	})
	assert.Zero(t, allocs)
}

func TestCertificateTooLarge(t *testing.T) {
	p := compile(t, Spec{})
	c := &Conversation{}
	var d Decision
	now := time.Now()
	c.Client(helloFrame("opc.tcp://scada-1:4840"), p, now, &d)
	require.True(t, d.Forward)
	kind, _ := c.Server(ack())
	require.Equal(t, ServerHandshake, kind)
	b := u32(0)
	b = append(b, str(PolicyBasic256Sha256.URI())...)
	b = append(b, u32(20<<10)...)
	b = append(b, make([]byte, 20<<10)...)
	b = append(b, str("thumbprint-of-20-bytes")...)
	b = append(b, make([]byte, 256)...) // encrypted rest
	f := chunk("OPN", 'F', b)
	n, err := c.SplitClient(f)
	require.NoError(t, err)
	require.Equal(t, len(f), n)
	c.Client(f, p, now, &d)
	assert.False(t, d.Forward)
	assert.Equal(t, ReasonCertificateTooLarge, d.Reason)
	assert.Equal(t, BadCertificateInvalid, d.Reason.Status())
}

func TestHelloAndOpenPolicy(t *testing.T) {
	now := time.Now()
	var d Decision
	p := compile(t, Spec{EndpointURLs: []string{"opc.tcp://scada-1:4840"}})
	c := &Conversation{}
	c.Client(helloFrame("opc.tcp://other:4840"), p, now, &d)
	assert.False(t, d.Forward)
	assert.Equal(t, ReasonEndpointURL, d.Reason)
	assert.Equal(t, BadTcpEndpointURLInvalid, d.Reason.Status())

	// HEL's limits are lowered to the conduit's for the server.
	c = &Conversation{}
	f := helloFrame("opc.tcp://scada-1:4840")
	c.Client(f, p, now, &d)
	require.True(t, d.Forward)
	assert.Equal(t, uint32(DefaultMaxMessage), binary.LittleEndian.Uint32(f[offMaxMessage:]))
	assert.Equal(t, uint32(DefaultMaxChunks), binary.LittleEndian.Uint32(f[offMaxChunks:]))
	c.Server(ack())
	b := u32(0)
	b = append(b, str(PolicyBasic128Rsa15.URI())...)
	b = append(b, str("certificate")...)
	b = append(b, str("thumbprint")...)
	b = append(b, make([]byte, 64)...)
	c.Client(chunk("OPN", 'F', b), p, now, &d)
	assert.False(t, d.Forward)
	assert.Equal(t, ReasonSecurityPolicy, d.Reason, "deprecated policies only when named")
	assert.Equal(t, BadSecurityPolicyRejected, d.Reason.Status())
}
