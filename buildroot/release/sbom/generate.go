package sbom

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	cdx "github.com/CycloneDX/cyclonedx-go"
	"github.com/CycloneDX/cyclonedx-gomod/pkg/licensedetect/local"
	"github.com/google/uuid"
	"github.com/rs/zerolog"
	"golang.org/x/mod/module"
)

// SpecVersion is the CycloneDX version of the SBOMs (the generator's newest).
const SpecVersion = cdx.SpecVersion1_6

// Generator writes the SBOMs of binaries built from one checkout.
type Generator struct {
	Go       string    // the go tool
	ToolsDir string    // this module's directory: `go tool cyclonedx-gomod` runs from it
	RepoDir  string    // zonegate's checkout: the licence of the main module
	Version  string    // zonegate's version, the main component's version
	Log      io.Writer // the generator's own messages (warnings)

	tool string // the built cyclonedx-gomod
}

// Write makes the SBOM of binary, completes and checks it, and writes it to
// out. It fails, writing nothing, when the SBOM does not pass Validate and
// Check.
func (g *Generator) Write(binary, out string) error {
	bi, err := ReadBuildInfo(g.Go, binary)
	if err != nil {
		return err
	}
	sum, err := FileSHA256(binary)
	if err != nil {
		return err
	}
	bom, err := g.generate(binary, bi, sum)
	if err != nil {
		return err
	}
	if err := g.complete(bom, bi); err != nil {
		return err
	}
	var buf bytes.Buffer
	enc := cdx.NewBOMEncoder(&buf, cdx.BOMFileFormatJSON)
	enc.SetPretty(true)
	enc.SetEscapeHTML(false)
	if err := enc.EncodeVersion(bom, SpecVersion); err != nil {
		return fmt.Errorf("%s: encode the SBOM: %w", binary, err)
	}
	if err := Validate(buf.Bytes()); err != nil {
		return fmt.Errorf("%s: the SBOM is not valid CycloneDX %s: %w", binary, SpecVersion, err)
	}
	if problems := Check(bom, bi, sum, g.Version); len(problems) > 0 {
		return fmt.Errorf("%s: the SBOM does not describe the binary:\n  %s", binary, strings.Join(problems, "\n  "))
	}
	return os.WriteFile(out, buf.Bytes(), 0o644)
}

// generate runs cyclonedx-gomod's bin mode on binary.
func (g *Generator) generate(binary string, bi *BuildInfo, sum string) (*cdx.BOM, error) {
	if g.tool == "" {
		// `go tool -n` builds the pinned tool (cached) and prints its path.
		// The SBOM records the tool's own hashes, so it is built the same
		// way whatever the caller's environment (make exports
		// CGO_ENABLED=0, a user may set GOFLAGS or GOARCH): for this host,
		// without cgo, without paths of this machine.
		cmd := exec.Command(g.Go, "tool", "-n", "cyclonedx-gomod")
		cmd.Dir = g.ToolsDir
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-trimpath", "GOWORK=off",
			"GOOS=", "GOARCH=", "GOAMD64=", "GOARM64=", "GOARM=", "GOEXPERIMENT=")
		out, err := cmd.Output()
		if err != nil {
			return nil, fmt.Errorf("build cyclonedx-gomod (go tool -n in %s): %w%s", g.ToolsDir, err, stderrOf(err))
		}
		g.tool = strings.TrimSpace(string(out))
	}
	abs, err := filepath.Abs(binary)
	if err != nil {
		return nil, err
	}
	work, err := os.MkdirTemp("", "zonegate-sbom-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)
	raw := filepath.Join(work, "bom.json")
	cmd := exec.Command(g.tool, "bin", "-json", "-output-version", SpecVersion.String(),
		"-licenses", "-assert-licenses", "-std", "-notimestamp",
		"-serial", serialNumber(bi.Main.Path, g.Version, sum).String(),
		"-version", g.Version, "-output", raw, abs)
	// Outside any module, so that its `go mod download` (licences) and
	// `go env` touch no go.mod; GOOS and GOARCH of the binary, which the
	// generator writes into every package URL (it asks `go env`).
	cmd.Dir = work
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=",
		"GOOS="+bi.Settings["GOOS"], "GOARCH="+bi.Settings["GOARCH"])
	if v := bi.Settings["GOARM"]; v != "" {
		cmd.Env = append(cmd.Env, "GOARM="+v)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("cyclonedx-gomod bin %s: %w\n%s", binary, err, stderr.String())
	}
	if g.Log != nil {
		g.Log.Write(stderr.Bytes())
	}
	f, err := os.Open(raw)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	bom := new(cdx.BOM)
	if err := cdx.NewBOMDecoder(f, cdx.BOMFileFormatJSON).Decode(bom); err != nil {
		return nil, fmt.Errorf("read cyclonedx-gomod's SBOM: %w", err)
	}
	return bom, nil
}

