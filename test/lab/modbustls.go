package lab

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/zonegate/zonegate/protocols/modbus"
)

// ModbusTLS is how a probe speaks Modbus/TCP Security to a conduit with a
// modbus.tls block: with the client certificate of one role, trusting the
// conduit's client CAs for the gateway's certificate, while the fake PLC
// listens on the device port behind the gateway.
type ModbusTLS struct {
	Role       string
	Cert       tls.Certificate
	Roots      *x509.CertPool
	DevicePort uint16
}

// secureClient finds the client certificate zonelab probes a secure
// conduit with: clients/ROLE.crt and clients/ROLE.key in the directory of
// the conduit's first client CA (configs/tls/make-demo-certs.sh makes
// them), for the first role in `roles:` that reads something. It returns
// the spec of that role, or why there is none.
func secureClient(spec *modbus.Spec) (*ModbusTLS, *modbus.Spec, error) {
	sec := spec.Security
	if len(sec.ClientCAs) == 0 {
		return nil, nil, errors.New("no client CA")
	}
	roots := x509.NewCertPool()
	for _, f := range sec.ClientCAs {
		b, err := os.ReadFile(f.Path)
		if err != nil {
			return nil, nil, err
		}
		roots.AppendCertsFromPEM(b)
	}
	dir := filepath.Join(filepath.Dir(sec.ClientCAs[0].Path), "clients")
	var tried []string
	for _, r := range spec.Roles {
		rs, _ := spec.RoleSpec(r.Name)
		if read, _, _ := ModbusChecks("", &rs); read == nil {
			continue
		}
		crt, key := filepath.Join(dir, r.Name+".crt"), filepath.Join(dir, r.Name+".key")
		cert, err := tls.LoadX509KeyPair(crt, key)
		if err != nil {
			tried = append(tried, crt)
			continue
		}
		return &ModbusTLS{Role: r.Name, Cert: cert, Roots: roots, DevicePort: sec.Port()}, &rs, nil
	}
	if len(tried) == 0 {
		return nil, nil, errors.New("no role in roles: allows a read")
	}
	return nil, nil, fmt.Errorf("no client certificate (%s)", strings.Join(tried, ", "))
}

// dialTLS connects from ns to dst and runs the TLS handshake of t.
func dialTLS(ns, dst string, t *ModbusTLS, timeout time.Duration) (net.Conn, error) {
	nc, err := Dial(ns, "tcp", dst, timeout)
	if err != nil {
		return nil, err
	}
	host, _, _ := net.SplitHostPort(dst)
	tc := tls.Client(nc, &tls.Config{Certificates: []tls.Certificate{t.Cert}, RootCAs: t.Roots, ServerName: host, MinVersion: tls.VersionTLS12})
	_ = tc.SetDeadline(time.Now().Add(timeout))
	if err := tc.Handshake(); err != nil {
		nc.Close()
		return nil, fmt.Errorf("TLS handshake: %w", err)
	}
	return tc, nil
}
