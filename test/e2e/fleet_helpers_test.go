package e2e

// Helpers of the fleet end-to-end test (fleet_test.go): a controller
// namespace running Debian's ansible-core against three gateway namespaces,
// each with its own sshd (keys made here), `zonegate serve` (own settings
// file, state directory and socket: the gateways share this machine's
// filesystem), a cell host and a PLC host with a flow through the gateway,
// and a TLS syslog collector (rsyslog with configs/ansible's snippet) in the
// controller namespace. Every name starts with "fl".

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/zonegate/zonegate/gateway/api"
	"github.com/zonegate/zonegate/test/lab"
	"github.com/zonegate/zonegate/test/prereq"
)

const (
	flCtlPrefix = "zgfl0"
	flGateways  = 3
	flPlcPort   = 8502
	// Passwords of the accounts the playbooks create (in the vault).
	flAdminPW   = "Granite-Willow-Beacon-53"
	flAnsiblePW = "Saffron-Kettle-Meridian-17"
	flShiftPW   = "Cobalt-Harvest-Lantern-92"
	flVaultPW   = "Orchid-Tunnel-Sextant-40"
)

// flModel is the zone model of gateway i: a management zone towards the
// controller, a cell and a PLC zone. version "a" adds a conduit from the
// management zone to the PLC; version "b" is "a" with the mistake a
// canary must catch: the cell's conduit to the PLC on the wrong port.
func flModel(i int, version string) string {
	m := fmt.Sprintf(`version: 1
gateway:
  name: fl%[1]d-gw
  management:
    zones: [mgmt]
zones:
  - name: mgmt
    importance: medium
    interfaces: [mgmt]
    networks: [198.18.7%[1]d.0/24]
  - name: cell
    importance: medium
    interfaces: [cell]
    networks: [198.18.81.0/24]
  - name: plc
    importance: high
    interfaces: [plc]
    networks: [198.18.82.0/24]
conduits:
  - name: cell-to-plc
    from: cell
    to: plc
    services: [tcp/%[2]d]
`, i, flPlcPort)
	if version == "a" || version == "b" {
		m += fmt.Sprintf(`  - name: mgmt-to-plc
    from: mgmt
    to: plc
    services: [tcp/%d]
`, flPlcPort)
	}
	if version == "b" {
		m = strings.Replace(m, fmt.Sprintf("services: [tcp/%d]\n  - name: mgmt-to-plc", flPlcPort), fmt.Sprintf("services: [tcp/%d]\n  - name: mgmt-to-plc", flPlcPort+1), 1)
	}
	return m
}

// flFleet is the whole set-up.
type flFleet struct {
	dir      string
	bin      string
	ctlNS    string
	gws      []*flGateway
	ansible  string // ansible-playbook
	configs  string // configs/ansible of this checkout
	sshDir   string
	invDir   string
	syslog   string // where the collector writes
	stopOnce sync.Once
	stop     chan struct{}
}

// flGateway is one gateway namespace with its daemon under a supervisor
// that restarts it when it exits (as systemd's unit does), so that the
// settings role's restart command works here too.
type flGateway struct {
	i                  int
	name               string // inventory name = the model's gateway name
	ns, cellNS, plcNS  string
	mgmtAddr, ctlAddr  string
	dir, config, state string
	socket             string
	bin                string

	mu       sync.Mutex
	cmd      *exec.Cmd
	stopping bool
	done     chan struct{}
	log      *mgSyncBuffer
	flows    atomic.Int64 // connections the cell host opened to the PLC
}

