package uatest

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"testing"

	"github.com/gopcua/opcua/uapolicy"
)

// The gopcua v0.8.0 server cannot open a secured channel: its channels
// start in security mode None, so it never decrypts the first OPN (which
// is always encrypted with the server's public key when the policy is not
// None) and fails to decode it. shim stands in front of it and, holding
// the server's private key as the server itself does, decrypts that one
// chunk before the server reads it; the server then reads the security
// mode from the request and signs and encrypts everything after it
// itself. Every other byte passes unchanged both ways. A test proves
// what reached the server from the server's own log (Handled).
type shim struct {
	ln     net.Listener
	target string
	key    *rsa.PrivateKey
	dial   func(network, address string) (net.Conn, error)
}

func startShim(t testing.TB, ln net.Listener, target string, key *rsa.PrivateKey, dial func(network, address string) (net.Conn, error)) {
	s := &shim{ln: ln, target: target, key: key, dial: dial}
	go s.serve()
	t.Cleanup(func() { ln.Close() })
}

func (s *shim) serve() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		go s.relay(c)
	}
}

func (s *shim) relay(c net.Conn) {
	defer c.Close()
	up, err := s.dial("tcp", s.target)
	if err != nil {
		return
	}
	defer up.Close()
	go func() {
		io.Copy(c, up)
		c.Close()
	}()
	first := true
	for {
		chunk, err := readChunk(c)
		if err != nil {
			return
		}
		if first && string(chunk[:3]) == "OPN" {
			first = false
			if plain, err := s.decryptOpen(chunk); err == nil {
				chunk = plain
			}
		}
		if _, err := up.Write(chunk); err != nil {
			return
		}
	}
}

func readChunk(r io.Reader) ([]byte, error) {
	h := make([]byte, 8)
	if _, err := io.ReadFull(r, h); err != nil {
		return nil, err
	}
	size := binary.LittleEndian.Uint32(h[4:])
	if size < 8 || size > 16<<20 {
		return nil, errors.New("bad chunk size")
	}
	b := make([]byte, size)
	copy(b, h)
	_, err := io.ReadFull(r, b[8:])
	return b, err
}

// decryptOpen returns the OPN chunk with its encrypted part (sequence
// header, body, padding, signature) decrypted.
func (s *shim) decryptOpen(chunk []byte) ([]byte, error) {
	off := 12
	field := func() []byte {
		if off+4 > len(chunk) {
			return nil
		}
		n := int32(binary.LittleEndian.Uint32(chunk[off:]))
		off += 4
		if n <= 0 || off+int(n) > len(chunk) {
			return nil
		}
		v := chunk[off : off+int(n)]
		off += int(n)
		return v
	}
	uri := string(field())
	cert := field()
	field() // receiver thumbprint
	if uri == "" || uri == "http://opcfoundation.org/UA/SecurityPolicy#None" || cert == nil {
		return nil, errors.New("not a secured OPN")
	}
	x, err := x509.ParseCertificate(cert)
	if err != nil {
		return nil, err
	}
	pub, ok := x.PublicKey.(*rsa.PublicKey)
	if !ok {
		return nil, errors.New("not RSA")
	}
	algo, err := uapolicy.Asymmetric(uri, s.key, pub)
	if err != nil {
		return nil, err
	}
	plain, err := algo.Decrypt(chunk[off:])
	if err != nil {
		return nil, err
	}
	out := append(append([]byte(nil), chunk[:off]...), plain...)
	binary.LittleEndian.PutUint32(out[4:], uint32(len(out)))
	return out, nil
}
