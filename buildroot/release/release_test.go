package release

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	cdx "github.com/CycloneDX/cyclonedx-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zonegate/zonegate/buildroot/release/sbom"
)

// The version and commit the test stamps into the binaries.
const (
	testVersion = "v0.0.0-releasetest"
	testCommit  = "1234abc"
)

// binaries are the release binaries with their GOARCH and the QEMU user
// emulator that runs them on another architecture.
var binaries = []struct{ name, goarch, qemu string }{
	{"zonegate-linux-amd64", "amd64", "qemu-x86_64-static"},
	{"zonegate-linux-arm64", "arm64", "qemu-aarch64-static"},
	{"zonegate-linux-armv7", "arm", "qemu-arm-static"},
}

// TestReleaseSBOMs builds a release into a temporary dist directory and
// checks each SBOM against the CycloneDX schema and against the binary it
// describes: the module list must be exactly what `go version -m` reports,
// with the same versions and go.sum hashes, and `zonegate version --json`
// must print the same list.
func TestReleaseSBOMs(t *testing.T) {
	root := repoRoot(t)
	need(t, "qemu-aarch64-static", "qemu-user-static")
	need(t, "qemu-arm-static", "qemu-user-static")
	dist := t.TempDir()
	out := runMake(t, root, "release", "DIST="+dist, "VERSION="+testVersion, "COMMIT="+testCommit)
	t.Logf("make release:\n%s", out)

	for _, b := range binaries {
		t.Run(b.name, func(t *testing.T) {
			bin := filepath.Join(dist, b.name)
			doc, err := os.ReadFile(bin + ".cdx.json")
			require.NoError(t, err, "make sbom wrote no SBOM")
			require.NoError(t, sbom.Validate(doc), "the SBOM is not valid CycloneDX 1.6")

			bom := new(cdx.BOM)
			require.NoError(t, cdx.NewBOMDecoder(bytes.NewReader(doc), cdx.BOMFileFormatJSON).Decode(bom))
			bi, err := sbom.ReadBuildInfo("go", bin)
			require.NoError(t, err)
			require.Equal(t, b.goarch, bi.Settings["GOARCH"])
			sum, err := sbom.FileSHA256(bin)
			require.NoError(t, err)
			assert.Empty(t, sbom.Check(bom, bi, sum, testVersion))

			// The done-when of the issue, spelled out: the SBOM's
			// modules are the binary's, line by line.
			var fromBinary, fromSBOM []string
			for _, d := range bi.Deps {
				m := d.Effective()
				fromBinary = append(fromBinary, m.Path+" "+m.Version)
			}
			for _, c := range *bom.Components {
				if c.Name != "std" {
					fromSBOM = append(fromSBOM, c.Name+" "+c.Version)
				}
			}
			assert.ElementsMatch(t, fromBinary, fromSBOM)
			assert.Contains(t, fromSBOM, "github.com/spf13/cobra v1.10.2", "a module every build has")

			// zonegate version --json: the same modules and hashes.
			var v struct {
				Version, Commit, Go string
				Modules             []struct{ Path, Version, Sum string }
				Settings            map[string]string
			}
			require.NoError(t, json.Unmarshal(runBinary(t, b.goarch, b.qemu, bin, "version", "--json"), &v))
			assert.Equal(t, testVersion, v.Version)
			assert.Equal(t, testCommit, v.Commit)
			assert.Equal(t, bi.GoVersion, v.Go)
			assert.Equal(t, b.goarch, v.Settings["GOARCH"])
			var fromVersion, withSums []string
			for _, m := range v.Modules {
				fromVersion = append(fromVersion, m.Path+" "+m.Version+" "+m.Sum)
			}
			for _, d := range bi.Deps {
				withSums = append(withSums, d.Path+" "+d.Version+" "+d.Sum)
			}
			assert.Equal(t, withSums, fromVersion)
		})
	}

	// The SBOM is reproducible too: the same binary elsewhere, later, gets
	// the same bytes (no timestamp; serial number from the binary's hash).
	again := filepath.Join(t.TempDir(), "zonegate-linux-amd64")
	bin, err := os.ReadFile(filepath.Join(dist, "zonegate-linux-amd64"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(again, bin, 0o755))
	gen := exec.Command("go", "run", "./cmd/zonegate-sbom", "-version", testVersion, "-repo", root, again)
	gen.Dir = filepath.Join(root, "buildroot", "release")
	genOut, err := gen.CombinedOutput()
	require.NoError(t, err, "%s", genOut)
	first, err := os.ReadFile(filepath.Join(dist, "zonegate-linux-amd64.cdx.json"))
	require.NoError(t, err)
	second, err := os.ReadFile(again + ".cdx.json")
	require.NoError(t, err)
	assert.True(t, bytes.Equal(first, second), "two SBOMs of the same binary differ")

	// make image-sbom: the arm64 SBOM into an image SBOM shaped like
	// Buildroot's (sbom/testdata), as buildroot/README.md shows.
	full := filepath.Join(t.TempDir(), "full.cdx.json")
	runMake(t, root, "image-sbom", "IMAGE_SBOM="+filepath.Join(root, "buildroot", "release", "sbom", "testdata", "buildroot-image.cdx.json"),
		"ZONEGATE_SBOM="+filepath.Join(dist, "zonegate-linux-arm64.cdx.json"), "OUT="+full)
	doc, err := os.ReadFile(full)
	require.NoError(t, err)
	require.NoError(t, sbom.Validate(doc))
	var image cdx.BOM
	require.NoError(t, json.Unmarshal(doc, &image))
	var nested []string
	for _, c := range *image.Components {
		if c.BOMRef == "zonegate" && c.Components != nil {
			for _, m := range *c.Components {
				nested = append(nested, m.Name)
			}
		}
	}
	assert.Contains(t, nested, "github.com/spf13/cobra")
	assert.Contains(t, nested, "std")

	// SHA256SUMS names the three binaries and three SBOMs with their hashes.
	sums, err := os.ReadFile(filepath.Join(dist, "SHA256SUMS"))
	require.NoError(t, err)
	lines := 0
	sc := bufio.NewScanner(bytes.NewReader(sums))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		require.Len(t, f, 2, "SHA256SUMS line %q", sc.Text())
		got, err := sbom.FileSHA256(filepath.Join(dist, f[1]))
		require.NoError(t, err)
		assert.Equal(t, got, f[0], f[1])
		lines++
	}
	assert.Equal(t, 6, lines, "SHA256SUMS:\n%s", sums)
}

