package settings

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestExampleSettingsAreTheDefaults(t *testing.T) {
	s, err := Load("../../configs/zonegate.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	want.Model = filepath.Join("../../configs", "example-factory.yaml")
	if s.Model != want.Model {
		t.Errorf("model = %q, want %q (relative to the settings file)", s.Model, want.Model)
	}
	s.Model = want.Model
	if got, exp := s.PasswordPolicy(), want.PasswordPolicy(); got.MinLength != exp.MinLength || got.Argon2 != exp.Argon2 || got.LockoutThreshold != exp.LockoutThreshold {
		t.Errorf("the example's password settings differ from the defaults: %+v vs %+v", got, exp)
	}
	if s.Changes != want.Changes || s.Firewall != want.Firewall || s.API != want.API || s.StateDir != want.StateDir || s.Modbus != want.Modbus || s.Console != want.Console {
		t.Errorf("the example settings differ from the defaults:\n%+v\n%+v", s, want)
	}
}

func TestSettingsErrors(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{"stat_dir: /x\n", "field stat_dir not found"},
		{"changes:\n  confirm_within: soon\n", "is not a duration"},
		{"audit:\n  max_size: lots\n", "is not a size"},
		{"state_dir: relative\n", "state_dir must be an absolute path"},
		{"changes:\n  keep: 1\n", "changes.keep must be at least 2"},
		{"modbus:\n  response_timeout: 0s\n", "modbus.response_timeout 0s must be above 0"},
		{"modbus:\n  response_timeout: 2m\n", "at most 1m0s"},
		{"modbus:\n  response_timeout: soon\n", "is not a duration"},
	} {
		path := filepath.Join(t.TempDir(), "s.yaml")
		if err := os.WriteFile(path, []byte(tc.text), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := Load(path)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want it to mention %q", tc.text, err, tc.want)
		}
	}
	path := filepath.Join(t.TempDir(), "s.yaml")
	if err := os.WriteFile(path, []byte("changes:\n  confirm_within: 90s\naudit:\n  max_size: 8MiB\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if time.Duration(s.Changes.ConfirmWithin) != 90*time.Second || s.Audit.MaxSize != 8<<20 {
		t.Errorf("parsed %+v", s)
	}
}

func TestSettingsModbusResponseTimeout(t *testing.T) {
	assert.Equal(t, Duration(time.Second), Default().Modbus.ResponseTimeout, "the default")
	path := filepath.Join(t.TempDir(), "s.yaml")
	require.NoError(t, os.WriteFile(path, []byte("modbus:\n  response_timeout: 500ms\n"), 0o600))
	s, err := Load(path)
	require.NoError(t, err)
	assert.Equal(t, Duration(500*time.Millisecond), s.Modbus.ResponseTimeout)
}
