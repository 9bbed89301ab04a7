// Package settings are the daemon's own settings (not the zone model):
// their defaults, the YAML file of `zonegate serve --config` with its
// errors, and the checks a value must pass before the daemon starts.
package settings

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/zonegate/zonegate/firewall"
	"github.com/zonegate/zonegate/gateway/audit"
	"github.com/zonegate/zonegate/gateway/auth"
	"github.com/zonegate/zonegate/gateway/metrics"
	"github.com/zonegate/zonegate/protocols/modbus"
	"github.com/zonegate/zonegate/protocols/modbus/modbusrules"
	"github.com/zonegate/zonegate/protocols/proxy"
)

// Settings are the daemon's own settings (not the zone model), read from
// the file given to `zonegate serve --config`. Every field has a default;
// configs/zonegate.yaml documents them.
type Settings struct {
	// Model is the zone model file applied on first start and re-read on
	// SIGHUP. Models pushed over the API are kept in StateDir.
	Model string `yaml:"model"`
	// StateDir holds the model versions, the accounts and, by default, the
	// audit log.
	StateDir string `yaml:"state_dir"`
	API      struct {
		Socket string `yaml:"socket"`
		// Group may read and write the socket (mode 0660); empty: root's group.
		Group string `yaml:"group"`
	} `yaml:"api"`
	Audit struct {
		Dir         string                 `yaml:"dir"`
		MaxSize     Size                   `yaml:"max_size"`
		WarnPercent int                    `yaml:"warn_percent"`
		Syslog      []audit.SyslogSettings `yaml:"syslog"`
		// DataPlaneShare is the share of max_size that data-plane records
		// (aggregated security events, device writes) may fill.
		DataPlaneShare float64 `yaml:"data_plane_share"`
	} `yaml:"audit"`
	Passwords struct {
		MinLength       int      `yaml:"min_length"`
		History         int      `yaml:"history"`
		LockoutFailures int      `yaml:"lockout_failures"`
		LockoutWindow   Duration `yaml:"lockout_window"`
		LockoutDuration Duration `yaml:"lockout_duration"`
		SessionLifetime Duration `yaml:"session_lifetime"`
		Argon2          struct {
			MemoryKiB uint32 `yaml:"memory_kib"`
			Time      uint32 `yaml:"time"`
			Threads   uint8  `yaml:"threads"`
		} `yaml:"argon2"`
	} `yaml:"passwords"`
	Changes struct {
		// ConfirmWithin is the default time to confirm a pushed model
		// before it rolls back by itself; 0 confirms at once.
		ConfirmWithin Duration `yaml:"confirm_within"`
		// Keep is how many model versions stay on disk.
		Keep int `yaml:"keep"`
	} `yaml:"changes"`
	Firewall struct {
		ModbusProxyPort uint16 `yaml:"modbus_proxy_port"`
		LogGroup        uint16 `yaml:"log_group"`
		// DriftCheck is how often the ruleset generation is polled.
		DriftCheck Duration `yaml:"drift_check"`
	} `yaml:"firewall"`
	Metrics struct {
		// Listen is the address of the Prometheus endpoint (plain HTTP,
		// /metrics only), e.g. 198.18.60.1:9469 on the management
		// interface; empty: off.
		Listen string `yaml:"listen"`
	} `yaml:"metrics"`
	// Events configures the data-plane event pipeline (gateway/events).
	Events struct {
		// Interval is how long events are aggregated per key.
		Interval Duration `yaml:"interval"`
		// MaxKeys bounds the keys aggregated per interval.
		MaxKeys int `yaml:"max_keys"`
		// LogLines bounds the daemon log lines per interval.
		LogLines int `yaml:"log_lines"`
	} `yaml:"events"`
	Modbus struct {
		// ResponseTimeout is how long a device has to answer a request
		// forwarded by the Modbus proxy, for conduits that set no
		// `modbus.response_timeout` of their own.
		ResponseTimeout Duration `yaml:"response_timeout"`
	} `yaml:"modbus"`
	// Console is the local web console (gateway/console).
	Console Console `yaml:"console"`
}

// Console are the settings of the web console.
type Console struct {
	// Listen is the console's HTTPS address, ADDRESS:PORT of a management
	// zone's interface (e.g. 198.18.60.1:8443); empty: off.
	Listen string `yaml:"listen"`
	// CertFile and KeyFile are a PEM certificate (chain) and its key;
	// both empty: a self-signed certificate made at the first start and
	// kept in the state directory.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// IdleTimeout signs a console session out after this long without a
	// click; passwords.session_lifetime bounds it in any case.
	IdleTimeout Duration `yaml:"idle_timeout"`
}