func flRun(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func flIP(t *testing.T, args ...string) { t.Helper(); flRun(t, "ip", args...) }

// flNewFleet builds the namespaces and starts sshd, the daemons, the
// flows and the syslog collector.
func flNewFleet(t *testing.T, bin string) *flFleet {
	t.Helper()
	dir := mgTempDir(t)
	f := &flFleet{dir: dir, bin: bin, ctlNS: flCtlPrefix + "-z-ctl", stop: make(chan struct{}),
		ansible: prereq.Command(t, "ansible-playbook", "ansible-core"),
		configs: repoFile(t, "configs/ansible"),
		sshDir:  filepath.Join(dir, "ssh"), invDir: filepath.Join(dir, "inventory"), syslog: filepath.Join(dir, "syslog")}
	for _, p := range f.prefixes() {
		_ = lab.DownPrefix(p)
	}
	t.Cleanup(func() {
		f.stopOnce.Do(func() { close(f.stop) })
		for _, g := range f.gws {
			g.stopDaemon(t)
		}
		for _, p := range f.prefixes() {
			if err := lab.DownPrefix(p); err != nil {
				t.Errorf("remove namespaces %s-*: %v", p, err)
			}
		}
	})
	flIP(t, "netns", "add", f.ctlNS)
	flIP(t, "-n", f.ctlNS, "link", "set", "lo", "up")
	for i := 1; i <= flGateways; i++ {
		f.gws = append(f.gws, f.addGateway(t, i))
	}
	for _, d := range []string{f.sshDir, f.syslog, filepath.Join(dir, "models")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	f.writeModels(t)
	f.startSSH(t)
	f.startCollector(t)
	for _, g := range f.gws {
		g.startDaemon(t)
		go g.flow(f.stop)
	}
	f.writeInventory(t)
	return f
}

func (f *flFleet) prefixes() []string {
	out := []string{flCtlPrefix}
	for i := 1; i <= flGateways; i++ {
		out = append(out, fmt.Sprintf("zgfl%d", i))
	}
	return out
}

// addGateway builds gateway i: its namespace with interfaces mgmt (to the
// controller), cell and plc (to a host each), addresses and routes.
func (f *flFleet) addGateway(t *testing.T, i int) *flGateway {
	t.Helper()
	p := fmt.Sprintf("zgfl%d", i)
	g := &flGateway{i: i, name: fmt.Sprintf("fl%d-gw", i), ns: lab.GatewayNS(p), cellNS: p + "-z-cell", plcNS: p + "-z-plc",
		mgmtAddr: fmt.Sprintf("198.18.7%d.2", i), ctlAddr: fmt.Sprintf("198.18.7%d.1", i),
		dir: filepath.Join(f.dir, fmt.Sprintf("gw%d", i)), bin: f.bin, log: &mgSyncBuffer{}}
	g.config, g.state, g.socket = filepath.Join(g.dir, "zonegate.yaml"), filepath.Join(g.dir, "state"), filepath.Join(g.dir, "api.sock")
	if err := os.MkdirAll(filepath.Join(g.dir, "ansible-tmp"), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, ns := range []string{g.ns, g.cellNS, g.plcNS} {
		flIP(t, "netns", "add", ns)
		flIP(t, "-n", ns, "link", "set", "lo", "up")
	}
	lab.Command(g.ns, "sysctl", "-qw", "net.ipv4.ip_forward=1").Run()
	// controller <-> gateway management
	ctlIf := fmt.Sprintf("gw%d", i)
	flIP(t, "link", "add", ctlIf, "netns", f.ctlNS, "type", "veth", "peer", "name", "mgmt", "netns", g.ns)
	flIP(t, "-n", f.ctlNS, "addr", "add", g.ctlAddr+"/24", "dev", ctlIf)
	flIP(t, "-n", f.ctlNS, "link", "set", ctlIf, "up")
	flIP(t, "-n", g.ns, "addr", "add", g.mgmtAddr+"/24", "dev", "mgmt")
	flIP(t, "-n", g.ns, "link", "set", "mgmt", "up")
	// gateway <-> cell host, gateway <-> PLC host
	for _, side := range []struct{ ifname, ns, net string }{{"cell", g.cellNS, "198.18.81"}, {"plc", g.plcNS, "198.18.82"}} {
		flIP(t, "link", "add", side.ifname, "netns", g.ns, "type", "veth", "peer", "name", "eth0", "netns", side.ns)
		flIP(t, "-n", g.ns, "addr", "add", side.net+".1/24", "dev", side.ifname)
		flIP(t, "-n", g.ns, "link", "set", side.ifname, "up")
		flIP(t, "-n", side.ns, "addr", "add", side.net+".10/24", "dev", "eth0")
		flIP(t, "-n", side.ns, "link", "set", "eth0", "up")
		flIP(t, "-n", side.ns, "route", "add", "default", "via", side.net+".1")
	}
	// The PLC accepts and closes connections on its port.
	ln, err := lab.Listen(g.plcNS, "tcp", fmt.Sprintf("198.18.82.10:%d", flPlcPort))
	if err != nil {
		t.Fatalf("listen in %s: %v", g.plcNS, err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return g
}

// flow opens a connection from the cell host to the PLC every 200 ms,
// as a SCADA poll would: each is a new flow the conduit counts.
func (g *flGateway) flow(stop <-chan struct{}) {
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		if g.dialPLC(300*time.Millisecond) == nil {
			g.flows.Add(1)
		}
	}
}

// dialPLC connects from the cell host to the PLC through the gateway.
func (g *flGateway) dialPLC(timeout time.Duration) error {
	return lab.Do(g.cellNS, func() error {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("198.18.82.10:%d", flPlcPort), timeout)
		if err != nil {
			return err
		}
		return c.Close()
	})
}

func (f *flFleet) modelPath(version string, g *flGateway) string {
	return filepath.Join(f.dir, "models", version, g.name+".yaml")
}

func (f *flFleet) writeModels(t *testing.T) {
	t.Helper()
	for _, v := range []string{"base", "a", "b"} {
		if err := os.MkdirAll(filepath.Join(f.dir, "models", v), 0o700); err != nil {
			t.Fatal(err)
		}
		for _, g := range f.gws {
			mgWrite(t, f.modelPath(v, g), flModel(g.i, v))
		}
	}
	for _, g := range f.gws {
		// The settings the gateway starts with; the settings role rewrites
		// the file later.
		mgWrite(t, g.config, fmt.Sprintf("model: %s\nstate_dir: %s\napi:\n  socket: %s\n", f.modelPath("base", g), g.state, g.socket))
	}
}

// startSSH makes the keys (a host key per gateway, the controller's
// client key), known_hosts, and runs sshd in every gateway namespace.
func (f *flFleet) startSSH(t *testing.T) {
	t.Helper()
	sshd := prereq.Command(t, "sshd", "openssh-server")
	keygen := prereq.Command(t, "ssh-keygen", "openssh-client")
	flRun(t, keygen, "-q", "-t", "ed25519", "-N", "", "-C", "fleet-controller", "-f", filepath.Join(f.sshDir, "id_ed25519"))
	pub, err := os.ReadFile(filepath.Join(f.sshDir, "id_ed25519.pub"))
	if err != nil {
		t.Fatal(err)
	}
	mgWrite(t, filepath.Join(f.sshDir, "authorized_keys"), string(pub))
	// sshd's privilege separation directory.
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		t.Fatal(err)
	}
	var known strings.Builder
	for _, g := range f.gws {
		key := filepath.Join(f.sshDir, g.name+"_host_ed25519")
		flRun(t, keygen, "-q", "-t", "ed25519", "-N", "", "-C", g.name, "-f", key)
		hp, err := os.ReadFile(key + ".pub")
		if err != nil {
			t.Fatal(err)
		}
		fields := strings.Fields(string(hp))
		fmt.Fprintf(&known, "%s %s %s\n", g.mgmtAddr, fields[0], fields[1])
		conf := filepath.Join(f.sshDir, g.name+"_sshd_config")
		mgWrite(t, conf, fmt.Sprintf(`ListenAddress %s
HostKey %s
PidFile none
AuthorizedKeysFile %s
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
UsePAM no
StrictModes no
Subsystem sftp /usr/lib/openssh/sftp-server
`, g.mgmtAddr, key, filepath.Join(f.sshDir, "authorized_keys")))
		cmd := lab.Command(g.ns, sshd, "-D", "-e", "-f", conf)
		log := &mgSyncBuffer{}
		cmd.Stdout, cmd.Stderr = log, log
		if err := cmd.Start(); err != nil {
			t.Fatalf("start sshd in %s: %v", g.ns, err)
		}
		t.Cleanup(func() {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			_ = cmd.Wait()
		})
		f.waitTCP(t, g.mgmtAddr+":22", func() string { return log.String() })
	}
	mgWrite(t, filepath.Join(f.sshDir, "known_hosts"), known.String())
}

// dialCtl connects from the controller namespace.
func (f *flFleet) dialCtl(ctx context.Context, addr string) (net.Conn, error) {
	var c net.Conn
	err := lab.Do(f.ctlNS, func() error {
		var err error
		d := net.Dialer{Timeout: 3 * time.Second}
		c, err = d.DialContext(ctx, "tcp", addr)
		return err
	})
	return c, err
}

// waitTCP waits until addr accepts connections from the controller.
func (f *flFleet) waitTCP(t *testing.T, addr string, log func() string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := f.dialCtl(context.Background(), addr)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s does not accept connections from the controller after 30s: %v\n%s", addr, err, log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// httpGet fetches a URL from the controller namespace.
func (f *flFleet) httpGet(url string) (string, error) {
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) { return f.dialCtl(ctx, addr) }}}
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return string(b), fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return string(b), err
}

