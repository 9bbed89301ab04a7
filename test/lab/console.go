package lab

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/pem"
	"errors"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"
)

// The web console of the lab's gateway, reached the way an engineer
// reaches it: from a host of a management zone, over HTTPS, trusting
// exactly the console's certificate.

// ConsolePort is the port the lab's gateway serves the web console on.
const ConsolePort = 8443

// ConsoleAddr is where the lab's gateway serves the web console: its
// IPv4 address (else its first address) in the model's first management
// zone, and the host of that zone to reach it from.
func (l *Lab) ConsoleAddr(port uint16) (netip.AddrPort, *Host, error) {
	for _, z := range l.Model.Gateway.ManagementZones {
		addrs, host := l.GatewayAddrs[z], l.Zones[z]
		if len(addrs) == 0 || host == nil {
			continue
		}
		a := addrs[0]
		for _, b := range addrs {
			if b.Is4() {
				a = b
				break
			}
		}
		return netip.AddrPortFrom(a, port), host, nil
	}
	return netip.AddrPort{}, nil, errors.New("the model has no management zone with a network in the lab: the console is reachable from nowhere")
}

// WaitConsole waits until the gateway has written the console's
// certificate to certFile (the daemon's state_dir/console/tls.pem, PEM)
// and the console accepts connections from namespace ns, and returns the
// certificate (DER).
func WaitConsole(ns string, addr netip.AddrPort, certFile string, timeout time.Duration) ([]byte, error) {
	deadline := time.Now().Add(timeout)
	for {
		der, err := readCertificate(certFile)
		if err == nil {
			var c net.Conn
			if c, err = Dial(ns, "tcp", addr.String(), time.Second); err == nil {
				c.Close()
				return der, nil
			}
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("the web console did not answer on %s within %s: %v", addr, timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// readCertificate reads the first certificate of a PEM file.
func readCertificate(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	for {
		var b *pem.Block
		if b, data = pem.Decode(data); b == nil {
			return nil, fmt.Errorf("%s holds no certificate", path)
		}
		if b.Type == "CERTIFICATE" {
			return b.Bytes, nil
		}
	}
}

// ConsoleClient is a browser-like client of the web console inside a
// lab host's namespace: it keeps the cookies, sends each form with the
// CSRF token of the last page it read, and accepts only the certificate
// it was given.
type ConsoleClient struct {
	Base string // https://ADDR:PORT
	http *http.Client
	last string // the last page read
}

// NewConsoleClient connects from namespace ns ("": the caller's) to the
// console at addr, which must present the DER certificate cert.
func NewConsoleClient(ns string, addr netip.AddrPort, cert []byte) *ConsoleClient {
	jar, _ := cookiejar.New(nil)
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, a string) (net.Conn, error) {
			if ns == "" {
				var d net.Dialer
				return d.DialContext(ctx, network, a)
			}
			return Dial(ns, network, a, 5*time.Second)
		},
		TLSClientConfig: &tls.Config{
			// The certificate is self-signed: it is checked here, byte
			// for byte, instead of against a CA.
			InsecureSkipVerify: true, //nolint:gosec // pinned in VerifyConnection
			VerifyConnection: func(cs tls.ConnectionState) error {
				if len(cs.PeerCertificates) == 0 || !bytes.Equal(cs.PeerCertificates[0].Raw, cert) {
					return errors.New("the console presented another certificate than the gateway's")
				}
				return nil
			},
		},
	}
	return &ConsoleClient{Base: "https://" + addr.String(), http: &http.Client{Jar: jar, Transport: tr, Timeout: 30 * time.Second}}
}

// Close drops the client's connections.
func (c *ConsoleClient) Close() { c.http.CloseIdleConnections() }

func (c *ConsoleClient) read(resp *http.Response, err error) (string, error) {
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return string(b), fmt.Errorf("%s %s: %s: %s", resp.Request.Method, resp.Request.URL.Path, resp.Status, consoleMessage(string(b)))
	}
	c.last = string(b)
	return c.last, nil
}

// Get reads a page (following redirects).
func (c *ConsoleClient) Get(path string) (string, error) {
	return c.read(c.http.Get(c.Base + path))
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// Post sends a form with the CSRF token of the last page read.
func (c *ConsoleClient) Post(path string, form url.Values) (string, error) {
	m := csrfRE.FindStringSubmatch(c.last)
	if m == nil {
		return "", fmt.Errorf("POST %s: the last page read has no form token", path)
	}
	form.Set("csrf", html.UnescapeString(m[1]))
	return c.read(c.http.PostForm(c.Base+path, form))
}

// Login signs in; it lands on the overview.
func (c *ConsoleClient) Login(user, password string) (string, error) {
	if _, err := c.Get("/login"); err != nil {
		return "", err
	}
	page, err := c.Post("/login", url.Values{"user": {user}, "password": {password}})
	if err == nil && !strings.Contains(page, `id="sign-out"`) {
		err = fmt.Errorf("signing in as %s did not work: %s", user, consoleMessage(page))
	}
	return page, err
}

// consoleMessage is the message a console page shows, for errors.
func consoleMessage(page string) string {
	m := regexp.MustCompile(`(?s)role="alert">(.*?)</p>`).FindStringSubmatch(page)
	if m == nil {
		return "(no message on the page)"
	}
	return html.UnescapeString(m[1])
}

// CheckConsole signs in to the console and checks that it serves the
// lab's model: the overview names the gateway and the model's digest,
// the drawing has every zone of the model.
func (l *Lab) CheckConsole(c *ConsoleClient, user, password string) error {
	overview, err := c.Login(user, password)
	if err != nil {
		return err
	}
	if !strings.Contains(overview, l.Model.Digest()) {
		return fmt.Errorf("the console's overview does not show the model's digest %s", l.Model.Digest())
	}
	drawing, err := c.Get("/drawing")
	if err != nil {
		return err
	}
	var missing []string
	for _, z := range l.Model.Zones {
		if !strings.Contains(drawing, `id="zone-`+html.EscapeString(z.Name)+`"`) {
			missing = append(missing, z.Name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("the console's drawing lacks the zones %s", strings.Join(missing, ", "))
	}
	return nil
}

// ForwardConsole relays the connections accepted on ln (on the machine,
// outside the lab) to the console at addr, dialled from namespace ns:
// a browser on the machine, or one at the far end of an SSH tunnel, then
// reaches the console as a host of the management zone does. It returns
// when ln is closed.
func ForwardConsole(ln net.Listener, ns string, addr netip.AddrPort) error {
	for {
		in, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		go func() {
			out, err := Dial(ns, "tcp", addr.String(), 5*time.Second)
			if err != nil {
				in.Close()
				return
			}
			// Whichever side ends first ends both.
			go func() {
				_, _ = io.Copy(out, in)
				out.Close()
			}()
			_, _ = io.Copy(in, out)
			in.Close()
		}()
	}
}
