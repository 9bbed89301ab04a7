package modbustls_test

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"testing"
	"unicode/utf8"

	"github.com/zonegate/zonegate/protocols/modbustls"
)

// FuzzRole: any role extension value is either refused or gives a
// non-empty, valid UTF-8 role of at most 128 bytes; nothing panics.
func FuzzRole(f *testing.F) {
	for _, seed := range [][]byte{
		{0x0c, 0x08, 'o', 'p', 'e', 'r', 'a', 't', 'o', 'r'}, // UTF8String "operator"
		{0x13, 0x02, 'o', 'p'},                               // PrintableString
		{0x0c, 0x00},                                         // empty
		{0x0c, 0x81, 0x02, 'a', 'b'},                         // long-form length
		{0x0c, 0x02, 0xff, 0xfe},                             // invalid UTF-8
		{0x0c, 0x01, 'a', 0x00},                              // trailing byte
		{},
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, v []byte) {
		c := &x509.Certificate{Extensions: []pkix.Extension{{Id: modbustls.RoleOID, Value: v}}}
		role, err := modbustls.Role(c)
		if err != nil {
			return
		}
		if role == "" || len(role) > 128 || !utf8.ValidString(role) {
			t.Fatalf("role %q from % x accepted", role, v)
		}
	})
}
