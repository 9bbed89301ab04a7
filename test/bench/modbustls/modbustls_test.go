// Package modbustls is `make bench-modbus-tls`: Modbus/TCP Security
// through zonegate's TLS front end and Modbus proxy (in a process of
// their own) against plain Modbus/TCP through the same proxy, in
// alternating slices of the same run. It reports, as ratios of TLS to
// plain: connections per second when every connection does a handshake
// and one read (the handshake's cost), and the proxy's CPU per request
// and the latency of a long-lived session (the record layer's cost). The
// proxy's CPU is its threads' run time (/proc/PID/task/*/schedstat).
package modbustls

import (
	"bufio"
	"crypto/x509"
	"fmt"
	"github.com/zonegate/zonegate/test/bench/internal/procstat"
	"io"
	"log"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	svmodbus "github.com/simonvetter/modbus"
	"go.uber.org/zap"

	"github.com/zonegate/zonegate/protocols/inspect"
	"github.com/zonegate/zonegate/protocols/modbus"
	"github.com/zonegate/zonegate/protocols/modbustcp"
	"github.com/zonegate/zonegate/protocols/modbustls"
	"github.com/zonegate/zonegate/protocols/modbustls/tlstest"
	"github.com/zonegate/zonegate/protocols/proxy"
)

const (
	upstreamEnv = "ZONEGATE_BENCH_MBTLS_UPSTREAM"
	dirEnv      = "ZONEGATE_BENCH_MBTLS_DIR"
	conduit     = "bench"
)

