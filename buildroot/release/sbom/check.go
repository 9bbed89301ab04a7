package sbom

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"

	cdx "github.com/CycloneDX/cyclonedx-go"
)

// BinarySHA256Property is the metadata property in which cyclonedx-gomod
// records the binary's SHA-256.
const BinarySHA256Property = "cdx:gomod:binary:hash:SHA-256"

// Check compares an SBOM with the binary it describes (bi from `go version
// -m`, sum its SHA-256, version zonegate's) and returns what does not
// match, or nothing: the same modules, none missing and none extra, each
// with its version, go.sum hash, package URL and a licence; the Go
// toolchain as the std component; zonegate itself; the binary's SHA-256.
func Check(bom *cdx.BOM, bi *BuildInfo, sum, version string) []string {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	if bom.SpecVersion < cdx.SpecVersion1_5 {
		bad("CycloneDX %s, want 1.5 or newer", bom.SpecVersion)
	}
	if bom.Metadata == nil || bom.Metadata.Component == nil {
		return append(problems, "no metadata.component (the binary itself)")
	}
	goos, goarch := bi.Settings["GOOS"], bi.Settings["GOARCH"]
	qualifiers := "?goarch=" + goarch + "&goos=" + goos + "&type=module"

	main := bom.Metadata.Component
	if main.Name != bi.Main.Path || main.Version != version {
		bad("main component %s@%s, want %s@%s", main.Name, main.Version, bi.Main.Path, version)
	}
	if want := "pkg:golang/" + bi.Main.Path + "@" + version + qualifiers + "#" + strings.TrimPrefix(strings.TrimPrefix(bi.Path, bi.Main.Path), "/"); main.PackageURL != want {
		bad("main component purl %q, want %q", main.PackageURL, want)
	}
	if !hasLicence(main) {
		bad("main component %s has no licence", main.Name)
	}
	if got := property(bom.Metadata.Properties, BinarySHA256Property); got != sum {
		bad("%s is %q, the binary's SHA-256 is %s", BinarySHA256Property, got, sum)
	}

	components := map[string]*cdx.Component{}
	if bom.Components != nil {
		for i := range *bom.Components {
			c := &(*bom.Components)[i]
			if components[c.Name] != nil {
				bad("component %s listed twice", c.Name)
			}
			components[c.Name] = c
		}
	}
	if std := components["std"]; std == nil {
		bad("no std component (the Go toolchain %s)", bi.GoVersion)
	} else {
		if std.Version != bi.GoVersion {
			bad("std component version %s, the binary was built by %s", std.Version, bi.GoVersion)
		}
		if !hasLicence(std) {
			bad("std component has no licence")
		}
		delete(components, "std")
	}
	for _, d := range bi.Deps {
		m := d.Effective()
		c := components[m.Path]
		if c == nil {
			bad("module %s %s of the binary is missing", m.Path, m.Version)
			continue
		}
		delete(components, m.Path)
		if c.Version != m.Version {
			bad("module %s: version %s, the binary has %s", m.Path, c.Version, m.Version)
		}
		if want, err := h1ToSHA256(m.Sum); err != nil {
			bad("module %s: go.sum hash %q of the binary: %v", m.Path, m.Sum, err)
		} else if got := hashOf(c, cdx.HashAlgoSHA256); got != want {
			bad("module %s: SHA-256 %q, the go.sum hash %s is %s", m.Path, got, m.Sum, want)
		}
		if want := "pkg:golang/" + m.Path + "@" + m.Version + qualifiers; c.PackageURL != want {
			bad("module %s: purl %q, want %q", m.Path, c.PackageURL, want)
		}
		if !hasLicence(c) {
			bad("module %s %s has no licence", m.Path, m.Version)
		}
	}
	for _, name := range sortedKeys(components) {
		bad("component %s %s is not in the binary", name, components[name].Version)
	}
	return problems
}

// h1ToSHA256 turns a go.sum hash (h1:BASE64) into the hex SHA-256 that
// CycloneDX records.
func h1ToSHA256(sum string) (string, error) {
	b64, ok := strings.CutPrefix(sum, "h1:")
	if !ok {
		return "", fmt.Errorf("not an h1: hash")
	}
	b, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return "", err
	}
	if len(b) != 32 {
		return "", fmt.Errorf("%d bytes, want 32", len(b))
	}
	return hex.EncodeToString(b), nil
}

func hasLicence(c *cdx.Component) bool {
	if c.Licenses == nil || len(*c.Licenses) == 0 {
		return false
	}
	for _, l := range *c.Licenses {
		if l.Expression == "" && (l.License == nil || (l.License.ID == "" && l.License.Name == "")) {
			return false
		}
	}
	return true
}

func hashOf(c *cdx.Component, alg cdx.HashAlgorithm) string {
	if c.Hashes == nil {
		return ""
	}
	for _, h := range *c.Hashes {
		if h.Algorithm == alg {
			return h.Value
		}
	}
	return ""
}

func property(props *[]cdx.Property, name string) string {
	if props == nil {
		return ""
	}
	for _, p := range *props {
		if p.Name == name {
			return p.Value
		}
	}
	return ""
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
