// Package uacert checks the client certificates of OPC UA secure channels
// for a conduit's `opcua.client_certificates`: the certificate must chain
// to one of the conduit's CA files (with their CRLs) or have a pinned
// SHA-256 fingerprint, be within its validity period, and carry an RSA
// key of at least 2048 bits. It implements opcua.CertChecker; the OPC UA
// codec loads it when a policy is compiled, so a missing or bad file
// fails the model's apply with the file's name.
package uacert

import (
	"bytes"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/zonegate/zonegate/protocols/opcua"
)

// MinRSABits is the smallest RSA key a client certificate may have.
const MinRSABits = 2048

// maxFileSize bounds a CA or CRL file.
const maxFileSize = 4 << 20

// Checker checks client certificates for one conduit.
type Checker struct {
	roots  *x509.CertPool // nil: no CA files
	cas    []*x509.Certificate
	pinned map[[32]byte]bool
	crls   []*x509.RevocationList
}

var _ opcua.CertChecker = (*Checker)(nil)

// Load reads the CA and CRL files of spec.
func Load(spec opcua.CertSpec) (*Checker, error) {
	c := &Checker{pinned: map[[32]byte]bool{}}
	for _, fp := range spec.Pinned {
		c.pinned[fp] = true
	}
	for _, f := range spec.CAFiles {
		certs, err := readCerts(f.Path)
		if err != nil {
			return nil, fmt.Errorf("client_certificates.ca_files %s: %w", f.Name, err)
		}
		if c.roots == nil {
			c.roots = x509.NewCertPool()
		}
		for _, ca := range certs {
			c.roots.AddCert(ca)
			c.cas = append(c.cas, ca)
		}
	}
	for _, f := range spec.CRLFiles {
		crl, err := readCRL(f.Path)
		if err != nil {
			return nil, fmt.Errorf("client_certificates.crl_files %s: %w", f.Name, err)
		}
		signed := false
		for _, ca := range c.cas {
			if bytes.Equal(ca.RawSubject, crl.RawIssuer) && crl.CheckSignatureFrom(ca) == nil {
				signed = true
				break
			}
		}
		if !signed {
			return nil, fmt.Errorf("client_certificates.crl_files %s: not signed by any certificate of ca_files: add its CA to ca_files", f.Name)
		}
		c.crls = append(c.crls, crl)
	}
	return c, nil
}

func readFile(path string) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.Size() > maxFileSize {
		return nil, fmt.Errorf("larger than %d bytes", maxFileSize)
	}
	return os.ReadFile(path)
}

// readCerts reads PEM (any number of CERTIFICATE blocks) or DER
// certificates.
func readCerts(path string) ([]*x509.Certificate, error) {
	b, err := readFile(path)
	if err != nil {
		return nil, err
	}
	var out []*x509.Certificate
	if bytes.Contains(b, []byte("-----BEGIN")) {
		for {
			var blk *pem.Block
			blk, b = pem.Decode(b)
			if blk == nil {
				break
			}
			if blk.Type != "CERTIFICATE" {
				continue
			}
			c, err := x509.ParseCertificate(blk.Bytes)
			if err != nil {
				return nil, err
			}
			out = append(out, c)
		}
	} else if out, err = x509.ParseCertificates(b); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, errors.New("no certificate in it (PEM CERTIFICATE blocks or DER)")
	}
	return out, nil
}

func readCRL(path string) (*x509.RevocationList, error) {
	b, err := readFile(path)
	if err != nil {
		return nil, err
	}
	if blk, _ := pem.Decode(b); blk != nil {
		b = blk.Bytes
	}
	return x509.ParseRevocationList(b)
}

// Check implements opcua.CertChecker.
func (c *Checker) Check(chain []byte, now time.Time) opcua.CertResult {
	certs, err := x509.ParseCertificates(chain)
	if err != nil || len(certs) == 0 {
		return opcua.CertResult{Reason: opcua.ReasonCertificateInvalid}
	}
	leaf := certs[0]
	res := opcua.CertResult{Fingerprint: sha256.Sum256(leaf.Raw)}
	pub, ok := leaf.PublicKey.(*rsa.PublicKey)
	switch {
	case !ok:
		res.Reason = opcua.ReasonCertificateInvalid
	case pub.N.BitLen() < MinRSABits:
		res.Reason = opcua.ReasonCertificateKeySize
	case now.Before(leaf.NotBefore) || now.After(leaf.NotAfter):
		res.Reason = opcua.ReasonCertificateTime
	case c.pinned[res.Fingerprint]:
	case c.roots == nil && len(c.pinned) == 0:
		// No CA and no pin: the conduit checks validity and key size only.
	case c.roots == nil:
		res.Reason = opcua.ReasonCertificateUntrusted
	default:
		inter := x509.NewCertPool()
		for _, ic := range certs[1:] {
			inter.AddCert(ic)
		}
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: c.roots, Intermediates: inter, CurrentTime: now,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
			res.Reason = opcua.ReasonCertificateUntrusted
		} else if c.revoked(leaf) {
			res.Reason = opcua.ReasonCertificateRevoked
		}
	}
	return res
}

func (c *Checker) revoked(leaf *x509.Certificate) bool {
	for _, crl := range c.crls {
		if !bytes.Equal(crl.RawIssuer, leaf.RawIssuer) {
			continue
		}
		for _, e := range crl.RevokedCertificateEntries {
			if e.SerialNumber.Cmp(leaf.SerialNumber) == 0 {
				return true
			}
		}
	}
	return false
}