// TestReproducibleBuilds runs `make reproducible`: two builds of this
// checkout in different directories, at different times, the second with
// a fresh build cache, must give byte-identical binaries for amd64, arm64
// and armv7.
func TestReproducibleBuilds(t *testing.T) {
	root := repoRoot(t)
	need(t, "git", "git")
	out := runMake(t, root, "reproducible", "VERSION="+testVersion, "COMMIT="+testCommit)
	t.Logf("make reproducible:\n%s", out)
	for _, b := range binaries {
		assert.Regexp(t, `(?m)^`+b.name+` +[0-9a-f]{64} same$`, out)
	}
}

// TestVulncheck runs `make vulncheck` against vulnerability databases in
// the layout of vuln.go.dev that the test writes: one marking a function
// zonegate calls (cobra's Command.ExecuteC, reached from cmd/internal/cli)
// as vulnerable in the version zonegate uses must fail the check; one whose
// entries are fixed in that version or name a function zonegate never
// calls must pass.
func TestVulncheck(t *testing.T) {
	root := repoRoot(t)
	cobra := "github.com/spf13/cobra"

	vulnerable := writeVulnDB(t, osvEntry("GO-2099-0001", cobra, "1.99.0", "Command.ExecuteC"))
	out, err := makeCmd(root, "vulncheck", "VULNDB="+vulnerable).CombinedOutput()
	require.Error(t, err, "make vulncheck passed with a reachable vulnerable function:\n%s", out)
	assert.Contains(t, string(out), "Vulnerability #1: GO-2099-0001")
	assert.Contains(t, string(out), "cli.Run calls cobra.Command.ExecuteC")
	assert.Contains(t, string(out), "Your code is affected by 1 vulnerability from 1 module")

	clean := writeVulnDB(t,
		osvEntry("GO-2099-0002", cobra, "1.0.0", "Command.ExecuteC"), // fixed before v1.10.2
		osvEntry("GO-2099-0003", cobra, "1.99.0", "OnFinalize"),      // never called
	)
	out, err = makeCmd(root, "vulncheck", "VULNDB="+clean).CombinedOutput()
	require.NoError(t, err, "make vulncheck failed without a reachable vulnerability:\n%s", out)
	assert.Contains(t, string(out), "No vulnerabilities found.")
	assert.Contains(t, string(out), "found 1 vulnerability in packages you import",
		"govulncheck must have read the database and found the uncalled one")
	assert.Contains(t, string(out), "Your code is affected by 0 vulnerabilities.")

	out, err = makeCmd(root, "vulncheck").CombinedOutput()
	require.Error(t, err, "make vulncheck without VULNDB must refuse:\n%s", out)
	assert.Contains(t, string(out), "make vulncheck VULNDB=DIR")
}

type osv struct {
	SchemaVersion    string         `json:"schema_version"`
	ID               string         `json:"id"`
	Modified         string         `json:"modified"`
	Published        string         `json:"published"`
	Summary          string         `json:"summary"`
	Details          string         `json:"details"`
	Affected         []osvAffected  `json:"affected"`
	DatabaseSpecific map[string]any `json:"database_specific"`
}

type osvAffected struct {
	Package struct {
		Name      string `json:"name"`
		Ecosystem string `json:"ecosystem"`
	} `json:"package"`
	Ranges []struct {
		Type   string              `json:"type"`
		Events []map[string]string `json:"events"`
	} `json:"ranges"`
	EcosystemSpecific struct {
		Imports []struct {
			Path    string   `json:"path"`
			Symbols []string `json:"symbols"`
		} `json:"imports"`
	} `json:"ecosystem_specific"`
}

