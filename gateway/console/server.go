package console

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	stdlog "log"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"time"

	"go.uber.org/zap"
	"golang.org/x/net/netutil"

	"github.com/zonegate/zonegate/gateway/internal/serving"

	"github.com/zonegate/zonegate/gateway/zone"
)

// maxConns bounds the console's open connections (a browser opens up to
// six; a page's event refresh keeps one waiting).
const maxConns = 64

// InterfaceOf names the interface of this network namespace that holds
// address a; "" when none does.
func InterfaceOf(a netip.Addr) (string, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return "", fmt.Errorf("list the network interfaces: %w", err)
	}
	for _, ifc := range ifs {
		addrs, err := ifc.Addrs()
		if err != nil {
			continue
		}
		for _, ad := range addrs {
			if p, err := netip.ParsePrefix(ad.String()); err == nil && p.Addr().Unmap() == a.Unmap() {
				return ifc.Name, nil
			}
		}
	}
	return "", nil
}

// CheckManagement checks that the console's address lies on an interface
// of one of m's management zones: only those zones reach the gateway's
// own services (the ruleset drops the rest), and the console must not
// listen where other zones could try. m is the model the gateway starts
// with; ifaceOf is InterfaceOf (tests give their own).
func CheckManagement(ap netip.AddrPort, m *zone.Model, ifaceOf func(netip.Addr) (string, error)) error {
	if m == nil {
		return fmt.Errorf("console.listen %s: no zone model is known yet, so no management zone: give the model (the settings' model, or --model) or leave console.listen empty until one is pushed", ap)
	}
	var mgmt []string
	for _, name := range m.Gateway.ManagementZones {
		if z := m.Zone(name); z != nil {
			mgmt = append(mgmt, z.Interfaces...)
		}
	}
	ifc, err := ifaceOf(ap.Addr())
	switch {
	case err != nil:
		return fmt.Errorf("console.listen %s: %w", ap, err)
	case ifc == "":
		return fmt.Errorf("console.listen %s: no interface of this gateway has the address %s: use the address of a management zone's interface (%s; see ip -br addr)", ap, ap.Addr(), interfacesText(mgmt))
	case !slices.Contains(mgmt, ifc):
		return fmt.Errorf("console.listen %s: the address is on %s, which is not an interface of a management zone (gateway.management.zones: %s): use the address of one of %s", ap, ifc, zonesText(m.Gateway.ManagementZones), interfacesText(mgmt))
	}
	return nil
}

func interfacesText(ifs []string) string {
	if len(ifs) == 0 {
		return "the model names none"
	}
	return fmt.Sprint(ifs)
}

func zonesText(zs []string) string {
	if len(zs) == 0 {
		return "none"
	}
	return fmt.Sprint(zs)
}

// Listen binds the console's address. Its errors say what to change.
func Listen(ap netip.AddrPort) (net.Listener, error) {
	ln, err := serving.Listen("console.listen", ap.String())
	if err != nil {
		return nil, err
	}
	return netutil.LimitListener(ln, maxConns), nil
}

// Server is a running console.
type Server struct {
	srv  *http.Server
	done chan struct{}
}

// Serve serves h over TLS with cert on ln until Close. Slow clients are
// cut off: 10 s for the headers, 30 s for a request, 75 s for an answer
// (the events page's refresh waits up to 25 s), 16 KiB of headers.
func Serve(ln net.Listener, cert Certificate, h http.Handler, log *zap.Logger) *Server {
	s := &Server{done: make(chan struct{}), srv: &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      75 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
		TLSConfig:         &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert.TLS}},
		ErrorLog:          stdLog(log),
	}}
	go func() {
		defer close(s.done)
		if err := s.srv.ServeTLS(ln, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("web console stopped", zap.Error(err))
		}
	}()
	return s
}

// Close stops the console: requests in flight get 2 s to finish.
func (s *Server) Close() error {
	return serving.Shutdown(s.srv, s.done, 2*time.Second)
}

// stdLog takes the server's own messages (mostly failed TLS handshakes of
// scanners and browsers that do not trust the certificate yet) at debug
// level.
func stdLog(log *zap.Logger) *stdlog.Logger {
	l, err := zap.NewStdLogAt(log.Named("console"), zap.DebugLevel)
	if err != nil {
		return stdlog.New(io.Discard, "", 0)
	}
	return l
}
