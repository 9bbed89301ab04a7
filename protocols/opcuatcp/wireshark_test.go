package opcuatcp

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zonegate/zonegate/protocols/opcua"
	"github.com/zonegate/zonegate/test/prereq"
	"github.com/zonegate/zonegate/test/uatest"
)

// recorder relays one connection to target and keeps the client's bytes.
type recorder struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	client []byte
}

func (r *recorder) serve() {
	for {
		c, err := r.ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			up, err := net.Dial("tcp", r.target)
			if err != nil {
				return
			}
			defer up.Close()
			go func() { io.Copy(c, up); c.Close() }()
			buf := make([]byte, 64<<10)
			for {
				n, err := c.Read(buf)
				if n > 0 {
					r.mu.Lock()
					r.client = append(r.client, buf[:n]...)
					r.mu.Unlock()
					up.Write(buf[:n])
				}
				if err != nil {
					return
				}
			}
		}()
	}
}

// TestWiresharkAgrees records what real gopcua clients send through the
// gateway (discovery over None, a Sign-mode session that reads and tries
// a Write) and checks that the engine reads each client message as
// Wireshark's opcua dissector does: message type, security policy of
// OPN, and the request type of every MSG in clear.
func TestWiresharkAgrees(t *testing.T) {
	tshark := prereq.Command(t, "tshark", "tshark")
	text2pcap := prereq.Command(t, "text2pcap", "tshark")
	srv := uatest.StartServer(t, "127.0.0.1", uatest.FreePort(t, "127.0.0.1"))
	ca := uatest.NewCA(t, "MES CA")
	good := ca.Issue(t, "mes-1", time.Now().Add(-time.Hour), time.Now().Add(time.Hour), 2048)
	g := startGateway(t, srv, opcua.Spec{Services: []string{"read_only"}})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	rec := &recorder{ln: ln, target: g.addr}
	go rec.serve()
	defer ln.Close()
	ctx := context.Background()
	url := "opc.tcp://" + ln.Addr().String()
	c, err := uatest.Client(ctx, url, "Basic256Sha256", "Sign", good, srv.CertDER)
	require.NoError(t, err)
	_, err = c.Node(uatest.Node(uatest.NodeTemperature)).Value(ctx)
	require.NoError(t, err)
	c.Close(ctx)
	time.Sleep(100 * time.Millisecond)
	rec.mu.Lock()
	stream := append([]byte(nil), rec.client...)
	rec.mu.Unlock()

	// The engine's reading, chunk by chunk, and a text2pcap dump with one
	// packet per chunk to the OPC UA port.
	var ours []string
	var dump strings.Builder
	for off := 0; off+opcua.HeaderLen <= len(stream); {
		size := int(binary.LittleEndian.Uint32(stream[off+4:]))
		require.LessOrEqual(t, off+size, len(stream))
		ch := stream[off : off+size]
		line := opcua.ParseType(ch).String()
		switch opcua.ParseType(ch) {
		case opcua.MsgOPN:
			pol, _, ok := opcua.OpenInfo(ch)
			require.True(t, ok)
			line += " " + pol.URI()
		case opcua.MsgMSG:
			if id, ok := opcua.RequestTypeOf(ch); ok {
				line += fmt.Sprintf(" %d", id)
			}
		}
		ours = append(ours, line)
		for i, b := range ch {
			if i%16 == 0 {
				fmt.Fprintf(&dump, "\n%06x", i)
			}
			fmt.Fprintf(&dump, " %02x", b)
		}
		dump.WriteString("\n")
		off += size
	}
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "dump.txt"), []byte(dump.String()), 0o600))
	out, err := exec.Command(text2pcap, "-q", "-T", "50000,4840", filepath.Join(dir, "dump.txt"), filepath.Join(dir, "c.pcap")).CombinedOutput()
	require.NoError(t, err, "%s", out)
	out, err = exec.Command(tshark, "-r", filepath.Join(dir, "c.pcap"), "-o", "tcp.desegment_tcp_streams:FALSE", "-Y", "opcua",
		"-T", "fields", "-E", "separator=|", "-e", "opcua.transport.type", "-e", "opcua.security.spu", "-e", "opcua.servicenodeid.numeric").Output()
	require.NoError(t, err)
	var theirs []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(l, "|")
		line := f[0]
		if f[1] != "" {
			line += " " + f[1]
		}
		if f[0] == "MSG" && f[2] != "" {
			line += " " + f[2]
		}
		theirs = append(theirs, line)
	}
	t.Logf("engine: %q", ours)
	assert.Equal(t, ours, theirs, "Wireshark's reading of the same chunks")
	assert.Contains(t, ours, "MSG 631", "a ReadRequest in clear was seen")
}
