package console

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/zonegate/zonegate/gateway/internal/atomicfile"
)

// Certificate is the console's TLS certificate and what the engineer
// checks it by.
type Certificate struct {
	TLS tls.Certificate
	// Fingerprint is the SHA-256 of the certificate (DER), as browsers
	// show it: 32 upper-case hex bytes separated by colons.
	Fingerprint string
	// File is where it was read from or written to.
	File string
	// Generated: zonegate made it (self-signed) rather than reading the
	// settings' files; Created: it was made at this start.
	Generated, Created bool
	NotAfter           time.Time
}

// selfSignedValidity is how long a generated certificate is valid; an
// expired one is replaced at the next start (with a new fingerprint).
const selfSignedValidity = 5 * 365 * 24 * time.Hour

// SelfSignedFile is where the generated certificate and its key are kept
// below the state directory (one PEM file, mode 0600, written atomically
// so that certificate and key always match).
const SelfSignedFile = "console/tls.pem"

// Fingerprint is the SHA-256 fingerprint of a DER certificate.
func Fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	parts := make([]string, len(sum))
	for i, b := range sum {
		parts[i] = fmt.Sprintf("%02X", b)
	}
	return strings.Join(parts, ":")
}

// LoadCertificate reads a PEM certificate (chain) and its key from the
// files the settings name.
func LoadCertificate(certFile, keyFile string) (Certificate, error) {
	c, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return Certificate{}, fmt.Errorf("console.cert_file %s and console.key_file %s: %w (both must be PEM files: the certificate, and its unencrypted private key)", certFile, keyFile, err)
	}
	return certificateOf(c, certFile)
}

func certificateOf(c tls.Certificate, file string) (Certificate, error) {
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		return Certificate{}, fmt.Errorf("%s: %w", file, err)
	}
	c.Leaf = leaf
	return Certificate{TLS: c, Fingerprint: Fingerprint(leaf.Raw), File: file, NotAfter: leaf.NotAfter}, nil
}

// LoadOrCreateSelfSigned returns the console's self-signed certificate
// from SelfSignedFile below stateDir, made at the first start for the
// console's address and the gateway's name. A file that cannot be read
// as a certificate with its key, or one that has expired, is replaced
// (the fingerprint changes: zonegate status shows the new one).
func LoadOrCreateSelfSigned(stateDir string, addr netip.Addr, gateway string, now time.Time) (Certificate, error) {
	path := filepath.Join(stateDir, SelfSignedFile)
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		if c, err := tls.X509KeyPair(data, data); err == nil {
			if cert, err := certificateOf(c, path); err == nil && now.Before(cert.NotAfter) {
				cert.Generated = true
				return cert, nil
			}
		}
	case !errors.Is(err, fs.ErrNotExist):
		return Certificate{}, fmt.Errorf("read the console's certificate: %w", err)
	}
	data, err = selfSigned(addr, gateway, now)
	if err != nil {
		return Certificate{}, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return Certificate{}, fmt.Errorf("create the console's certificate directory: %w", err)
	}
	if err := atomicfile.Write(path, data, 0o600, atomicfile.Options{}); err != nil {
		return Certificate{}, fmt.Errorf("keep the console's certificate: %w", err)
	}
	c, err := tls.X509KeyPair(data, data)
	if err != nil {
		return Certificate{}, err
	}
	cert, err := certificateOf(c, path)
	cert.Generated, cert.Created = true, true
	return cert, err
}

// selfSigned makes a certificate and key (ECDSA P-256) for addr, as PEM.
func selfSigned(addr netip.Addr, gateway string, now time.Time) ([]byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "zonegate console " + gateway, Organization: []string{"zonegate"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(selfSignedValidity),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	if addr.IsValid() {
		tmpl.IPAddresses = append(tmpl.IPAddresses, addr.AsSlice())
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("make the console's certificate: %w", err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	out := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	return append(out, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})...), nil
}