// startCollector runs rsyslogd in the controller namespace with the
// repository's collector snippet (its TLS files and log directory moved
// into the test directory) and a CA and certificate made here.
func (f *flFleet) startCollector(t *testing.T) {
	t.Helper()
	rsyslogd := prereq.Command(t, "rsyslogd", "rsyslog")
	if m, _ := filepath.Glob("/usr/lib/*/rsyslog/lmnsd_gtls.so"); len(m) == 0 {
		t.Skip("skipping: rsyslog's GnuTLS driver is not installed (Debian package rsyslog-gnutls; `make deps` installs it)")
	}
	tlsDir := filepath.Join(f.dir, "tls")
	var ips []net.IP
	for _, g := range f.gws {
		ips = append(ips, net.ParseIP(g.ctlAddr))
	}
	flWriteCerts(t, tlsDir, ips)
	snippet, err := os.ReadFile(filepath.Join(f.configs, "monitoring", "rsyslog-zonegate.conf"))
	if err != nil {
		t.Fatal(err)
	}
	conf := strings.NewReplacer("/etc/rsyslog.d/zonegate/", tlsDir+"/", "/var/log/zonegate/", f.syslog+"/").Replace(string(snippet))
	work := filepath.Join(f.dir, "rsyslog-work")
	if err := os.MkdirAll(work, 0o700); err != nil {
		t.Fatal(err)
	}
	conf = fmt.Sprintf("global(workDirectory=%q)\n", work) + conf
	path := filepath.Join(f.dir, "rsyslog.conf")
	mgWrite(t, path, conf)
	if out, err := exec.Command(rsyslogd, "-N1", "-f", path).CombinedOutput(); err != nil {
		t.Fatalf("rsyslogd -N1 refuses configs/ansible/monitoring/rsyslog-zonegate.conf: %v\n%s", err, out)
	}
	cmd := lab.Command(f.ctlNS, rsyslogd, "-n", "-f", path, "-i", filepath.Join(f.dir, "rsyslogd.pid"))
	log := &mgSyncBuffer{}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatalf("start rsyslogd: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	})
	f.waitTCP(t, f.gws[0].ctlAddr+":6514", log.String)
}

// flWriteCerts writes ca.pem, and collector.pem and collector.key for the
// collector's addresses.
func flWriteCerts(t *testing.T, dir string, ips []net.IP) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "fleet test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "syslog collector"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IPAddresses: ips,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, typ string, b []byte) {
		mgWrite(t, filepath.Join(dir, name), string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b})))
	}
	write("ca.pem", "CERTIFICATE", caDER)
	write("collector.pem", "CERTIFICATE", der)
	write("collector.key", "EC PRIVATE KEY", kb)
}

