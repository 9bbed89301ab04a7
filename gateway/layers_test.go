package gateway

import (
	"go/build"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const module = "github.com/zonegate/zonegate/"

// house draws zonegate's packages as a house, ground floor first: a
// package stands on its floor and imports only packages on lower floors,
// never one on its own floor or above (README "Repository layout"). Every
// package of the daemon (gateway/...) must be on a floor: a new one is
// placed here on purpose. Packages elsewhere that are not listed are not
// checked.
var house = [][]string{
	// Leaves: the protocol engines and the neutral contract between the
	// gateway and the protocols, the daemon's clock and file writes.
	{"protocols/inspect", "protocols/modbus", "protocols/origdst", "protocols/internal/mbtest",
		"gateway/internal/atomicfile", "gateway/internal/clock", "gateway/internal/serving", "gateway/zone/seamtest", "test/prereq", "cmd/internal/cli",
		"test/uatest", "test/bench/internal/procstat"},
	// The proxy engine and the model-side contract of rules blocks; the
	// protocol engines that name themselves with protocols/inspect.
	{"protocols/proxy", "protocols/rulesblock", "protocols/internal/netnstest", "cmd/internal/cli/clitest", "protocols/opcua"},
	// The protocols' rules blocks (with each protocol's name), OPC UA's
	// certificate checks.
	{"protocols/modbus/modbusrules", "protocols/opcua/opcuarules", "protocols/opcua/uacert"},
	// The protocols' codecs on the engine.
	{"protocols/modbustcp", "protocols/opcuatcp"},
	// Front ends of the codecs: Modbus/TCP Security (TLS, roles from
	// certificates) before the Modbus proxy.
	{"protocols/modbustls"},
	// The one list of inspected protocols: rules block and inspector.
	{"protocols/registry"},
	// The zone model.
	{"gateway/zone"},
	// What the model turns into, and the stores: rulesets, the API's wire
	// types, the audit log, accounts, versions, drawings.
	{"firewall", "gateway/api", "gateway/audit", "gateway/auth", "gateway/versions", "gateway/zone/zonedoc"},
	// The change transactions, the event pipeline, the metrics, the fake
	// kernel, the tests' shared models, the namespace lab.
	{"gateway/changes", "gateway/events", "gateway/metrics", "firewall/firewalltest", "gateway/internal/gatewaytest", "test/lab"},
	// What binds them to the world: the transactions' kernel, the
	// inspecting proxies, the settings, the HTTP API, the web console.
	{"gateway/kernel", "gateway/inspection", "gateway/settings", "gateway/httpapi", "gateway/console", "test/bench/apply", "test/bench/opcua", "test/bench/modbustls"},
	// The daemon: wiring only.
	{"gateway"},
	// The binaries.
	{"cmd/zonegate", "cmd/zonelab"},
}

// floors is the floor of every package in house.
var floors = func() map[string]int {
	m := map[string]int{}
	for floor, pkgs := range house {
		for _, p := range pkgs {
			m[p] = floor
		}
	}
	return m
}()

// TestImportsPointDown: no package imports one on its own floor or above,
// so no import runs back up; the daemon's packages are all on a floor.
// Imports are read from the sources (go/build), test files left out.
func TestImportsPointDown(t *testing.T) {
	imports := moduleImports(t, "..")
	require.Contains(t, imports, "gateway/changes", "the module's packages were not found")
	var unplaced []string
	for pkg := range imports {
		if _, ok := floors[pkg]; !ok && (pkg == "gateway" || strings.HasPrefix(pkg, "gateway/")) {
			unplaced = append(unplaced, pkg)
		}
	}
	sort.Strings(unplaced)
	assert.Empty(t, unplaced, "daemon packages on no floor: put each on one in floors")
	for pkg, deps := range imports {
		floor, ok := floors[pkg]
		if !ok {
			continue
		}
		for _, dep := range deps {
			if f, ok := floors[dep]; ok && f >= floor {
				t.Errorf("%s (floor %d) imports %s (floor %d): imports must point down", pkg, floor, dep, f)
			}
		}
	}
	for pkg, deps := range imports {
		if strings.HasPrefix(pkg, "protocols/") {
			for _, dep := range deps {
				assert.True(t, strings.HasPrefix(dep, "protocols/") || dep == "test/prereq",
					"%s imports %s: the protocols import no zonegate package outside protocols/ (but the tests' prerequisites)", pkg, dep)
			}
		}
	}
}

// moduleImports returns, for every package of the module below root, the
// module's packages it imports (relative to the module path).
func moduleImports(t *testing.T, root string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	err := filepath.WalkDir(root, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !e.IsDir() {
			return nil
		}
		if name := e.Name(); path != root && (name == "testdata" || name == "vendor" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
			return filepath.SkipDir
		}
		p, err := build.Default.ImportDir(path, 0)
		if err != nil {
			if _, ok := err.(*build.NoGoError); ok {
				return nil
			}
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		pkg := filepath.ToSlash(rel)
		out[pkg] = nil
		for _, imp := range p.Imports {
			if dep, ok := strings.CutPrefix(imp, module); ok {
				out[pkg] = append(out[pkg], dep)
			}
		}
		return nil
	})
	require.NoError(t, err)
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("%s is not the module root: %v", root, err)
	}
	return out
}
