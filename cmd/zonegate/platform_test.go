package main

import (
	"runtime"
	"strings"
	"testing"
)

func TestPlatformFrom(t *testing.T) {
	cases := []struct {
		arch     string
		settings map[string]string
		want     string
	}{
		{"arm", map[string]string{"GOARM": "7"}, "linux/arm GOARM=7, go1.24.0"},
		{"arm64", map[string]string{"GOARM64": "v8.0"}, "linux/arm64 GOARM64=v8.0, go1.24.0"},
		{"amd64", map[string]string{"GOAMD64": "v1", "GOARM": "7"}, "linux/amd64 GOAMD64=v1, go1.24.0"},
		{"arm", nil, "linux/arm, go1.24.0"},
		{"s390x", map[string]string{"GOARM": "7"}, "linux/s390x, go1.24.0"},
	}
	for _, c := range cases {
		if got := platformFrom("linux", c.arch, "go1.24.0", c.settings); got != c.want {
			t.Errorf("platformFrom(%s, %v) = %q, want %q", c.arch, c.settings, got, c.want)
		}
	}
}

func TestBuildCommit(t *testing.T) {
	vcs := map[string]string{"vcs.revision": "0123456789abcdef0123", "vcs.modified": "true"}
	if got := buildCommit("abc1234", vcs); got != "abc1234" {
		t.Errorf("stamped commit: got %q", got)
	}
	if got := buildCommit("unknown", vcs); got != "0123456789ab-dirty" {
		t.Errorf("vcs fallback: got %q", got)
	}
	if got := buildCommit("unknown", nil); got != "unknown" {
		t.Errorf("no information: got %q", got)
	}
}

// TestVersionCommand checks the running test binary's own build settings:
// under qemu-arm-static the armv7 build must say GOARM=7.
func TestVersionCommand(t *testing.T) {
	var out, errb strings.Builder
	if code := run([]string{"version"}, &out, &errb); code != 0 {
		t.Fatalf("version exited %d: %s", code, errb.String())
	}
	got := out.String()
	if !strings.HasPrefix(got, "zonegate ") || !strings.Contains(got, "linux/"+runtime.GOARCH) {
		t.Fatalf("version output %q lacks name or architecture", got)
	}
	if runtime.GOARCH == "arm" {
		if s := buildSettings(); s["GOARM"] != "" && !strings.Contains(got, "GOARM="+s["GOARM"]) {
			t.Fatalf("version output %q lacks GOARM=%s", got, s["GOARM"])
		}
	}
}
