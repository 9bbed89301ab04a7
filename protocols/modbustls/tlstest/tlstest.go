// Package tlstest mints the certificates of Modbus/TCP Security tests: a
// CA, the gateway's server certificate, client certificates with and
// without the role extension (or with two, or with a role that is not a
// UTF8String), expired ones, and CRLs. Keys are ECDSA P-256.
package tlstest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"
)

// RoleOID is the role extension of Modbus/TCP Security.
var RoleOID = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 50316, 802, 1}

var serial atomic.Int64

// CA is a test certificate authority.
type CA struct {
	Cert *x509.Certificate
	Key  *ecdsa.PrivateKey
}

// Leaf is a minted certificate with its key.
type Leaf struct {
	Cert *x509.Certificate
	Key  *ecdsa.PrivateKey
}

// TLS returns the leaf as a tls.Certificate.
func (l *Leaf) TLS() tls.Certificate {
	return tls.Certificate{Certificate: [][]byte{l.Cert.Raw}, PrivateKey: l.Key, Leaf: l.Cert}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic("tlstest: " + err.Error())
	}
	return v
}

func newKey() *ecdsa.PrivateKey { return must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader)) }

// NewCA mints a CA valid from an hour ago for valid.
func NewCA(name string, valid time.Duration) *CA {
	key := newKey()
	now := time.Now()
	tpl := &x509.Certificate{SerialNumber: big.NewInt(serial.Add(1)), Subject: pkix.Name{CommonName: name, Organization: []string{"zonegate test"}},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(valid), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	der := must(x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key))
	return &CA{Cert: must(x509.ParseCertificate(der)), Key: key}
}

// ClientOpts shape a client certificate.
type ClientOpts struct {
	// Roles are the values of role extensions, one extension each: none,
	// one, or two to test the refusal.
	Roles []string
	// RawRole, when set, is the value of a role extension as it is (DER),
	// to test a value that is not a UTF8String.
	RawRole []byte
	// NotBefore and NotAfter default to an hour ago and a day on.
	NotBefore, NotAfter time.Time
}

// Client mints a client certificate called cn.
func (ca *CA) Client(cn string, o ClientOpts) *Leaf {
	key := newKey()
	now := time.Now()
	if o.NotBefore.IsZero() {
		o.NotBefore = now.Add(-time.Hour)
	}
	if o.NotAfter.IsZero() {
		o.NotAfter = now.Add(24 * time.Hour)
	}
	tpl := &x509.Certificate{SerialNumber: big.NewInt(serial.Add(1)), Subject: pkix.Name{CommonName: cn, Organization: []string{"plant"}},
		NotBefore: o.NotBefore, NotAfter: o.NotAfter, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	for i, r := range o.Roles {
		v := must(asn1.MarshalWithParams(r, "utf8"))
		id := RoleOID
		if i > 0 {
			id = placeholderOID // Go refuses to write the same extension twice
		}
		tpl.ExtraExtensions = append(tpl.ExtraExtensions, pkix.Extension{Id: id, Value: v})
	}
	if o.RawRole != nil {
		tpl.ExtraExtensions = append(tpl.ExtraExtensions, pkix.Extension{Id: RoleOID, Value: o.RawRole})
	}
	der := must(x509.CreateCertificate(rand.Reader, tpl, ca.Cert, &key.PublicKey, ca.Key))
	if len(o.Roles) > 1 {
		der = ca.resign(der)
		// Go refuses to parse it too: the Leaf keeps only the DER.
		return &Leaf{Cert: &x509.Certificate{Raw: der}, Key: key}
	}
	return &Leaf{Cert: must(x509.ParseCertificate(der)), Key: key}
}

// placeholderOID has the length of RoleOID: resign turns it into RoleOID.
var placeholderOID = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 50316, 802, 9}

// resign turns the placeholder extensions of a certificate into role
// extensions and signs it again, making the certificate with two role
// extensions that crypto/x509 does not write.
func (ca *CA) resign(der []byte) []byte {
	var cert struct {
		TBS    asn1.RawValue
		SigAlg asn1.RawValue
		Sig    asn1.BitString
	}
	if _, err := asn1.Unmarshal(der, &cert); err != nil {
		panic("tlstest: " + err.Error())
	}
	from := must(asn1.Marshal(placeholderOID))
	to := must(asn1.Marshal(RoleOID))
	tbs := bytes.ReplaceAll(cert.TBS.FullBytes, from, to)
	sum := sha256.Sum256(tbs)
	sig := must(ecdsa.SignASN1(rand.Reader, ca.Key, sum[:]))
	cert.TBS = asn1.RawValue{FullBytes: tbs}
	cert.Sig = asn1.BitString{Bytes: sig, BitLength: 8 * len(sig)}
	return must(asn1.Marshal(cert))
}

// Server mints the gateway's server certificate for the names and
// addresses given.
func (ca *CA) Server(cn string, valid time.Duration, hosts ...string) *Leaf {
	key := newKey()
	now := time.Now()
	tpl := &x509.Certificate{SerialNumber: big.NewInt(serial.Add(1)), Subject: pkix.Name{CommonName: cn},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(valid), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tpl.IPAddresses = append(tpl.IPAddresses, ip)
		} else {
			tpl.DNSNames = append(tpl.DNSNames, h)
		}
	}
	der := must(x509.CreateCertificate(rand.Reader, tpl, ca.Cert, &key.PublicKey, ca.Key))
	return &Leaf{Cert: must(x509.ParseCertificate(der)), Key: key}
}

// CRL returns a PEM CRL of ca revoking the given certificates.
func (ca *CA) CRL(revoked ...*x509.Certificate) []byte {
	var entries []x509.RevocationListEntry
	for _, c := range revoked {
		entries = append(entries, x509.RevocationListEntry{SerialNumber: c.SerialNumber, RevocationTime: time.Now().Add(-time.Minute)})
	}
	tpl := &x509.RevocationList{Number: big.NewInt(serial.Add(1)), ThisUpdate: time.Now().Add(-time.Minute),
		NextUpdate: time.Now().Add(24 * time.Hour), RevokedCertificateEntries: entries}
	der := must(x509.CreateRevocationList(rand.Reader, tpl, ca.Cert, ca.Key))
	return pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der})
}

// CertPEM is a certificate in PEM.
func CertPEM(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

// KeyPEM is a key in PEM (PKCS #8).
func KeyPEM(k *ecdsa.PrivateKey) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: must(x509.MarshalPKCS8PrivateKey(k))})
}

// Write writes data to dir/name and returns the path.
func Write(dir, name string, data []byte) string {
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		panic("tlstest: " + err.Error())
	}
	return p
}