// TestMain runs the proxy when the benchmark starts this binary again
// with upstreamEnv set.
func TestMain(m *testing.M) {
	if up := os.Getenv(upstreamEnv); up != "" {
		if err := runProxy(up, os.Getenv(dirEnv)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	os.Exit(m.Run())
}

// security names the files the benchmark mints in dir.
func security(dir string) *modbus.Security {
	return &modbus.Security{
		Certificate: modbus.File{Path: filepath.Join(dir, "gw.crt")},
		Key:         modbus.File{Path: filepath.Join(dir, "gw.key")},
		ClientCAs:   []modbus.File{{Path: filepath.Join(dir, "ca.crt")}},
		RequireRole: true,
	}
}

// runProxy serves the Modbus proxy in front of upstream on two loopback
// ports, printed on stdout: plain, and Modbus/TCP Security through the
// TLS front end. It stops when stdin closes.
func runProxy(upstream, dir string) error {
	spec := &modbus.Spec{
		Rules:    []modbus.Rule{{Access: modbus.AccessRead, Table: modbus.HoldingRegisters, Addresses: modbus.Range{Lo: 0, Hi: 99}}},
		Security: security(dir),
		Roles:    []modbus.RoleRules{{Name: "operator", Rules: []modbus.Rule{{Access: modbus.AccessRead, Table: modbus.HoldingRegisters, Addresses: modbus.Range{Lo: 0, Hi: 99}}}}},
	}
	pol, err := modbustcp.Inspector{}.Compile(spec)
	if err != nil {
		return err
	}
	mat, err := modbustls.Load(spec.Security)
	if err != nil {
		return err
	}
	route := proxy.Route{Upstream: netip.MustParseAddrPort(upstream), Conduit: conduit}
	px, err := modbustcp.Inspector{}.NewProxy(proxy.Config{Log: zap.NewNop(), MaxConnsPerSource: 1 << 20,
		Route: func(net.Conn) (proxy.Route, error) { return route, nil }})
	if err != nil {
		return err
	}
	if err := px.Install(map[string]proxy.Policy{conduit: pol}); err != nil {
		return err
	}
	go px.Events().Follow(func(*inspect.Event) {})
	fe := modbustls.New(px, nil)
	fe.Install(map[string]*modbustls.Material{conduit: mat})
	plain, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	secure, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	go px.Serve(plain)
	go func() {
		for {
			nc, err := secure.Accept()
			if err != nil {
				return
			}
			client := nc.RemoteAddr().(*net.TCPAddr).AddrPort()
			go fe.Handle(nc, client, route)
		}
	}()
	fmt.Println(plain.Addr(), secure.Addr())
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
	return nil
}

// plc answers reads of holding registers.
type plc struct{}

func (plc) HandleCoils(*svmodbus.CoilsRequest) ([]bool, error) {
	return nil, svmodbus.ErrIllegalFunction
}
func (plc) HandleDiscreteInputs(*svmodbus.DiscreteInputsRequest) ([]bool, error) {
	return nil, svmodbus.ErrIllegalFunction
}
func (plc) HandleInputRegisters(*svmodbus.InputRegistersRequest) ([]uint16, error) {
	return nil, svmodbus.ErrIllegalFunction
}
func (plc) HandleHoldingRegisters(r *svmodbus.HoldingRegistersRequest) ([]uint16, error) {
	return make([]uint16, r.Quantity), nil
}

func freeAddr(b *testing.B) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func BenchmarkModbusTLSGateway(b *testing.B) {
	dir := b.TempDir()
	ca := tlstest.NewCA("bench CA", time.Hour)
	gw := ca.Server("gateway", time.Hour, "127.0.0.1")
	tlstest.Write(dir, "gw.crt", tlstest.CertPEM(gw.Cert))
	tlstest.Write(dir, "gw.key", tlstest.KeyPEM(gw.Key))
	tlstest.Write(dir, "ca.crt", tlstest.CertPEM(ca.Cert))
	client := ca.Client("hmi", tlstest.ClientOpts{Roles: []string{"operator"}}).TLS()
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)

	plcAddr := freeAddr(b)
	srv, err := svmodbus.NewServer(&svmodbus.ServerConfiguration{URL: "tcp://" + plcAddr, Timeout: time.Minute, MaxClients: 4096,
		Logger: log.New(io.Discard, "", 0)}, plc{})
	if err != nil {
		b.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		b.Fatal(err)
	}
	defer srv.Stop()

	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), upstreamEnv+"="+plcAddr, dirEnv+"="+dir)
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
	addrs := strings.Fields(line)
	plainURL, tlsURL := "tcp://"+addrs[0], "tcp+tls://"+addrs[1]
	newClient := func(url string) *svmodbus.ModbusClient {
		c, err := svmodbus.NewClient(&svmodbus.ClientConfiguration{URL: url, Timeout: 10 * time.Second,
			TLSClientCert: &client, TLSRootCAs: roots, Logger: log.New(io.Discard, "", 0)})
		if err != nil {
			b.Fatal(err)
		}
		return c
	}
	read := func(c *svmodbus.ModbusClient) time.Duration {
		start := time.Now()
		if _, err := c.ReadRegisters(0, 10, svmodbus.HOLDING_REGISTER); err != nil {
			b.Fatalf("read: %v", err)
		}
		return time.Since(start)
	}
	// connect opens a connection, reads once and closes it.
	connect := func(url string) time.Duration {
		start := time.Now()
		c := newClient(url)
		if err := c.Open(); err != nil {
			b.Fatalf("open %s: %v", url, err)
		}
		read(c)
		c.Close()
		return time.Since(start)
	}
	pid := cmd.Process.Pid
	plainSess, tlsSess := newClient(plainURL), newClient(tlsURL)
	for _, c := range []*svmodbus.ModbusClient{plainSess, tlsSess} {
		if err := c.Open(); err != nil {
			b.Fatal(err)
		}
		defer c.Close()
	}
	for range 50 {
		read(plainSess)
		read(tlsSess)
		connect(plainURL)
		connect(tlsURL)
	}

	const rounds = 6
	reqs := max(b.N/rounds, 200)
	conns := max(b.N/rounds/10, 50)
	var plainLat, tlsLat []time.Duration
	var plainCPU, tlsCPU, plainConnCPU, tlsConnCPU, plainConnTime, tlsConnTime time.Duration
	b.ResetTimer()
	for r := range rounds {
		for k := range 2 {
			secure := (r+k)%2 == 1
			sess, url := plainSess, plainURL
			lat, cpu, connCPU, connTime := &plainLat, &plainCPU, &plainConnCPU, &plainConnTime
			if secure {
				sess, url = tlsSess, tlsURL
				lat, cpu, connCPU, connTime = &tlsLat, &tlsCPU, &tlsConnCPU, &tlsConnTime
			}
			p := procstat.CPUTime(pid)
			for range reqs {
				*lat = append(*lat, read(sess))
			}
			*cpu += procstat.CPUTime(pid) - p
			p = procstat.CPUTime(pid)
			start := time.Now()
			for range conns {
				connect(url)
			}
			*connTime += time.Since(start)
			*connCPU += procstat.CPUTime(pid) - p
		}
	}
	b.StopTimer()
	nReq, nConn := float64(len(plainLat)), float64(rounds*conns)
	plainReqCPU, tlsReqCPU := time.Duration(float64(plainCPU)/nReq), time.Duration(float64(tlsCPU)/nReq)
	plainRate, tlsRate := nConn/plainConnTime.Seconds(), nConn/tlsConnTime.Seconds()
	plainPerConn, tlsPerConn := time.Duration(float64(plainConnCPU)/nConn), time.Duration(float64(tlsConnCPU)/nConn)
	p50, t50 := procstat.Percentile(plainLat, 0.5), procstat.Percentile(tlsLat, 0.5)
	b.ReportMetric(tlsRate, "tls-conns/s")
	b.ReportMetric(tlsRate/plainRate, "conns/s-tls/plain")
	b.ReportMetric(float64(tlsPerConn)/float64(plainPerConn), "proxy-cpu/conn-tls/plain")
	b.ReportMetric(float64(tlsReqCPU)/float64(plainReqCPU), "proxy-cpu/req-tls/plain")
	b.ReportMetric(float64(t50)/float64(p50), "p50-tls/plain")
	b.Logf("%d requests per path on one long-lived connection each, %d connections (handshake + one read) per path, %d alternating slices; ECDSA P-256, TLS 1.3; machine shared with other builds",
		len(plainLat), int(nConn), 2*rounds)
	b.Logf("connections/s (one client, sequential): plain %.0f, TLS %.0f, ratio %.3f", plainRate, tlsRate, tlsRate/plainRate)
	b.Logf("proxy CPU per connection: plain %v, TLS %v, ratio %.2f", plainPerConn, tlsPerConn, float64(tlsPerConn)/float64(plainPerConn))
	b.Logf("proxy CPU per request of a long-lived session: plain %v, TLS %v, ratio %.2f", plainReqCPU, tlsReqCPU, float64(tlsReqCPU)/float64(plainReqCPU))
	b.Logf("request latency p50: plain %v, TLS %v, ratio %.2f", p50, t50, float64(t50)/float64(p50))
}
