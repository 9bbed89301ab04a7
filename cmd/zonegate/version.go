package main

import (
	"encoding/json"
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/zonegate/zonegate/cmd/internal/cli"
)

func versionCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "version [--json]",
		Short: "print version, commit and architecture (--json: and the Go modules built in)",
		Long: `Print the version, commit and architecture of this binary.

With --json, print them as one JSON object together with the Go toolchain, the
build settings and every Go module compiled into the binary (path, version and
go.sum hash), as the Go toolchain recorded them: the same list as
` + "`go version -m zonegate`" + ` and as the binary's SBOM (make sbom).`,
		Args: cli.Args(0, 0, ""),
		RunE: func(cmd *cobra.Command, _ []string) error {
			bi, _ := debug.ReadBuildInfo()
			if !asJSON {
				fmt.Fprintf(cmd.OutOrStdout(), "zonegate %s (commit %s, %s)\n", version, buildCommit(commit, buildSettings()), platform())
				return nil
			}
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent("", "  ")
			return enc.Encode(newVersionInfo(bi, runtime.GOOS, runtime.GOARCH))
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print version, build settings and Go modules as JSON")
	return cmd
}

// versionInfo is what `zonegate version --json` prints.
type versionInfo struct {
	Name     string            `json:"name"`
	Version  string            `json:"version"`
	Commit   string            `json:"commit"`
	Go       string            `json:"go"`
	OS       string            `json:"os"`
	Arch     string            `json:"arch"`
	Platform string            `json:"platform"`
	Path     string            `json:"path,omitempty"`
	Main     *buildModule      `json:"main,omitempty"`
	Modules  []buildModule     `json:"modules"`
	Settings map[string]string `json:"settings"`
}

// buildModule is one module of the build information.
type buildModule struct {
	Path    string       `json:"path"`
	Version string       `json:"version"`
	Sum     string       `json:"sum,omitempty"`
	Replace *buildModule `json:"replace,omitempty"`
}

// newVersionInfo describes the binary from its build information (nil when
// the binary has none: then only version, commit and platform are known).
func newVersionInfo(bi *debug.BuildInfo, goos, goarch string) versionInfo {
	v := versionInfo{
		Name:     "zonegate",
		Version:  version,
		Modules:  []buildModule{},
		Settings: map[string]string{},
		OS:       goos,
		Arch:     goarch,
		Go:       runtime.Version(),
	}
	if bi != nil {
		v.Go = bi.GoVersion
		v.Path = bi.Path
		main := toBuildModule(&bi.Main)
		v.Main = &main
		for _, d := range bi.Deps {
			v.Modules = append(v.Modules, toBuildModule(d))
		}
		for _, s := range bi.Settings {
			v.Settings[s.Key] = s.Value
		}
	}
	v.Commit = buildCommit(commit, v.Settings)
	v.Platform = platformFrom(goos, goarch, v.Go, v.Settings)
	return v
}

func toBuildModule(m *debug.Module) buildModule {
	b := buildModule{Path: m.Path, Version: m.Version, Sum: m.Sum}
	if m.Replace != nil {
		r := toBuildModule(m.Replace)
		b.Replace = &r
	}
	return b
}