const modified = "2099-01-01T00:00:00Z"

// osvEntry is a Go vulnerability report: symbol of package (= module) path
// is vulnerable in every version before fixed.
func osvEntry(id, path, fixed, symbol string) osv {
	e := osv{SchemaVersion: "1.3.1", ID: id, Modified: modified, Published: modified,
		Summary: "test vulnerability " + id + " in " + path + "." + symbol, Details: "Written by zonegate's release test.",
		DatabaseSpecific: map[string]any{"url": "https://pkg.go.dev/vuln/" + id}}
	var a osvAffected
	a.Package.Name, a.Package.Ecosystem = path, "Go"
	a.Ranges = append(a.Ranges, struct {
		Type   string              `json:"type"`
		Events []map[string]string `json:"events"`
	}{"SEMVER", []map[string]string{{"introduced": "0"}, {"fixed": fixed}}})
	a.EcosystemSpecific.Imports = append(a.EcosystemSpecific.Imports, struct {
		Path    string   `json:"path"`
		Symbols []string `json:"symbols"`
	}{path, []string{symbol}})
	e.Affected = []osvAffected{a}
	return e
}

// writeVulnDB writes a database in the v1 layout of vuln.go.dev
// (index/db.json, index/modules.json, index/vulns.json, ID/<id>.json),
// which govulncheck reads from a file:// URL.
func writeVulnDB(t *testing.T, entries ...osv) string {
	dir := t.TempDir()
	type vuln struct {
		ID       string `json:"id"`
		Modified string `json:"modified"`
		Fixed    string `json:"fixed,omitempty"`
	}
	type mod struct {
		Path  string `json:"path"`
		Vulns []vuln `json:"vulns"`
	}
	var modules []mod
	var vulns []map[string]any
	for _, e := range entries {
		writeJSON(t, filepath.Join(dir, "ID", e.ID+".json"), e)
		path := e.Affected[0].Package.Name
		fixed := e.Affected[0].Ranges[0].Events[1]["fixed"]
		i := 0
		for i < len(modules) && modules[i].Path != path {
			i++
		}
		if i == len(modules) {
			modules = append(modules, mod{Path: path})
		}
		modules[i].Vulns = append(modules[i].Vulns, vuln{e.ID, modified, fixed})
		vulns = append(vulns, map[string]any{"id": e.ID, "modified": modified, "aliases": []string{}})
	}
	writeJSON(t, filepath.Join(dir, "index", "db.json"), map[string]string{"modified": modified})
	writeJSON(t, filepath.Join(dir, "index", "modules.json"), modules)
	writeJSON(t, filepath.Join(dir, "index", "vulns.json"), vulns)
	return dir
}

func writeJSON(t *testing.T, name string, v any) {
	b, err := json.Marshal(v)
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(filepath.Dir(name), 0o755))
	require.NoError(t, os.WriteFile(name, b, 0o644))
}

// repoRoot is zonegate's checkout: two levels above this package
// (buildroot/release).
func repoRoot(t *testing.T) string {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	require.NoError(t, err)
	_, err = os.Stat(filepath.Join(root, "cmd", "zonegate"))
	require.NoError(t, err, "the release module must sit in zonegate's checkout, at buildroot/release")
	need(t, "make", "make")
	return root
}

// need fails the test when a program is missing: `make test` installs
// every one of them (.ci/install-deps.sh) before it runs these tests.
func need(t *testing.T, program, debianPackage string) {
	t.Helper()
	if _, err := exec.LookPath(program); err != nil {
		t.Fatalf("%s is missing (Debian package %s; `make deps` installs it)", program, debianPackage)
	}
}

// makeCmd runs make in root, without the make flags of a make that may
// have started this test.
func makeCmd(root string, args ...string) *exec.Cmd {
	cmd := exec.Command("make", append([]string{"-C", root, "--no-print-directory"}, args...)...)
	for _, kv := range os.Environ() {
		switch k, _, _ := strings.Cut(kv, "="); k {
		case "MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES":
		default:
			cmd.Env = append(cmd.Env, kv)
		}
	}
	return cmd
}

func runMake(t *testing.T, root string, args ...string) string {
	t.Helper()
	out, err := makeCmd(root, args...).CombinedOutput()
	require.NoError(t, err, "make %s:\n%s", strings.Join(args, " "), out)
	return string(out)
}

// runBinary runs bin natively on its own architecture, else under QEMU.
func runBinary(t *testing.T, goarch, qemu, bin string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(bin, args...)
	if goarch != runtime.GOARCH {
		need(t, qemu, "qemu-user-static")
		cmd = exec.Command(qemu, append([]string{bin}, args...)...)
	}
	out, err := cmd.Output()
	require.NoError(t, err, "%s %s", bin, strings.Join(args, " "))
	return out
}