// check checks the console settings that the start cannot fix.
func (c *Console) check() []string {
	var errs []string
	if c.Listen != "" {
		ap, err := netip.ParseAddrPort(c.Listen)
		switch {
		case err != nil:
			errs = append(errs, fmt.Sprintf("console.listen %q is not ADDRESS:PORT: write the address of a management zone's interface and a port, e.g. 198.18.60.1:8443", c.Listen))
		case ap.Addr().IsUnspecified():
			errs = append(errs, fmt.Sprintf("console.listen %q would listen on every interface, those of zones that must not reach the gateway too: write the address of a management zone's interface, e.g. 198.18.60.1:8443", c.Listen))
		case ap.Port() == 0:
			errs = append(errs, fmt.Sprintf("console.listen %q: the port must be 1-65535, e.g. 8443", c.Listen))
		}
	}
	if (c.CertFile == "") != (c.KeyFile == "") {
		errs = append(errs, "console.cert_file and console.key_file go together: give both, or neither for a self-signed certificate")
	}
	if d := time.Duration(c.IdleTimeout); d < time.Minute || d > auth.DefaultPolicy().SessionIdle {
		errs = append(errs, fmt.Sprintf("console.idle_timeout %v must be 1m to %v (the accounts end a session after %v without any request), such as 15m",
			d, auth.DefaultPolicy().SessionIdle, auth.DefaultPolicy().SessionIdle))
	}
	return errs
}

// Default returns the settings used when no file is given.
func Default() Settings {
	var s Settings
	s.StateDir = "/var/lib/zonegate"
	s.API.Socket = "/run/zonegate/api.sock"
	s.Audit.MaxSize = 64 << 20
	s.Audit.WarnPercent = 80
	p := auth.DefaultPolicy()
	s.Passwords.MinLength = p.MinLength
	s.Passwords.History = p.History
	s.Passwords.LockoutFailures = p.LockoutThreshold
	s.Passwords.LockoutWindow = Duration(p.LockoutWindow)
	s.Passwords.LockoutDuration = Duration(p.LockoutDuration)
	s.Passwords.SessionLifetime = Duration(p.SessionLifetime)
	s.Passwords.Argon2.MemoryKiB = p.Argon2.Memory
	s.Passwords.Argon2.Time = p.Argon2.Time
	s.Passwords.Argon2.Threads = p.Argon2.Threads
	s.Changes.ConfirmWithin = Duration(2 * time.Minute)
	s.Changes.Keep = 20
	s.Firewall.ModbusProxyPort = modbusrules.Protocol.DefaultPort
	s.Firewall.LogGroup = firewall.DefaultLogGroup
	s.Firewall.DriftCheck = Duration(2 * time.Second)
	s.Audit.DataPlaneShare = 0.5
	s.Events.Interval = Duration(10 * time.Second)
	s.Events.MaxKeys = 1024
	s.Events.LogLines = 20
	s.Modbus.ResponseTimeout = Duration(proxy.DefaultResponseTimeout)
	s.Console.IdleTimeout = Duration(15 * time.Minute)
	return s
}

