package opcuatcp

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zonegate/zonegate/protocols/inspect"
	"github.com/zonegate/zonegate/protocols/opcua"
	"github.com/zonegate/zonegate/test/uatest"
)

func le32(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }

func uaChunk(typ string, ct byte, body []byte) []byte {
	b := append([]byte(typ), ct, 0, 0, 0, 0)
	b = append(b, body...)
	binary.LittleEndian.PutUint32(b[4:], uint32(len(b)))
	return b
}

func uaHello() []byte {
	var b []byte
	for _, v := range []uint32{0, 65535, 65535, 0, 0} {
		b = append(b, le32(v)...)
	}
	url := "opc.tcp://scada-1:4840"
	return uaChunk("HEL", 'F', append(append(b, le32(uint32(len(url)))...), url...))
}

// TestBadInputRefused: a malformed chunk, a 4 GiB length, a 1 MB client
// certificate and a chunk count bomb each get an ERR with the status code
// and close their connection, each is reported with its reason, and a
// real client reading through the same proxy meanwhile is not held up.
func TestBadInputRefused(t *testing.T) {
	srv := uatest.StartServer(t, "127.0.0.1", uatest.FreePort(t, "127.0.0.1"))
	ca := uatest.NewCA(t, "MES CA")
	good := ca.Issue(t, "mes-1", time.Now().Add(-time.Hour), time.Now().Add(time.Hour), 2048)
	g := startGateway(t, srv, opcua.Spec{Services: []string{"read_only"}, MaxChunkCount: 32})
	ctx := context.Background()
	c, err := uatest.Client(ctx, g.url(), "Basic256Sha256", "Sign", good, srv.CertDER)
	require.NoError(t, err)
	defer c.Close(ctx)

	bigCert := append(le32(0), le32(uint32(len(opcua.PolicyBasic256Sha256.URI())))...)
	bigCert = append(bigCert, opcua.PolicyBasic256Sha256.URI()...)
	bigCert = append(bigCert, le32(1<<20)...)
	bigCert = append(bigCert, make([]byte, 1<<20)...)
	bigCert = append(bigCert, 0xff, 0xff, 0xff, 0xff)
	bigCert = append(bigCert, make([]byte, 64)...)
	var bomb []byte
	for range 1000 {
		bomb = append(bomb, uaChunk("MSG", 'C', append(le32(0), make([]byte, 12)...))...)
	}
	for _, tc := range []struct {
		name   string
		before []byte // sent first (a HEL, and the server's ACK waited for)
		bad    []byte
		status opcua.StatusCode
		reason string
	}{
		{"malformed chunk", nil, []byte("HELX\x20\x00\x00\x00garbage garbage garbage!"), opcua.BadTcpMessageTypeInvalid, "chunk_type_invalid"},
		{"4 GiB length", nil, []byte("HELF\xff\xff\xff\xff"), opcua.BadTcpMessageTypeInvalid, "hello_invalid"},
		{"1 MB certificate", uaHello(), uaChunk("OPN", 'F', bigCert), opcua.BadTcpMessageTooLarge, "chunk_too_large"},
		{"chunk count bomb", uaHello(), bomb, opcua.BadTcpMessageTooLarge, "too_many_chunks"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", g.addr)
			require.NoError(t, err)
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(10 * time.Second))
			if tc.before != nil {
				_, err = conn.Write(tc.before)
				require.NoError(t, err)
				hdr := make([]byte, 8)
				_, err = io.ReadFull(conn, hdr)
				require.NoError(t, err)
				require.Equal(t, "ACKF", string(hdr[:4]))
				_, err = io.ReadFull(conn, make([]byte, binary.LittleEndian.Uint32(hdr[4:])-8))
				require.NoError(t, err)
			}
			go conn.Write(tc.bad) // the gateway may close before it took all of it
			reply, _ := io.ReadAll(conn)
			require.GreaterOrEqual(t, len(reply), 16, "an ERR, then the close")
			code, _, ok := opcua.ErrorInfo(reply)
			require.True(t, ok, "%q", reply)
			assert.Equal(t, tc.status, code)
			// The real client is not held up.
			v, err := c.Node(uatest.Node(uatest.NodeTemperature)).Value(ctx)
			require.NoError(t, err)
			assert.Equal(t, 71.25, v.Value())
			waitReason(t, g, tc.reason)
		})
	}
}

func waitReason(t *testing.T, g *gateway, reason string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		for _, ev := range g.collected() {
			if ev.Reason == reason && ev.Kind == inspect.Malformed {
				return
			}
		}
	}
	t.Errorf("no malformed event with reason %s: %v", reason, g.reasons(inspect.Malformed))
}
