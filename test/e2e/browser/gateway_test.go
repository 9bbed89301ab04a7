package browser

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zonegate/zonegate/gateway/api"
	"github.com/zonegate/zonegate/gateway/console"
	"github.com/zonegate/zonegate/gateway/zone"
	"github.com/zonegate/zonegate/test/lab"
	"github.com/zonegate/zonegate/test/prereq"
)

// The gateway under test: the example factory as a namespace lab, zonegate
// serve (built from this checkout) in its gateway namespace with the web
// console on its maintenance address, accounts made over the API socket,
// and a fake PLC behind the inspected conduit.

// labPrefix names the lab's namespaces (unique to this test).
const labPrefix = "zlbrowser"

// Accounts and their passwords (the default policy takes them).
const (
	adminUser, adminPW       = "ada", "Quartz-Meadow-Lantern-81"
	operatorUser, operatorPW = "otto", "Velvet-Comet-Tundra-64"
	viewerUser, viewerPW     = "vera", "Maple-Orbit-Glacier-39"
	lockUser, lockPW         = "lou", "Harbor-Pine-Sextant-17"
)

// lockoutFailures is passwords.lockout_failures of the test's daemon.
const lockoutFailures = 3

type gateway struct {
	t         *testing.T
	root      string // the repository
	model     *zone.Model
	modelText string
	lab       *lab.Lab
	addr      netip.AddrPort // the console
	mgmt      *lab.Host      // the maintenance zone's host, where the browser runs
	cert      []byte         // the console's certificate (DER)
	api       *api.Client    // signed in as the administrator
	log       *syncBuffer    // zonegate's output
	plc       *lab.ModbusServer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// repoRoot is the checkout this module lives in.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../../..")
	require.NoError(t, err)
	_, err = os.Stat(filepath.Join(root, "cmd", "zonegate"))
	require.NoError(t, err, "the browser tests run inside zonegate's checkout")
	return root
}

// startGateway builds zonegate and the lab and starts the daemon.
func startGateway(t *testing.T) *gateway {
	t.Helper()
	goTool := prereq.Go(t)
	g := &gateway{t: t, root: repoRoot(t), log: &syncBuffer{}}
	bin := filepath.Join(t.TempDir(), "zonegate")
	build := exec.Command(goTool, "build", "-o", bin, "./cmd/zonegate")
	build.Dir = g.root
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "build zonegate: %s", out)

	text, err := os.ReadFile(filepath.Join(g.root, "configs", "example-factory.yaml"))
	require.NoError(t, err)
	g.modelText = string(text)
	g.model, err = zone.Load("example-factory.yaml", text)
	require.NoError(t, err)

	_ = lab.DownPrefix(labPrefix)
	g.lab, err = lab.Up(g.model, lab.Options{Prefix: labPrefix})
	require.NoError(t, err)
	t.Cleanup(func() {
		if err := g.lab.Down(); err != nil {
			t.Errorf("remove the lab: %v", err)
		}
	})
	g.addr, g.mgmt, err = g.lab.ConsoleAddr(lab.ConsolePort)
	require.NoError(t, err)

	// The fake PLC behind scada-to-plc.
	plc := g.lab.Assets["plc-1"]
	ln, err := lab.Listen(plc.NS, "tcp", net.JoinHostPort(plc.Addrs[0].String(), "502"))
	require.NoError(t, err)
	g.plc = lab.NewModbusServer()
	go func() { _ = g.plc.Serve(ln) }()
	t.Cleanup(func() { g.plc.Close() })

	dir := t.TempDir()
	state, socket, config := filepath.Join(dir, "state"), filepath.Join(dir, "api.sock"), filepath.Join(dir, "zonegate.yaml")
	settings := fmt.Sprintf(`model: %s
state_dir: %s
api:
  socket: %s
passwords:
  lockout_failures: %d
events:
  interval: 1s
console:
  listen: "%s"
`, filepath.Join(g.root, "configs", "example-factory.yaml"), state, socket, lockoutFailures, g.addr)
	require.NoError(t, os.WriteFile(config, []byte(settings), 0o600))
	cmd := lab.Command(g.lab.Gateway, bin, "serve", "--config", config)
	cmd.Stdout, cmd.Stderr = g.log, g.log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	require.NoError(t, cmd.Start())
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("zonegate's log:\n%s", g.log.String())
		}
	})

	g.cert, err = lab.WaitConsole(g.mgmt.NS, g.addr, filepath.Join(state, console.SelfSignedFile), 60*time.Second)
	require.NoError(t, err, "zonegate's log:\n%s", g.log.String())

	ctx := context.Background()
	g.api = api.NewClient(socket)
	t.Cleanup(g.api.Close)
	_, err = g.api.Init(ctx, adminUser, adminPW)
	require.NoError(t, err)
	res, err := g.api.Login(ctx, adminUser, adminPW)
	require.NoError(t, err)
	g.api.Token = res.Token
	for _, u := range []api.UserRequest{
		{Name: operatorUser, Role: "operator", Password: operatorPW},
		{Name: viewerUser, Role: "viewer", Password: viewerPW},
		{Name: lockUser, Role: "viewer", Password: lockPW},
	} {
		require.NoError(t, g.api.AddUser(ctx, u))
	}
	return g
}

// url is the console's address of a page.
func (g *gateway) url(path string) string { return "https://" + g.addr.String() + path }

// push pushes the example factory with one more service on vendor-to-eng
// (the n-th port above 22), waiting within for confirmation.
func (g *gateway) push(n int, within time.Duration) api.PushResult {
	g.t.Helper()
	text := strings.Replace(g.modelText, "services: [tcp/3389]", fmt.Sprintf("services: [tcp/3389, tcp/%d]", 22+n), 1)
	res, err := g.api.Push(context.Background(), api.PushRequest{Model: text, Comment: fmt.Sprintf("change %d", n), ConfirmWithin: within.String()})
	require.NoError(g.t, err)
	return res
}

// pushText pushes a model text and confirms it at once.
func (g *gateway) pushText(text, comment string) {
	g.t.Helper()
	_, err := g.api.Push(context.Background(), api.PushRequest{Model: text, Comment: comment, ConfirmWithin: "0s"})
	require.NoError(g.t, err)
}

// deniedModbusWrite sends, from scada-1, a write to plc-1 that
// scada-to-plc does not allow (holding register 50; the conduit allows
// 10-19) and returns the exception code the proxy answers with.
func (g *gateway) deniedModbusWrite() byte {
	g.t.Helper()
	scada, plc := g.lab.Assets["scada-1"], g.lab.Assets["plc-1"]
	c, err := lab.Dial(scada.NS, "tcp", net.JoinHostPort(plc.Addrs[0].String(), "502"), 5*time.Second)
	require.NoError(g.t, err)
	defer c.Close()
	// MBAP (transaction 7, protocol 0, length 6, unit 1), FC 6 register 50 value 1.
	req := []byte{0, 7, 0, 0, 0, 6, 1, 6, 0, 50, 0, 1}
	require.NoError(g.t, c.SetDeadline(time.Now().Add(5*time.Second)))
	_, err = c.Write(req)
	require.NoError(g.t, err)
	resp := make([]byte, 9)
	_, err = io.ReadFull(c, resp)
	require.NoError(g.t, err)
	require.Equal(g.t, uint16(7), binary.BigEndian.Uint16(resp[0:2]), "the answer to the request")
	require.Equal(g.t, byte(0x86), resp[7], "an exception to FC 6")
	return resp[8]
}