// Load reads a settings file over the defaults. Unknown keys are errors,
// reported with their line.
func Load(path string) (Settings, error) {
	s := Default()
	data, err := os.ReadFile(path)
	if err != nil {
		return s, fmt.Errorf("read settings: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	// An empty file decodes to io.EOF: it means all defaults.
	if err := dec.Decode(&s); err != nil && !errors.Is(err, io.EOF) {
		return s, fmt.Errorf("%s: %s", path, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if s.Model != "" && !filepath.IsAbs(s.Model) {
		s.Model = filepath.Join(filepath.Dir(path), s.Model)
	}
	for _, f := range []*string{&s.Console.CertFile, &s.Console.KeyFile} {
		if *f != "" && !filepath.IsAbs(*f) {
			*f = filepath.Join(filepath.Dir(path), *f)
		}
	}
	return s, s.Validate()
}

// Validate checks values the defaults cannot fix.
func (s *Settings) Validate() error {
	var errs []string
	if s.StateDir == "" || !filepath.IsAbs(s.StateDir) {
		errs = append(errs, "state_dir must be an absolute path")
	}
	if s.API.Socket == "" {
		errs = append(errs, "api.socket must name the management socket")
	}
	if _, err := s.APIGroupID(); err != nil {
		errs = append(errs, err.Error())
	}
	if s.Audit.WarnPercent < 1 || s.Audit.WarnPercent > 100 {
		errs = append(errs, "audit.warn_percent must be 1-100")
	}
	if s.Passwords.MinLength < 8 {
		errs = append(errs, "passwords.min_length must be at least 8")
	} else if err := s.PasswordPolicy().Validate(); err != nil {
		// The accounts refuse such a policy when the daemon opens them,
		// after the fail-close ruleset is in place: refuse it here.
		errs = append(errs, "passwords: "+strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	if s.Changes.Keep < 2 {
		errs = append(errs, "changes.keep must be at least 2 (the running model and the one to roll back to)")
	}
	if s.Firewall.ModbusProxyPort == 0 {
		errs = append(errs, "firewall.modbus_proxy_port must be 1-65535")
	}
	if s.Metrics.Listen != "" {
		if err := metrics.CheckListen(s.Metrics.Listen); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if s.Audit.DataPlaneShare < 0.05 || s.Audit.DataPlaneShare > 0.9 {
		errs = append(errs, "audit.data_plane_share must be 0.05-0.9 (at least a tenth of the log stays for configuration and account changes)")
	}
	if time.Duration(s.Events.Interval) < time.Second || s.Events.MaxKeys < 1 || s.Events.LogLines < 1 {
		errs = append(errs, "events: interval must be at least 1s, max_keys and log_lines at least 1")
	}
	if rt := time.Duration(s.Modbus.ResponseTimeout); rt <= 0 || rt > modbus.MaxResponseTimeout {
		errs = append(errs, fmt.Sprintf("modbus.response_timeout %v must be above 0 and at most %v, such as 1s", rt, modbus.MaxResponseTimeout))
	}
	errs = append(errs, s.Console.check()...)
	if len(errs) > 0 {
		return fmt.Errorf("invalid settings: %s", strings.Join(errs, "; "))
	}
	return nil
}

// APIGroupID is the numeric id of api.group, or -1 when it is empty.
func (s *Settings) APIGroupID() (int, error) {
	if s.API.Group == "" {
		return -1, nil
	}
	g, err := user.LookupGroup(s.API.Group)
	if err != nil {
		return -1, fmt.Errorf("api.group %q is not a group of this system: create it (groupadd %s) or leave api.group empty", s.API.Group, s.API.Group)
	}
	gid, err := strconv.Atoi(g.Gid)
	if err != nil || gid < 0 {
		return -1, fmt.Errorf("api.group %q has the group id %q, which is not a number: pick a group with a numeric id", s.API.Group, g.Gid)
	}
	return gid, nil
}

// AuditDir is where the audit log lives.
func (s *Settings) AuditDir() string {
	if s.Audit.Dir != "" {
		return s.Audit.Dir
	}
	return filepath.Join(s.StateDir, "audit")
}

// PasswordPolicy turns the password settings into an auth.Policy.
func (s *Settings) PasswordPolicy() auth.Policy {
	p := auth.DefaultPolicy()
	p.MinLength = s.Passwords.MinLength
	p.History = s.Passwords.History
	p.LockoutThreshold = s.Passwords.LockoutFailures
	p.LockoutWindow = time.Duration(s.Passwords.LockoutWindow)
	p.LockoutDuration = time.Duration(s.Passwords.LockoutDuration)
	p.SessionLifetime = time.Duration(s.Passwords.SessionLifetime)
	p.Argon2.Memory = s.Passwords.Argon2.MemoryKiB
	p.Argon2.Time = s.Passwords.Argon2.Time
	p.Argon2.Threads = s.Passwords.Argon2.Threads
	return p
}

// Duration is a time.Duration written as "2m" or "15m" in YAML.
type Duration time.Duration

// UnmarshalYAML parses a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration such as 90s, 2m or 1h", n.Line, n.Value)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes the duration as a string.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// Size is a byte count written as "64MiB", "512KiB" or a plain number.
type Size int64

// UnmarshalYAML parses a size.
func (s *Size) UnmarshalYAML(n *yaml.Node) error {
	v := strings.TrimSpace(n.Value)
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		m      int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if strings.HasSuffix(v, u.suffix) {
			v, mult = strings.TrimSpace(strings.TrimSuffix(v, u.suffix)), u.m
			break
		}
	}
	x, err := strconv.ParseInt(v, 10, 64)
	if err != nil || x <= 0 {
		return fmt.Errorf("line %d: %q is not a size such as 64MiB", n.Line, n.Value)
	}
	*s = Size(x * mult)
	return nil
}
