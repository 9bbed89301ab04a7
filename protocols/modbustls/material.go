// Package modbustls is the front end of Modbus/TCP Security
// (MB-TCP-Security): it terminates TLS (1.2 or newer, mutual X.509
// authentication, forward-secret cipher suites) on port 802 at the
// gateway, verifies the client's certificate against the conduit's CAs,
// CRL and validity, reads the client's role from the certificate's role
// extension (OID 1.3.6.1.4.1.50316.802.1, one UTF8String at most), and
// hands the decrypted stream to the Modbus proxy (proxy.Proxy.Admit) with
// the client's identity, so that the Modbus inspector decides by role.
//
// Material loads a conduit's files (modbus.Security); FrontEnd runs the
// handshakes and keeps what reloads need.
package modbustls

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"github.com/zonegate/zonegate/protocols/modbus"
)

// maxFile bounds a certificate, key or CRL file.
const maxFile = 4 << 20

// Material is a conduit's TLS material, loaded: the gateway's key pair,
// the client CAs and the CRL.
type Material struct {
	Cert    tls.Certificate
	Leaf    *x509.Certificate
	CAs     []*x509.Certificate
	pool    *x509.CertPool
	CRL     *x509.RevocationList // nil: none
	revoked map[string]bool      // serial numbers (decimal) the CRL lists
	// RequireRole: a certificate without a role is refused... at the
	// policy (it gets nothing), not at the handshake.
	RequireRole bool
	Files       []string // the files read, for messages
}

// Load reads and checks the files of sec. Errors name the file and say
// what to fix.
func Load(sec *modbus.Security) (*Material, error) {
	m := &Material{RequireRole: sec.RequireRole}
	certPEM, err := readFile(sec.Certificate.Path)
	if err != nil {
		return nil, err
	}
	keyPEM, err := readFile(sec.Key.Path)
	if err != nil {
		return nil, err
	}
	m.Cert, err = tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("tls certificate %s with key %s: %w (give the PEM certificate and its own PEM private key)", sec.Certificate.Path, sec.Key.Path, err)
	}
	m.Leaf, err = x509.ParseCertificate(m.Cert.Certificate[0])
	if err != nil {
		return nil, fmt.Errorf("tls certificate %s: %w", sec.Certificate.Path, err)
	}
	m.Cert.Leaf = m.Leaf
	m.pool = x509.NewCertPool()
	for _, f := range sec.ClientCAs {
		cas, err := readCerts(f.Path)
		if err != nil {
			return nil, err
		}
		for _, ca := range cas {
			if !ca.IsCA {
				return nil, fmt.Errorf("client CA file %s: certificate %q is not a CA (basicConstraints CA:TRUE): name the CA that signs the client certificates", f.Path, ca.Subject)
			}
			m.pool.AddCert(ca)
			m.CAs = append(m.CAs, ca)
		}
	}
	if len(m.CAs) == 0 {
		return nil, errors.New("tls: no client CA: name at least one CA file in client_cas")
	}
	if sec.CRL != nil {
		b, err := readFile(sec.CRL.Path)
		if err != nil {
			return nil, err
		}
		if p, _ := pem.Decode(b); p != nil {
			b = p.Bytes
		}
		crl, err := x509.ParseRevocationList(b)
		if err != nil {
			return nil, fmt.Errorf("crl %s: %w (give a PEM or DER X.509 CRL, as `openssl ca -gencrl` writes)", sec.CRL.Path, err)
		}
		signed := false
		for _, ca := range m.CAs {
			if crl.CheckSignatureFrom(ca) == nil {
				signed = true
			}
		}
		if !signed {
			return nil, fmt.Errorf("crl %s is not signed by any of the client CAs: give the CRL of the CA in client_cas", sec.CRL.Path)
		}
		m.CRL = crl
		m.revoked = map[string]bool{}
		for _, e := range crl.RevokedCertificateEntries {
			m.revoked[e.SerialNumber.String()] = true
		}
	}
	return m, nil
}

