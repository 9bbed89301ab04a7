package settings

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestConsoleSettings(t *testing.T) {
	d := Default()
	assert.Empty(t, d.Console.Listen, "the console is off by default")
	assert.Equal(t, 15*time.Minute, time.Duration(d.Console.IdleTimeout))
	for text, want := range map[string]string{
		"console:\n  listen: 0.0.0.0:8443\n":           "would listen on every interface",
		"console:\n  listen: \"[::]:8443\"\n":          "would listen on every interface",
		"console:\n  listen: \":8443\"\n":              "is not ADDRESS:PORT",
		"console:\n  listen: gateway:8443\n":           "is not ADDRESS:PORT",
		"console:\n  listen: 198.18.60.1\n":            "is not ADDRESS:PORT",
		"console:\n  listen: 198.18.60.1:0\n":          "the port must be 1-65535",
		"console:\n  cert_file: /etc/zonegate/c.pem\n": "console.cert_file and console.key_file go together",
		"console:\n  idle_timeout: 10s\n":              "console.idle_timeout 10s must be 1m to 30m0s",
		"console:\n  lisen: 198.18.60.1:8443\n":        "field lisen not found",
	} {
		_, _, err := loadText(t, text)
		assert.ErrorContains(t, err, want, text)
	}
	s, dir, err := loadText(t, "console:\n  listen: \"[fd00:60::1]:8443\"\n  cert_file: tls/cert.pem\n  key_file: /etc/k.pem\n  idle_timeout: 30m\n")
	require.NoError(t, err)
	assert.Equal(t, "[fd00:60::1]:8443", s.Console.Listen)
	assert.Equal(t, filepath.Join(dir, "tls/cert.pem"), s.Console.CertFile, "relative to the settings file")
	assert.Equal(t, "/etc/k.pem", s.Console.KeyFile)
	assert.Equal(t, 30*time.Minute, time.Duration(s.Console.IdleTimeout))
}

// loadText loads settings from a file with text in a directory of its own.
func loadText(t *testing.T, text string) (Settings, string, error) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "s.yaml")
	require.NoError(t, os.WriteFile(path, []byte(text), 0o600))
	s, err := Load(path)
	return s, dir, err
}
