package audit

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"
)

// SyslogSettings configure the export of the audit log to a syslog
// collector (RFC 5424 messages, octet-counted framing per RFC 6587, over
// TCP or over TLS per RFC 5425). They belong in the daemon settings.
type SyslogSettings struct {
	// Address of the collector, host:port. Empty disables the export.
	Address string `yaml:"address" json:"address"`
	// Transport is "tls" (default, RFC 5425; port 6514) or "tcp".
	Transport string `yaml:"transport" json:"transport"`
	// CAFile holds the PEM certificates that may sign the collector's
	// certificate; empty means the system roots.
	CAFile string `yaml:"ca_file" json:"ca_file"`
	// CertFile and KeyFile are the gateway's client certificate, if the
	// collector asks for one.
	CertFile string `yaml:"cert_file" json:"cert_file"`
	KeyFile  string `yaml:"key_file" json:"key_file"`
	// ServerName is the name expected in the collector's certificate;
	// default the host part of Address.
	ServerName string `yaml:"server_name" json:"server_name"`

	// Facility is a syslog facility name; default "audit" (13). Also
	// "auth", "authpriv", "daemon", "local0" … "local7".
	Facility string `yaml:"facility" json:"facility"`
	// Hostname is the HOSTNAME field; default the gateway name.
	Hostname string `yaml:"hostname" json:"hostname"`
	// AppName is the APP-NAME field; default "zonegate".
	AppName string `yaml:"app_name" json:"app_name"`
	// EnterpriseID is the private enterprise number in the structured-data
	// IDs (zonegate@N, zgdetails@N); default 32473, the number reserved
	// for documentation (RFC 5612). Vendors set their own.
	EnterpriseID string `yaml:"enterprise_id" json:"enterprise_id"`

	// CursorFile stores the last delivered sequence number; default
	// DIR/syslog-ADDRESS.cursor (one per collector address).
	CursorFile string `yaml:"cursor_file" json:"cursor_file"`
	// BatchRecords is the most records sent before waiting for the
	// collector's acknowledgement; default 512.
	BatchRecords int `yaml:"batch_records" json:"batch_records"`
	// ConfirmDelay is how long a fully acknowledged batch must stay on a
	// live connection before it counts as delivered; default 300ms. See
	// Exporter for why.
	ConfirmDelay time.Duration `yaml:"confirm_delay" json:"confirm_delay"`
	// MinBackoff and MaxBackoff bound the reconnect delay; defaults 500ms
	// and 60s.
	MinBackoff time.Duration `yaml:"min_backoff" json:"min_backoff"`
	MaxBackoff time.Duration `yaml:"max_backoff" json:"max_backoff"`
	// Timeout bounds connecting, writing and waiting for the TCP
	// acknowledgement of a batch; default 15s.
	Timeout time.Duration `yaml:"timeout" json:"timeout"`
}

var facilities = map[string]int{
	"kern": 0, "user": 1, "daemon": 3, "auth": 4, "syslog": 5, "authpriv": 10, "audit": 13,
	"local0": 16, "local1": 17, "local2": 18, "local3": 19, "local4": 20, "local5": 21, "local6": 22, "local7": 23,
}

// withDefaults validates s and fills in defaults for a log in dir.
func (s SyslogSettings) withDefaults(dir, gateway string) (SyslogSettings, error) {
	if s.Address == "" {
		return s, errors.New("syslog export: address is empty")
	}
	host, _, err := net.SplitHostPort(s.Address)
	if err != nil {
		return s, fmt.Errorf("syslog export: address %q: want host:port", s.Address)
	}
	switch s.Transport {
	case "":
		s.Transport = "tls"
	case "tls", "tcp":
	default:
		return s, fmt.Errorf("syslog export: transport %q: want \"tls\" or \"tcp\"", s.Transport)
	}
	if s.ServerName == "" {
		s.ServerName = host
	}
	if s.Facility == "" {
		s.Facility = "audit"
	}
	if _, ok := facilities[s.Facility]; !ok {
		return s, fmt.Errorf("syslog export: unknown facility %q", s.Facility)
	}
	if s.Hostname == "" {
		s.Hostname = gateway
	}
	if s.AppName == "" {
		s.AppName = "zonegate"
	}
	if s.EnterpriseID == "" {
		s.EnterpriseID = "32473"
	}
	if s.CursorFile == "" {
		s.CursorFile = filepath.Join(dir, "syslog-"+fileSafe(s.Address)+".cursor")
	}
	if s.BatchRecords <= 0 {
		s.BatchRecords = 512
	}
	if s.ConfirmDelay <= 0 {
		s.ConfirmDelay = 300 * time.Millisecond
	}
	if s.MinBackoff <= 0 {
		s.MinBackoff = 500 * time.Millisecond
	}
	if s.MaxBackoff < s.MinBackoff {
		s.MaxBackoff = max(60*time.Second, s.MinBackoff)
	}
	if s.Timeout <= 0 {
		s.Timeout = 15 * time.Second
	}
	return s, nil
}

// tlsConfig builds the client TLS configuration.
func (s *SyslogSettings) tlsConfig() (*tls.Config, error) {
	c := &tls.Config{ServerName: s.ServerName, MinVersion: tls.VersionTLS12}
	if s.CAFile != "" {
		pem, err := os.ReadFile(s.CAFile)
		if err != nil {
			return nil, fmt.Errorf("syslog export: %w", err)
		}
		c.RootCAs = x509.NewCertPool()
		if !c.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("syslog export: no PEM certificate in %s", s.CAFile)
		}
	}
	if s.CertFile != "" || s.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(s.CertFile, s.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("syslog export: client certificate: %w", err)
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c, nil
}

// fileSafe turns an address into a file name part.
func fileSafe(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-') {
			b[i] = '_'
		}
	}
	return string(b)
}