func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("tls: %w (check the file name in the model's tls block; relative names are relative to the model file)", err)
	}
	defer f.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(io.LimitReader(f, maxFile+1)); err != nil {
		return nil, fmt.Errorf("tls: read %s: %w", path, err)
	}
	if buf.Len() > maxFile {
		return nil, fmt.Errorf("tls: %s is over %d bytes: not a certificate, key or CRL", path, maxFile)
	}
	return buf.Bytes(), nil
}

// readCerts reads the PEM certificates of a file.
func readCerts(path string) ([]*x509.Certificate, error) {
	b, err := readFile(path)
	if err != nil {
		return nil, err
	}
	var out []*x509.Certificate
	for {
		var p *pem.Block
		p, b = pem.Decode(b)
		if p == nil {
			break
		}
		if p.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(p.Bytes)
		if err != nil {
			return nil, fmt.Errorf("client CA file %s: %w", path, err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("client CA file %s holds no PEM certificate (-----BEGIN CERTIFICATE-----)", path)
	}
	return out, nil
}

// Fingerprint is the SHA-256 of a certificate.
func Fingerprint(c *x509.Certificate) [32]byte { return sha256.Sum256(c.Raw) }

// Verify checks a client certificate chain (leaf first) against the
// material at time now: chains to a client CA, valid at now, usable for
// client authentication, not revoked, and a well-formed role. It returns
// the role ("" none).
func (m *Material) Verify(chain []*x509.Certificate, now time.Time) (string, error) {
	if len(chain) == 0 {
		return "", &HandshakeError{Reason: ReasonNoCertificate, Err: errors.New("the client sent no certificate")}
	}
	leaf := chain[0]
	role, err := Role(leaf)
	if err != nil {
		return "", &HandshakeError{Reason: ReasonBadRole, Err: err}
	}
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	// The role extension is ours to handle: a certificate that marks it
	// critical is not refused for it.
	leafCopy := *leaf
	leafCopy.UnhandledCriticalExtensions = slices.DeleteFunc(slices.Clone(leaf.UnhandledCriticalExtensions), func(o asn1.ObjectIdentifier) bool { return o.Equal(RoleOID) })
	_, err = leafCopy.Verify(x509.VerifyOptions{Roots: m.pool, Intermediates: inter, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	if err != nil {
		reason := ReasonUntrusted
		var ce x509.CertificateInvalidError
		if errors.As(err, &ce) && ce.Reason == x509.Expired {
			reason = ReasonExpired
		}
		return "", &HandshakeError{Reason: reason, Err: err}
	}
	if m.revoked[leaf.SerialNumber.String()] {
		return "", &HandshakeError{Reason: ReasonRevoked, Err: fmt.Errorf("certificate serial %s is revoked by the CRL", leaf.SerialNumber)}
	}
	return role, nil
}

// Expiry is a certificate the gateway relies on and when it expires.
type Expiry struct {
	Kind     string // "certificate" (the gateway's own), "client_ca" or "crl" (NotAfter: its next update)
	Subject  string
	File     string
	NotAfter time.Time
}

// Soon reports whether e is expired or expires soon at now: within
// ExpiryWarning for a certificate, within CRLWarning for a CRL (which is
// reissued often, typically every 30 days).
func (e Expiry) Soon(now time.Time) bool {
	window := ExpiryWarning
	if e.Kind == "crl" {
		window = CRLWarning
	}
	return e.NotAfter.Before(now.Add(window))
}

// Expiries lists the gateway's certificate, the client CAs and the CRL
// (by its next update, when it names one).
func (m *Material) Expiries(sec *modbus.Security) []Expiry {
	out := []Expiry{{Kind: "certificate", Subject: m.Leaf.Subject.String(), File: sec.Certificate.Path, NotAfter: m.Leaf.NotAfter}}
	for _, ca := range m.CAs {
		file := ""
		if len(sec.ClientCAs) == 1 {
			file = sec.ClientCAs[0].Path
		}
		out = append(out, Expiry{Kind: "client_ca", Subject: ca.Subject.String(), File: file, NotAfter: ca.NotAfter})
	}
	if m.CRL != nil && !m.CRL.NextUpdate.IsZero() && sec.CRL != nil {
		out = append(out, Expiry{Kind: "crl", Subject: m.CRL.Issuer.String(), File: sec.CRL.Path, NotAfter: m.CRL.NextUpdate})
	}
	return out
}