// startDaemon starts the supervisor of the gateway's `zonegate serve
// --config` and waits until the API answers.
func (g *flGateway) startDaemon(t *testing.T) {
	t.Helper()
	g.done = make(chan struct{})
	up := make(chan error, 1)
	mgWrite(t, g.restartScript(), fmt.Sprintf(`#!/bin/sh
# Restarts %[1]s's zonegate and returns once it serves its API again, as
# systemctl restart does with the shipped unit. The test's supervisor
# starts it again and counts the starts in %[2]s.
old=$(cat %[2]s)
kill -TERM "$(cat %[3]s)" || exit 1
i=0
while [ "$(cat %[2]s)" = "$old" ]; do
	i=$((i + 1))
	[ "$i" -gt 600 ] && { echo "zonegate did not come back within 60s" >&2; exit 1; }
	sleep 0.1
done
`, g.name, g.startsFile(), g.pidFile()))
	if err := os.Chmod(g.restartScript(), 0o755); err != nil {
		t.Fatal(err)
	}
	go g.supervise(up)
	if err := <-up; err != nil {
		t.Fatalf("%s: %v\n%s", g.name, err, mgTail(g.log.String(), 30))
	}
}

func (g *flGateway) restartScript() string { return filepath.Join(g.dir, "restart.sh") }
func (g *flGateway) pidFile() string       { return filepath.Join(g.dir, "zonegate.pid") }
func (g *flGateway) startsFile() string    { return filepath.Join(g.dir, "starts") }

