package opcua

import (
	"testing"
	"time"
)

// FuzzConversation feeds arbitrary client and server bytes through a
// conversation as the proxy engine drives it: split, decide, classify.
// Nothing may panic, a frame never exceeds MaxFrameLen, and the
// conversation's buffer stays within the conduit's message size.
func FuzzConversation(f *testing.F) {
	f.Add(helloFrame("opc.tcp://scada-1:4840"), ack())
	f.Add(append(helloFrame("opc.tcp://a"), openNone(1, 0)...), append(ack(), openResponse(7)...))
	f.Add(append(append(helloFrame("opc.tcp://a"), openNone(1, 0)...), msg(7, 1, 2, 2, request(SvcWrite, writeBody("Order")...))...),
		append(ack(), openResponse(7)...))
	f.Add([]byte("MSGF\xff\xff\xff\xff"), []byte("ACKF\x10\x00\x00\x00"))
	p, err := Compile(Spec{AllowNoneFor: []string{PresetReadWrite}, Services: []string{PresetReadWrite}, MaxMessageSize: 65536, MaxChunkCount: 16}, acceptAll{})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, client, server []byte) {
		var c Conversation
		var d Decision
		now := time.Unix(1700000000, 0)
		cs, ss := client, server
		for range 64 {
			progressed := false
			if n, err := c.SplitClient(cs); err == nil && n > 0 && n <= len(cs) {
				if n > MaxFrameLen {
					t.Fatalf("frame of %d bytes", n)
				}
				c.Client(cs[:n], p, now, &d)
				cs = cs[n:]
				progressed = true
				if !d.Forward {
					return
				}
			}
			if n, err := c.SplitServer(ss); err == nil && n > 0 && n <= len(ss) {
				if kind, _ := c.Server(ss[:n]); kind == ServerDrop {
					return
				}
				ss = ss[n:]
				progressed = true
			}
			if cap(c.scratch) > 2*65536+16*chunkOverhead {
				t.Fatalf("buffer of %d bytes", cap(c.scratch))
			}
			if !progressed {
				return
			}
		}
	})
}
