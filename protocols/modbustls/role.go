package modbustls

import (
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"unicode/utf8"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// RoleOID is the role extension of Modbus/TCP Security: the client's role
// as a UTF8String.
var RoleOID = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 50316, 802, 1}

// maxRole bounds a role name.
const maxRole = 128

// Role returns the role a certificate carries ("" when it has no role
// extension). It is strict, as the specification asks: a second role
// extension, a value that is not exactly one UTF8String, invalid UTF-8,
// an empty or overlong role are errors, and the handshake is refused.
func Role(c *x509.Certificate) (string, error) {
	var found []byte
	n := 0
	for _, e := range c.Extensions {
		if e.Id.Equal(RoleOID) {
			n++
			found = e.Value
		}
	}
	switch {
	case n == 0:
		return "", nil
	case n > 1:
		return "", fmt.Errorf("the certificate has %d role extensions (%s): at most one is allowed", n, RoleOID)
	}
	s := cryptobyte.String(found)
	var v cryptobyte.String
	if !s.ReadASN1(&v, cbasn1.UTF8String) || !s.Empty() {
		return "", fmt.Errorf("the role extension (%s) is not one UTF8String", RoleOID)
	}
	switch {
	case len(v) == 0:
		return "", errors.New("the role extension holds an empty role")
	case len(v) > maxRole:
		return "", fmt.Errorf("the role extension holds a role of %d bytes (at most %d)", len(v), maxRole)
	case !utf8.Valid(v):
		return "", errors.New("the role extension is not valid UTF-8")
	}
	return string(v), nil
}
