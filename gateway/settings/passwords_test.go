package settings

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSettingsRefuseInvalidPasswordPolicy: password settings the accounts
// would refuse at start are refused when the settings are loaded, before
// the daemon touches the ruleset.
func TestSettingsRefuseInvalidPasswordPolicy(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{"passwords:\n  session_lifetime: 2s\n", "session lifetime 2s: use at least 1m"},
		{"passwords:\n  history: 99\n", "password history 99"},
		{"passwords:\n  lockout_failures: 0\n", "lockout threshold 0"},
		{"passwords:\n  argon2:\n    time: 0\n", "argon2 time t=0"},
	} {
		path := filepath.Join(t.TempDir(), "s.yaml")
		if err := os.WriteFile(path, []byte(tc.text), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := Load(path)
		if err == nil || !strings.Contains(err.Error(), "passwords: ") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want it to mention %q", tc.text, err, tc.want)
		}
	}
	path := filepath.Join(t.TempDir(), "s.yaml")
	if err := os.WriteFile(path, []byte("passwords:\n  session_lifetime: 1m\n  history: 24\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); err != nil {
		t.Errorf("the smallest session lifetime and the largest history are refused: %v", err)
	}
}
