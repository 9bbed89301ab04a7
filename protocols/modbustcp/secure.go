package modbustcp

import (
	"encoding/hex"
	"fmt"
	"maps"
	"slices"

	"github.com/zonegate/zonegate/protocols/inspect"
	"github.com/zonegate/zonegate/protocols/modbus"
)

// SecurePolicy is the policy of a conduit with Modbus/TCP Security (a
// `tls:` block): the plain allow rules for plain clients (and for TLS
// clients whose certificate has no role unless a role is required) and
// one policy per role listed in `roles:`.
type SecurePolicy struct {
	Plain       *modbus.Policy
	Roles       map[string]*modbus.Policy
	RequireRole bool
}

// compileSecure compiles the role policies of spec next to its plain one.
func compileSecure(spec *modbus.Spec, plain *modbus.Policy) (*SecurePolicy, error) {
	sp := &SecurePolicy{Plain: plain, Roles: map[string]*modbus.Policy{}, RequireRole: spec.Security.RequireRole}
	for _, r := range spec.Roles {
		rs, _ := spec.RoleSpec(r.Name)
		p, err := modbus.Compile(rs)
		if err != nil {
			return nil, fmt.Errorf("role %s: %w", r.Name, err)
		}
		sp.Roles[r.Name] = p
	}
	return sp, nil
}

// For is the policy of a client: plain clients get the plain rules, a
// certificate with a role the role's rules (nil, deny everything, for a
// role not listed), a certificate without one nothing when a role is
// required and the plain rules otherwise.
func (sp *SecurePolicy) For(secure bool, role string) *modbus.Policy {
	switch {
	case !secure:
		return sp.Plain
	case role != "":
		return sp.Roles[role]
	case sp.RequireRole:
		return nil
	}
	return sp.Plain
}

// RoleNames lists the roles, sorted.
func (sp *SecurePolicy) RoleNames() []string { return slices.Sorted(maps.Keys(sp.Roles)) }

// Opened events of the TLS front end (protocols/modbustls) carry in
// their Data: 'T', the TLS version (2 bytes, big endian), the
// certificate's SHA-256 (32 bytes), then its subject.
const (
	dataOpenedTLS = 'T'
	openedHead    = 1 + 2 + 32
)

// SetOpenedData fills the Data of an Opened event of a TLS session.
func SetOpenedData(ev *inspect.Event, tlsVersion uint16, fingerprint [32]byte, subject string) {
	b := make([]byte, 0, openedHead+len(subject))
	b = append(b, dataOpenedTLS, byte(tlsVersion>>8), byte(tlsVersion))
	b = append(b, fingerprint[:]...)
	b = append(b, subject...)
	ev.SetData(b)
}

// openedDetails are the audit details of an opened TLS session: the
// certificate's subject, fingerprint and role, and the TLS version.
func openedDetails(ev *inspect.Event) map[string]string {
	b := ev.Bytes()
	if len(b) < openedHead || b[0] != dataOpenedTLS {
		return nil
	}
	role := ev.Role
	if role == "" {
		role = "(none)"
	}
	return map[string]string{
		"tls_version": tlsVersionName(uint16(b[1])<<8 | uint16(b[2])),
		"fingerprint": hex.EncodeToString(b[3:openedHead]),
		"subject":     string(b[openedHead:]),
		"role":        role,
	}
}

func tlsVersionName(v uint16) string {
	switch v {
	case 0x0303:
		return "TLS 1.2"
	case 0x0304:
		return "TLS 1.3"
	}
	return fmt.Sprintf("0x%04x", v)
}