// supervise runs the daemon again whenever it exits until stopDaemon;
// the first start's result goes to up.
func (g *flGateway) supervise(up chan<- error) {
	defer close(g.done)
	for starts := 1; ; starts++ {
		g.mu.Lock()
		if g.stopping {
			g.mu.Unlock()
			return
		}
		cmd := lab.Command(g.ns, g.bin, "serve", "--config", g.config)
		cmd.Stdout, cmd.Stderr = g.log, g.log
		err := cmd.Start()
		g.cmd = cmd
		g.mu.Unlock()
		if err != nil {
			up <- err
			return
		}
		_ = os.WriteFile(g.pidFile(), []byte(strconv.Itoa(cmd.Process.Pid)), 0o600)
		exited := make(chan struct{})
		go func() { _ = cmd.Wait(); close(exited) }()
		if err := g.waitAPI(exited); err != nil {
			if starts == 1 {
				up <- err
				return
			}
			fmt.Fprintf(g.log, "supervisor: start %d: %v\n", starts, err)
		} else {
			_ = os.WriteFile(g.startsFile(), []byte(strconv.Itoa(starts)), 0o600)
			if starts == 1 {
				up <- nil
			}
		}
		<-exited
	}
}

// waitAPI waits until the daemon's API answers (401 without a session).
func (g *flGateway) waitAPI(exited <-chan struct{}) error {
	c := api.NewClient(g.socket)
	defer c.Close()
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-exited:
			return errors.New("zonegate serve ended before its API answered")
		default:
		}
		var ae *api.Error
		if _, err := c.Status(context.Background()); errors.As(err, &ae) && ae.Status == http.StatusUnauthorized {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the API does not answer on %s after 60s", g.socket)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (g *flGateway) stopDaemon(t *testing.T) {
	t.Helper()
	g.mu.Lock()
	g.stopping = true
	cmd := g.cmd
	g.mu.Unlock()
	if cmd == nil || g.done == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-g.done:
	case <-time.After(20 * time.Second):
		t.Errorf("%s: zonegate serve did not stop within 20s of SIGTERM; killing it", g.name)
		_ = cmd.Process.Kill()
		<-g.done
	}
}

// cli runs a zonegate client command against the gateway as the test's
// own observer (a viewer session of its own).
func (g *flGateway) cli(t *testing.T, args ...string) string {
	t.Helper()
	sess := filepath.Join(g.dir, "observer-session.json")
	run := func(stdin string, args ...string) (string, string, error) {
		cmd := exec.Command(g.bin, args...)
		cmd.Env = append(os.Environ(), "ZONEGATE_SOCKET="+g.socket, "ZONEGATE_SESSION="+sess)
		cmd.Stdin = strings.NewReader(stdin)
		var o, e bytes.Buffer
		cmd.Stdout, cmd.Stderr = &o, &e
		err := cmd.Run()
		return o.String(), e.String(), err
	}
	if _, err := os.Stat(sess); err != nil {
		if o, e, err := run(flShiftPW+"\n", "login", flObserver); err != nil {
			t.Fatalf("%s: login shift-lead: %v\n%s%s", g.name, err, o, e)
		}
	}
	o, e, err := run("", args...)
	if err != nil {
		t.Fatalf("%s: zonegate %s: %v\n%s%s", g.name, strings.Join(args, " "), err, o, e)
	}
	return o
}

func (g *flGateway) status(t *testing.T) api.Status {
	t.Helper()
	var st api.Status
	out := g.cli(t, "status", "--json")
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("%s: status --json: %v\n%s", g.name, err, out)
	}
	return st
}

// audit is the gateway's audit log (zonegate audit show --json).
func (g *flGateway) audit(t *testing.T) []mgRecord {
	t.Helper()
	return mgAuditShow(t, g.bin, filepath.Join(g.state, "audit"))
}

// flObserver is the account the test reads the gateways' status with.
const flObserver = "shift-lead"

