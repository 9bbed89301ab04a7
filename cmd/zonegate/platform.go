package main

import (
	"runtime"
	"runtime/debug"
)

// archLevelKey names the build setting that selects the instruction set
// level of an architecture, as `go version -m` reports it.
var archLevelKey = map[string]string{
	"386":      "GO386",
	"amd64":    "GOAMD64",
	"arm":      "GOARM",
	"arm64":    "GOARM64",
	"mips":     "GOMIPS",
	"mipsle":   "GOMIPS",
	"mips64":   "GOMIPS64",
	"mips64le": "GOMIPS64",
	"ppc64":    "GOPPC64",
	"ppc64le":  "GOPPC64",
	"riscv64":  "GORISCV64",
}

// buildSettings returns the settings the binary was built with, or nil.
func buildSettings() map[string]string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return nil
	}
	s := make(map[string]string, len(bi.Settings))
	for _, kv := range bi.Settings {
		s[kv.Key] = kv.Value
	}
	return s
}

// platform describes the binary: OS/architecture with its instruction set
// level (GOARM=7 for the armv7 build), and the Go release that built it.
func platform() string {
	return platformFrom(runtime.GOOS, runtime.GOARCH, runtime.Version(), buildSettings())
}

func platformFrom(goos, goarch, goversion string, settings map[string]string) string {
	p := goos + "/" + goarch
	if key := archLevelKey[goarch]; key != "" && settings[key] != "" {
		p += " " + key + "=" + settings[key]
	}
	return p + ", " + goversion
}

// buildCommit is the commit stamped with -ldflags, or else the one the Go
// toolchain recorded when it built inside a git checkout (-buildvcs).
func buildCommit(stamped string, settings map[string]string) string {
	if stamped != "" && stamped != "unknown" {
		return stamped
	}
	rev := settings["vcs.revision"]
	if rev == "" {
		return stamped
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if settings["vcs.modified"] == "true" {
		rev += "-dirty"
	}
	return rev
}
