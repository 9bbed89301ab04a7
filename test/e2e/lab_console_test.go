package e2e

import (
	"crypto/tls"
	"net/netip"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/zonegate/zonegate/gateway/console"
	"github.com/zonegate/zonegate/test/lab"
)

// TestLabRunConsole: `zonelab run --console` (what `make demo` runs)
// serves the web console on the maintenance zone's gateway address,
// signs in to it from that zone and prints its URL, fingerprint and the
// lab's login; --console-forward relays an address of this machine to
// it. Another zone does not reach it.
func TestLabRunConsole(t *testing.T) {
	requireNetns(t)
	bins := labBuild(t)
	model := repoFile(t, "configs/example-factory.yaml")
	const prefix = "zlt6"
	_ = lab.DownPrefix(prefix)
	r := labStartRun(t, bins, model, prefix, "--console", "--console-forward", "127.0.0.1:0")
	out := strings.Join(r.out, "\n")

	for _, want := range []string{
		"web console: https://198.18.60.1:8443/",
		"checked: signed in from " + prefix + "-z-maintenance, the drawing shows all 7 zones",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("zonelab run --console does not say %q:\n%s", want, out)
		}
	}
	fp := regexp.MustCompile(`certificate SHA-256 ((?:[0-9A-F]{2}:){31}[0-9A-F]{2})`).FindStringSubmatch(out)
	pw := regexp.MustCompile(`sign in as lab-admin with the password (\S+)`).FindStringSubmatch(out)
	fwd := regexp.MustCompile(`forwarded: https://(127\.0\.0\.1:\d+)/`).FindStringSubmatch(out)
	if fp == nil || pw == nil || fwd == nil {
		t.Fatalf("zonelab run --console does not print the fingerprint, the login and the forward:\n%s", out)
	}

	// Through the forward, from this machine, with the certificate the
	// fingerprint names.
	conn, err := tls.Dial("tcp", fwd[1], &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // compared by fingerprint below
	if err != nil {
		t.Fatalf("the forward %s: %v", fwd[1], err)
	}
	cert := conn.ConnectionState().PeerCertificates[0].Raw
	conn.Close()
	if got := console.Fingerprint(cert); got != fp[1] {
		t.Errorf("the console's certificate has the fingerprint %s, zonelab printed %s", got, fp[1])
	}
	l, err := lab.Attach(loadModel(t, model), lab.Options{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	client := lab.NewConsoleClient("", netip.MustParseAddrPort(fwd[1]), cert)
	defer client.Close()
	if err := l.CheckConsole(client, "lab-admin", pw[1]); err != nil {
		t.Errorf("the console through the forward: %v", err)
	}
	other := lab.NewConsoleClient("", netip.MustParseAddrPort(fwd[1]), cert)
	defer other.Close()
	if _, err := other.Login("lab-admin", "not the password"); err == nil || !strings.Contains(err.Error(), "wrong user name or password") {
		t.Errorf("a wrong password: %v", err)
	}

	// Only the management zones reach the gateway's own services.
	addr, _, err := l.ConsoleAddr(lab.ConsolePort)
	if err != nil {
		t.Fatal(err)
	}
	if c, err := lab.Dial(l.Zones["office"].NS, "tcp", addr.String(), 2*time.Second); err == nil {
		c.Close()
		t.Errorf("the office zone reaches the console at %s", addr)
	}

	if err := r.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if code := r.wait(t, 30*time.Second); code != 0 {
		t.Errorf("zonelab run exited %d after SIGINT, want 0:\n%s", code, r.stderr)
	}
}
