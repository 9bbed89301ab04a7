package main

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"fmt"
	"io"
	"net"
	"net/netip"
	"path/filepath"
	"time"

	"github.com/zonegate/zonegate/gateway/api"
	"github.com/zonegate/zonegate/gateway/console"
	"github.com/zonegate/zonegate/test/lab"
)

// labAdmin is the account `zonelab run --console` creates in the lab's
// fresh state directory, so that the console can be used at once.
const labAdmin = "lab-admin"

// labConsole is the web console of a lab's gateway.
type labConsole struct {
	addr netip.AddrPort
	host *lab.Host // of the management zone it is reached from
}

// consoleFor picks where the lab's gateway serves the console.
func consoleFor(l *lab.Lab) (*labConsole, error) {
	ap, host, err := l.ConsoleAddr(lab.ConsolePort)
	if err != nil {
		return nil, err
	}
	return &labConsole{addr: ap, host: host}, nil
}

// check waits until the console answers, creates the lab's
// administrator, signs in from the management zone's host, checks that
// the console serves the model, and prints how to use it.
func (c *labConsole) check(ctx context.Context, l *lab.Lab, stateDir string, timeout time.Duration, stdout io.Writer) error {
	der, err := lab.WaitConsole(c.host.NS, c.addr, filepath.Join(stateDir, console.SelfSignedFile), timeout)
	if err != nil {
		return err
	}
	pw, err := labPassword()
	if err != nil {
		return err
	}
	apic := api.NewClient(filepath.Join(stateDir, "api.sock"))
	defer apic.Close()
	if _, err := apic.Init(ctx, labAdmin, pw); err != nil {
		return fmt.Errorf("create the lab's administrator %s: %w", labAdmin, err)
	}
	client := lab.NewConsoleClient(c.host.NS, c.addr, der)
	defer client.Close()
	if err := l.CheckConsole(client, labAdmin, pw); err != nil {
		return fmt.Errorf("the web console at %s: %w", client.Base, err)
	}
	fmt.Fprintf(stdout, "\nweb console: %s/\n", client.Base)
	fmt.Fprintf(stdout, "  certificate SHA-256 %s\n", console.Fingerprint(der))
	fmt.Fprintf(stdout, "  sign in as %s with the password %s (from the management zone %s, e.g. `ip netns exec %s ...`)\n", labAdmin, pw, c.host.Zone, c.host.NS)
	fmt.Fprintf(stdout, "  checked: signed in from %s, the drawing shows all %d zones\n", c.host.NS, len(l.Model.Zones))
	return nil
}

// labPassword is a random password that the default policy takes.
func labPassword() (string, error) {
	var b [15]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return "Lab-" + base32.StdEncoding.EncodeToString(b[:]), nil
}

// forward relays addr (on this machine) to the console, as dialled from
// the management zone's host, until ctx ends.
func (c *labConsole) forward(ctx context.Context, addr string, stdout io.Writer) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--console-forward %s: %w", addr, err)
	}
	go func() { _ = lab.ForwardConsole(ln, c.host.NS, c.addr) }()
	fmt.Fprintf(stdout, "  forwarded: https://%s/ on this machine reaches it as a host of zone %s does (ssh -L %s:%s HOST for another machine)\n",
		ln.Addr(), c.host.Zone, ln.Addr(), ln.Addr())
	return func() { ln.Close() }, nil
}
