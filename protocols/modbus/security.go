package modbus

// Security is a conduit's Modbus/TCP Security settings (the `tls:` block
// of its `modbus:` block): the gateway terminates TLS on port 802 with
// these files and forwards plain Modbus/TCP to DevicePort. Plain data:
// package protocols/modbustls loads and checks the files.
type Security struct {
	Certificate File   // the gateway's server certificate (PEM)
	Key         File   // its private key (PEM)
	ClientCAs   []File // client certificates must chain to one of them
	CRL         *File  // revoked client certificates; nil: none
	// RequireRole: a client certificate without a role gets nothing;
	// otherwise it gets the conduit's plain allow rules.
	RequireRole bool
	// DevicePort is the device's plain Modbus/TCP port; 0: 502.
	DevicePort uint16
}

// SecurePort is the port of Modbus/TCP Security (TLS).
const SecurePort = 802

// DefaultDevicePort is the plain Modbus/TCP port.
const DefaultDevicePort = 502

// Port is the device port, with its default.
func (s *Security) Port() uint16 {
	if s == nil || s.DevicePort == 0 {
		return DefaultDevicePort
	}
	return s.DevicePort
}

// File is a file named in the model.
type File struct {
	Name string // as written in the model (kept in the canonical form)
	Path string // where to read it (relative names joined to the model's directory)
}

// RoleRules are the allow rules of one role of Modbus/TCP Security (the
// role a client certificate carries).
type RoleRules struct {
	Name  string
	Rules []Rule
}

// RoleSpec is the Spec a client of role name gets: s with the role's
// rules instead of the plain allow rules. ok is false when the role is not
// listed (it gets nothing).
func (s *Spec) RoleSpec(name string) (Spec, bool) {
	for _, r := range s.Roles {
		if r.Name == name {
			rs := cloneSpec(*s)
			rs.Rules = r.Rules
			rs.Roles, rs.Security = nil, nil
			return cloneSpec(rs), true
		}
	}
	return Spec{}, false
}