// flManagement keeps the records of the management plane (accounts,
// configuration, settings) after sequence number after, but not the test
// observer's own logins.
func flManagement(recs []mgRecord, after uint64) []mgRecord {
	var out []mgRecord
	for _, r := range recs {
		if r.Seq > after && (r.Category == "account" || r.Category == "config") && r.Actor != flObserver {
			out = append(out, r)
		}
	}
	return out
}

// flRefusedBefore leaves out the records of API calls refused before t:
// the daemon gathers refused calls for a minute (httpapi.UnauthInterval)
// and records them then, so calls of an earlier step can be written after
// a later step's mark.
func flRefusedBefore(recs []mgRecord, t time.Time) []mgRecord {
	var out []mgRecord
	for _, r := range recs {
		if first, err := time.Parse(time.RFC3339Nano, r.Details["first"]); r.Action == "unauthenticated" && err == nil && first.Before(t) {
			continue
		}
		out = append(out, r)
	}
	return out
}

func flLastSeq(recs []mgRecord) uint64 {
	if len(recs) == 0 {
		return 0
	}
	return recs[len(recs)-1].Seq
}

// writeInventory writes the test's inventory in the example's shape
// (plant -> lines -> gateways, a canary group) with per-gateway paths,
// and the vault, encrypted with ansible-vault.
func (f *flFleet) writeInventory(t *testing.T) {
	t.Helper()
	gv := filepath.Join(f.invDir, "group_vars", "plant")
	if err := os.MkdirAll(gv, 0o700); err != nil {
		t.Fatal(err)
	}
	var hosts strings.Builder
	host := func(g *flGateway) string {
		return fmt.Sprintf(`        %[1]s:
          ansible_host: %[2]s
          zonegate_socket: %[3]s
          zonegate_config: %[4]s
          zonegate_state_dir: %[5]s
          zonegate_model_path: %[6]s
          zonegate_model_file: %[7]s
          zonegate_metrics_listen: "%[2]s:9469"
          zonegate_syslog:
            - {address: "%[8]s:6514", transport: tls, ca_file: %[9]s}
          zonegate_restart_command: %[10]s
          ansible_remote_tmp: %[11]s
          fleet_cell_ns: %[12]s
`, g.name, g.mgmtAddr, g.socket, g.config, g.state, f.modelPath("base", g),
			filepath.Join(f.dir, "models", "{{ rollout_model }}", g.name+".yaml"),
			g.ctlAddr, filepath.Join(f.dir, "tls", "ca.pem"), g.restartScript(), filepath.Join(g.dir, "ansible-tmp"), g.cellNS)
	}
	fmt.Fprintf(&hosts, "plant:\n  children:\n    line1:\n      hosts:\n%s    line2:\n      hosts:\n%s%s",
		host(f.gws[0]), host(f.gws[1]), host(f.gws[2]))
	fmt.Fprintf(&hosts, "  vars:\n    zonegate_site: test-plant\ncanary:\n  hosts:\n    %s:\n", f.gws[0].name)
	mgWrite(t, filepath.Join(f.invDir, "plant.yml"), hosts.String())

	mgWrite(t, filepath.Join(gv, "main.yml"), fmt.Sprintf(`---
ansible_user: root
ansible_python_interpreter: /usr/bin/python3
ansible_ssh_private_key_file: %[1]s/id_ed25519
ansible_ssh_common_args: "-o UserKnownHostsFile=%[1]s/known_hosts -o StrictHostKeyChecking=yes"
zonegate_bin: %[2]s
zonegate_controller_bin: %[2]s
zonegate_login_user: ansible
zonegate_login_password: "{{ vault_zonegate_ansible_password }}"
zonegate_admin_user: fleet-admin
zonegate_admin_password: "{{ vault_zonegate_admin_password }}"
zonegate_confirm_within: 30s
zonegate_health_checks:
  - name: the PLC answers the cell host through the gateway
    command: [ip, netns, exec, "{{ fleet_cell_ns }}", /usr/bin/python3, -c, "import socket; socket.create_connection(('198.18.82.10', %[3]d), 2).close()"]
    retries: 2
    delay: 1
  - name: the cell's flows to the PLC still pass
    counter: conduit_cell-to-plc
    within: 8
zonegate_accounts:
  - {name: ansible, role: engineer}
  - {name: shift-lead, role: operator}
zonegate_account_passwords:
  ansible: "{{ vault_zonegate_ansible_password }}"
  shift-lead: "{{ vault_zonegate_shift_lead_password }}"
`, f.sshDir, f.bin, flPlcPort))

	vault := filepath.Join(gv, "vault.yml")
	mgWrite(t, vault, fmt.Sprintf("---\nvault_zonegate_admin_password: %q\nvault_zonegate_ansible_password: %q\nvault_zonegate_shift_lead_password: %q\n",
		flAdminPW, flAnsiblePW, flShiftPW))
	mgWrite(t, f.vaultPassFile(), flVaultPW+"\n")
	av := prereq.Command(t, "ansible-vault", "ansible-core")
	cmd := exec.Command(av, "encrypt", "--vault-password-file", f.vaultPassFile(), vault)
	cmd.Env = f.ansibleEnv()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ansible-vault encrypt: %v\n%s", err, out)
	}
}

