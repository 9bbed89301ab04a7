package audit

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/zonegate/zonegate/test/prereq"
)

// rsyslogd runs a real Debian rsyslogd on loopback as a test collector.
type rsyslogd struct {
	bin  string // the program, found by prereq.Command (also in /usr/sbin when PATH lacks it)
	dir  string
	conf string
	out  string
	port int
	cmd  *exec.Cmd
	tls  bool
}

// newRsyslogd writes a configuration for a TCP (or TLS) listener on a free
// loopback port that writes every message's raw text to a file. It skips
// the test if rsyslogd (or, for TLS, its GnuTLS driver) is not installed.
func newRsyslogd(t *testing.T, useTLS bool) *rsyslogd {
	t.Helper()
	bin := prereq.Command(t, "rsyslogd", "rsyslog")
	if useTLS {
		if m, _ := filepath.Glob("/usr/lib/*/rsyslog/lmnsd_gtls.so"); len(m) == 0 {
			t.Skip("rsyslog GnuTLS driver not installed (Debian package rsyslog-gnutls): TLS syslog test skipped")
		}
	}
	r := &rsyslogd{bin: bin, dir: t.TempDir(), tls: useTLS}
	r.out = filepath.Join(r.dir, "out.log")
	r.conf = filepath.Join(r.dir, "rsyslog.conf")
	os.Mkdir(filepath.Join(r.dir, "work"), 0o700)
	r.port = freePort(t)
	global := fmt.Sprintf(`global(workDirectory="%s/work" maxMessageSize="64k"`, r.dir)
	mod := `module(load="imtcp"`
	if useTLS {
		writeTestCerts(t, r.dir)
		global += fmt.Sprintf(` defaultNetstreamDriverCAFile="%[1]s/ca.pem" defaultNetstreamDriverCertFile="%[1]s/cert.pem" defaultNetstreamDriverKeyFile="%[1]s/key.pem"`, r.dir)
		mod += ` StreamDriver.Name="gtls" StreamDriver.Mode="1" StreamDriver.AuthMode="anon"`
	}
	conf := global + ")\n" + mod + ")\n" +
		`template(name="raw" type="string" string="%rawmsg%\n")` + "\n" +
		fmt.Sprintf(`ruleset(name="audit") { action(type="omfile" file="%s" template="raw") }`, r.out) + "\n" +
		fmt.Sprintf(`input(type="imtcp" address="127.0.0.1" port="%d" ruleset="audit")`, r.port) + "\n"
	if err := os.WriteFile(r.conf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.stop(t) })
	return r
}

func (r *rsyslogd) addr() string { return fmt.Sprintf("127.0.0.1:%d", r.port) }

func (r *rsyslogd) start(t *testing.T) {
	t.Helper()
	r.cmd = exec.Command(r.bin, "-n", "-f", r.conf, "-i", filepath.Join(r.dir, "rsyslogd.pid"))
	r.cmd.Env = append(os.Environ(), "PATH=/usr/sbin:/sbin:"+os.Getenv("PATH"))
	logf, err := os.OpenFile(filepath.Join(r.dir, "rsyslogd.out"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	r.cmd.Stdout, r.cmd.Stderr = logf, logf
	if err := r.cmd.Start(); err != nil {
		t.Fatalf("start rsyslogd: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", r.addr(), time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			out, _ := os.ReadFile(filepath.Join(r.dir, "rsyslogd.out"))
			t.Fatalf("rsyslogd does not listen on %s: %v\nrsyslogd output:\n%s", r.addr(), err, out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop shuts rsyslogd down normally (SIGTERM) and waits for it.
func (r *rsyslogd) stop(t *testing.T) {
	if r.cmd == nil || r.cmd.Process == nil { // never started (start failed the test)
		return
	}
	r.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { r.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		r.cmd.Process.Kill()
		<-done
	}
	r.cmd = nil
	os.Remove(filepath.Join(r.dir, "rsyslogd.pid"))
}

var seqParam = regexp.MustCompile(`\[zonegate@32473 seq="(\d+)"`)

// received counts how often each sequence number reached the collector.
func (r *rsyslogd) received(t *testing.T) map[uint64]int {
	t.Helper()
	b, err := os.ReadFile(r.out)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	m := map[uint64]int{}
	for _, sm := range seqParam.FindAllSubmatch(b, -1) {
		n, _ := strconv.ParseUint(string(sm[1]), 10, 64)
		m[n]++
	}
	return m
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// writeTestCerts writes a self-signed CA and a server certificate for
// 127.0.0.1/localhost signed by it: ca.pem, cert.pem, key.pem.
func writeTestCerts(t *testing.T, dir string) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "zonegate test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	pk, _ := x509.MarshalPKCS8PrivateKey(key)
	write := func(name, typ string, b []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("ca.pem", "CERTIFICATE", caDER)
	write("cert.pem", "CERTIFICATE", der)
	write("key.pem", "PRIVATE KEY", pk)
}