// serialNumber is a name-based UUID of the binary (its module, version and
// SHA-256), so that the same binary always gets the same SBOM.
func serialNumber(mainPath, version, sum string) uuid.UUID {
	return uuid.NewSHA1(uuid.NameSpaceURL, []byte("pkg:golang/"+mainPath+"@"+version+"#sha256:"+sum))
}

// complete adds what the generator cannot know about a binary built from a
// local checkout: the licence of the main module (it is in no module cache)
// and of the standard library, the correct identifier of the Go project's
// licence, and every build setting the toolchain recorded.
func (g *Generator) complete(bom *cdx.BOM, bi *BuildInfo) error {
	goroot, err := goEnv(g.Go, "GOROOT")
	if err != nil {
		return err
	}
	modcache, err := goEnv(g.Go, "GOMODCACHE")
	if err != nil {
		return err
	}
	goLicence, err := os.ReadFile(filepath.Join(goroot, "LICENSE"))
	if err != nil {
		return fmt.Errorf("the Go distribution's licence: %w", err)
	}
	detector := local.NewDetector(zerolog.Nop())

	if main := bom.Metadata.Component; main != nil && main.Licenses == nil {
		found, err := detector.Detect(bi.Main.Path, g.Version, g.RepoDir)
		if err != nil {
			return fmt.Errorf("licence of %s in %s: %w", bi.Main.Path, g.RepoDir, err)
		}
		main.Licenses = licenceChoices(found)
	}
	for i := range *bom.Components {
		c := &(*bom.Components)[i]
		dir := goroot
		if c.Name != "std" {
			if dir, err = moduleDir(modcache, c.Name, c.Version); err != nil {
				return err
			}
		}
		// go-license-detector names the Go project's licence (the
		// LICENSE of the Go distribution and of golang.org/x/…)
		// BSD-Source-Code; the Go project publishes it as BSD-3-Clause.
		if sameText(filepath.Join(dir, "LICENSE"), goLicence) {
			c.Licenses = &cdx.Licenses{{License: &cdx.License{ID: "BSD-3-Clause"}}}
		}
	}

	props := *bom.Metadata.Properties
	for _, k := range sortedKeys(bi.Settings) {
		props = append(props, cdx.Property{Name: "zonegate:go:build:" + k, Value: bi.Settings[k]})
	}
	bom.Metadata.Properties = &props
	return nil
}

func licenceChoices(found []cdx.License) *cdx.Licenses {
	if len(found) == 0 {
		return nil
	}
	l := make(cdx.Licenses, len(found))
	for i := range found {
		l[i] = cdx.LicenseChoice{License: &found[i]}
	}
	return &l
}

// moduleDir is where the Go module cache keeps path@version.
func moduleDir(modcache, path, version string) (string, error) {
	p, err := module.EscapePath(path)
	if err != nil {
		return "", err
	}
	v, err := module.EscapeVersion(version)
	if err != nil {
		return "", err
	}
	return filepath.Join(modcache, p+"@"+v), nil
}

// sameText reports whether the file holds text, ignoring white space.
func sameText(file string, text []byte) bool {
	b, err := os.ReadFile(file)
	return err == nil && strings.Join(strings.Fields(string(b)), " ") == strings.Join(strings.Fields(string(text)), " ")
}

func goEnv(goTool, name string) (string, error) {
	out, err := exec.Command(goTool, "env", name).Output()
	if err != nil {
		return "", fmt.Errorf("go env %s: %w%s", name, err, stderrOf(err))
	}
	return strings.TrimSpace(string(out)), nil
}

// FileSHA256 is the hex SHA-256 of a file.
func FileSHA256(name string) (string, error) {
	f, err := os.Open(name)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