func (f *flFleet) vaultPassFile() string { return filepath.Join(f.dir, "vault-pass") }

func (f *flFleet) ansibleEnv() []string {
	home := filepath.Join(f.dir, "home")
	_ = os.MkdirAll(home, 0o700)
	return append(os.Environ(),
		"HOME="+home,
		"ANSIBLE_CONFIG="+filepath.Join(f.configs, "ansible.cfg"),
		"ANSIBLE_LOCAL_TEMP="+filepath.Join(home, "tmp"),
		"ANSIBLE_STDOUT_CALLBACK=default",
		"ANSIBLE_NOCOLOR=1",
		"ANSIBLE_FORCE_COLOR=0",
		"ANSIBLE_DEPRECATION_WARNINGS=0",
	)
}

// flResult is what a playbook run did: the PLAY RECAP of the default
// output (what an operator sees) and each host's last task result, as the
// tree callback writes it (JSON without the diff, which the output shows).
type flResult struct {
	Stats   map[string]flStats
	Results map[string]map[string]any
	out     string
	stderr  string
	code    int
}

type flStats struct{ Ok, Changed, Unreachable, Failed int }

var flRecap = regexp.MustCompile(`(?m)^(\S+)\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)`)

func (r flResult) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, mgTail(r.out, 200), r.stderr)
}

// play runs a playbook of configs/ansible on the controller namespace.
func (f *flFleet) play(t *testing.T, playbook string, args ...string) flResult {
	t.Helper()
	tree, err := os.MkdirTemp(f.dir, "tree")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	full := append([]string{"netns", "exec", f.ctlNS, f.ansible, "-i", filepath.Join(f.invDir, "plant.yml"),
		"--vault-password-file", f.vaultPassFile(), filepath.Join(f.configs, "playbooks", playbook)}, args...)
	cmd := exec.CommandContext(ctx, "ip", full...)
	cmd.Dir = f.configs
	cmd.Env = append(f.ansibleEnv(), "ANSIBLE_CALLBACKS_ENABLED=ansible.builtin.tree", "ANSIBLE_CALLBACK_TREE_DIR="+tree)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	r := flResult{out: o.String(), stderr: e.String(), Stats: map[string]flStats{}, Results: map[string]map[string]any{}}
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("ansible-playbook %s: %v", playbook, err)
		}
		r.code = ee.ExitCode()
	}
	t.Logf("ansible-playbook %s %s: exit %d\n%s", playbook, strings.Join(args, " "), r.code, r.out)
	for _, m := range flRecap.FindAllStringSubmatch(r.out, -1) {
		n := func(i int) int { v, _ := strconv.Atoi(m[i]); return v }
		r.Stats[m[1]] = flStats{Ok: n(2), Changed: n(3), Unreachable: n(4), Failed: n(5)}
	}
	if len(r.Stats) == 0 {
		t.Fatalf("ansible-playbook %s printed no PLAY RECAP\n%s", playbook, r)
	}
	files, _ := os.ReadDir(tree)
	for _, fe := range files {
		b, err := os.ReadFile(filepath.Join(tree, fe.Name()))
		if err != nil {
			t.Fatal(err)
		}
		var res map[string]any
		if err := json.Unmarshal(b, &res); err != nil {
			t.Fatalf("tree callback file %s: %v\n%s", fe.Name(), err, b)
		}
		r.Results[fe.Name()] = res
	}
	return r
}
