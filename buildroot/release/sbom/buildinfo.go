package sbom

import (
	"bufio"
	"bytes"
	"fmt"
	"os/exec"
	"strings"
)

// Module is one module line of `go version -m`.
type Module struct {
	Path, Version, Sum string
	Replace            *Module
}

// BuildInfo is what `go version -m BINARY` prints about a Go binary.
type BuildInfo struct {
	GoVersion string            // go1.26.8
	Path      string            // the main package
	Main      Module            // the main module
	Deps      []Module          // every other module compiled in, as listed
	Settings  map[string]string // the build lines: GOOS, GOARCH, -ldflags, …
}

// ReadBuildInfo runs `go version -m` on binary, so that the list is the one
// the Go toolchain itself reports.
func ReadBuildInfo(goTool, binary string) (*BuildInfo, error) {
	out, err := exec.Command(goTool, "version", "-m", binary).Output()
	if err != nil {
		return nil, fmt.Errorf("go version -m %s: %w%s", binary, err, stderrOf(err))
	}
	return ParseBuildInfo(out)
}

// ParseBuildInfo parses the output of `go version -m` for one binary.
func ParseBuildInfo(out []byte) (*BuildInfo, error) {
	bi := &BuildInfo{Settings: map[string]string{}}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	first := true
	for sc.Scan() {
		line := sc.Text()
		if first {
			// "BINARY: go1.26.8"
			i := strings.LastIndex(line, ": ")
			if i < 0 {
				return nil, fmt.Errorf("go version -m: unexpected first line %q", line)
			}
			bi.GoVersion = line[i+2:]
			first = false
			continue
		}
		f := strings.Split(strings.TrimPrefix(line, "\t"), "\t")
		switch f[0] {
		case "path":
			bi.Path = field(f, 1)
		case "mod":
			bi.Main = Module{Path: field(f, 1), Version: field(f, 2), Sum: field(f, 3)}
		case "dep":
			bi.Deps = append(bi.Deps, Module{Path: field(f, 1), Version: field(f, 2), Sum: field(f, 3)})
		case "=>":
			if len(bi.Deps) == 0 {
				return nil, fmt.Errorf("go version -m: replacement %q before any dep line", line)
			}
			bi.Deps[len(bi.Deps)-1].Replace = &Module{Path: field(f, 1), Version: field(f, 2), Sum: field(f, 3)}
		case "build":
			if k, v, ok := strings.Cut(field(f, 1), "="); ok {
				bi.Settings[k] = v
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if bi.GoVersion == "" || bi.Main.Path == "" {
		return nil, fmt.Errorf("go version -m: no Go module information (was the binary built with modules?)")
	}
	return bi, nil
}

func field(f []string, i int) string {
	if i < len(f) {
		return f[i]
	}
	return ""
}

// Effective is the module that was really compiled in: the replacement
// when there is one.
func (m Module) Effective() Module {
	if m.Replace != nil {
		return *m.Replace
	}
	return m
}

func stderrOf(err error) string {
	if ee, ok := err.(*exec.ExitError); ok && len(ee.Stderr) > 0 {
		return ": " + strings.TrimSpace(string(ee.Stderr))
	}
	return ""
}
