// Package opcua is `make bench-opcua`: a gopcua client reading 100 nodes
// per request over a Basic256Sha256 Sign channel, through zonegate's OPC
// UA proxy (in a process of its own, with full inspection: a read_only
// conduit, so that every request body is decoded and checked) and
// directly, in alternating slices of the same run. It reports the
// latency the proxy adds (p50, p99, as ratios to the direct path) and the
// proxy's CPU per request (its threads' run time from
// /proc/PID/task/*/schedstat), also as a ratio to what the client and
// the server together spend per request.
package opcua

import (
	"bufio"
	"context"
	"fmt"
	"github.com/zonegate/zonegate/test/bench/internal/procstat"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/gopcua/opcua/ua"
	"go.uber.org/zap"

	"github.com/zonegate/zonegate/protocols/inspect"
	"github.com/zonegate/zonegate/protocols/opcua"
	"github.com/zonegate/zonegate/protocols/opcuatcp"
	"github.com/zonegate/zonegate/protocols/proxy"
	"github.com/zonegate/zonegate/test/uatest"
)

const proxyEnv = "ZONEGATE_BENCH_OPCUA_UPSTREAM"

// TestMain runs the proxy when the benchmark starts this binary again
// with proxyEnv set.
func TestMain(m *testing.M) {
	if up := os.Getenv(proxyEnv); up != "" {
		if err := runProxy(up); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	os.Exit(m.Run())
}

// runProxy serves the OPC UA proxy on a loopback port (printed on
// stdout) in front of upstream until stdin closes.
func runProxy(upstream string) error {
	in := opcuatcp.Inspector{}
	pol, err := in.Compile(&opcua.Spec{Services: []string{opcua.PresetReadOnly}})
	if err != nil {
		return err
	}
	up := netip.MustParseAddrPort(upstream)
	px, err := in.NewProxy(proxy.Config{Log: zap.NewNop(),
		Route: func(net.Conn) (proxy.Route, error) { return proxy.Route{Upstream: up, Conduit: "bench"}, nil }})
	if err != nil {
		return err
	}
	if err := px.Install(map[string]proxy.Policy{"bench": pol}); err != nil {
		return err
	}
	go px.Events().Follow(func(*inspect.Event) {})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	go px.Serve(ln)
	fmt.Println(ln.Addr())
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
	return nil
}

func BenchmarkOPCUAGateway(b *testing.B) {
	srv := uatest.StartServer(b, "127.0.0.1", uatest.FreePort(b, "127.0.0.1"))
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), proxyEnv+"="+fmt.Sprintf("127.0.0.1:%d", srv.Port))
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { stdin.Close(); cmd.Wait() }()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		b.Fatalf("proxy: %v", err)
	}
	proxyURL := "opc.tcp://" + strings.TrimSpace(line)

	ca := uatest.NewCA(b, "bench CA")
	cert := ca.Issue(b, "bench", time.Now().Add(-time.Hour), time.Now().Add(time.Hour), 2048)
	ctx := context.Background()
	direct, err := uatest.Client(ctx, srv.URL(), "Basic256Sha256", "Sign", cert, srv.CertDER)
	if err != nil {
		b.Fatal(err)
	}
	defer direct.Close(ctx)
	gw, err := uatest.Client(ctx, proxyURL, "Basic256Sha256", "Sign", cert, srv.CertDER)
	if err != nil {
		b.Fatal(err)
	}
	defer gw.Close(ctx)
	req := &ua.ReadRequest{TimestampsToReturn: ua.TimestampsToReturnNeither}
	for i := range uatest.Tags {
		req.NodesToRead = append(req.NodesToRead, &ua.ReadValueID{NodeID: uatest.Node(uatest.Tag(i)), AttributeID: ua.AttributeIDValue})
	}
	read := func(c interface {
		Read(context.Context, *ua.ReadRequest) (*ua.ReadResponse, error)
	}) time.Duration {
		start := time.Now()
		resp, err := c.Read(ctx, req)
		if err != nil || len(resp.Results) != uatest.Tags || resp.Results[99].Status != ua.StatusOK {
			b.Fatalf("read of %d nodes: %v", uatest.Tags, err)
		}
		return time.Since(start)
	}
	for range 50 {
		read(direct)
		read(gw)
	}
	const rounds = 6
	perSlice := max(b.N/rounds, 50)
	var dLat, gLat []time.Duration
	var proxyCPU, selfDirect time.Duration
	b.ResetTimer()
	for r := range rounds {
		for k := range 2 {
			if (r+k)%2 == 0 {
				s := procstat.CPUTime(0)
				for range perSlice {
					dLat = append(dLat, read(direct))
				}
				selfDirect += procstat.CPUTime(0) - s
			} else {
				p := procstat.CPUTime(cmd.Process.Pid)
				for range perSlice {
					gLat = append(gLat, read(gw))
				}
				proxyCPU += procstat.CPUTime(cmd.Process.Pid) - p
			}
		}
	}
	b.StopTimer()
	n := float64(len(gLat))
	d50, d99, g50, g99 := procstat.Percentile(dLat, 0.5), procstat.Percentile(dLat, 0.99), procstat.Percentile(gLat, 0.5), procstat.Percentile(gLat, 0.99)
	cpuReq := time.Duration(float64(proxyCPU) / n)
	directReq := time.Duration(float64(selfDirect) / float64(len(dLat)))
	b.ReportMetric(float64(g50)/float64(d50), "p50-ratio")
	b.ReportMetric(float64(g99)/float64(d99), "p99-ratio")
	b.ReportMetric(float64(cpuReq.Nanoseconds())/1e3, "proxy-cpu-µs/req")
	b.ReportMetric(float64(cpuReq)/float64(directReq), "proxy-cpu/client+server")
	b.Logf("%d reads of %d nodes per path, Basic256Sha256 Sign, %d alternating slices; machine shared with other builds", len(gLat), uatest.Tags, 2*rounds)
	b.Logf("direct:  p50 %v  p99 %v", d50, d99)
	b.Logf("gateway: p50 %v  p99 %v  (added p50 %v, p99 %v)", g50, g99, g50-d50, g99-d99)
	b.Logf("gateway/direct: p50 %.2f, p99 %.2f", float64(g50)/float64(d50), float64(g99)/float64(d99))
	b.Logf("proxy CPU per request %v; client+server CPU per request (direct) %v; ratio %.3f", cpuReq, directReq, float64(cpuReq)/float64(directReq))
}
