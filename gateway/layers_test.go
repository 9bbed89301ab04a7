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

// floors draws zonegate's packages as a house: a package stands on its
// floor and imports only packages on lower floors, never one on its own
// floor or above (README "Repository layout": A -> B means B imports A).
// Every package of the daemon (gateway/...) must be on a floor: a new one
// is placed here on purpose. Packages elsewhere that are not listed are
// not checked.
var floors = map[string]int{
	// Leaves: the protocol engines, the daemon's clock and file writes.
	"protocols/inspect": 0, "protocols/modbus": 0, "protocols/origdst": 0, "protocols/internal/mbtest": 0,
	"gateway/internal/atomicfile": 0, "gateway/internal/clock": 0, "test/prereq": 0, "cmd/internal/cli": 0,
	// The zone model and the proxy contract.
	"gateway/zone": 1, "protocols/proxy": 1, "protocols/internal/netnstest": 1, "cmd/internal/cli/clitest": 1,
	// What the model turns into, and the stores: rulesets, the Modbus
	// proxy, the API's wire types, the audit log, accounts, versions,
	// drawings.
	"firewall": 2, "protocols/modbusproxy": 2, "gateway/api": 2, "gateway/audit": 2, "gateway/auth": 2,
	"gateway/versions": 2, "gateway/zone/zonedoc": 2,
	// The change transactions, the event pipeline, the metrics, the fake
	// kernel, the namespace lab.
	"gateway/changes": 3, "gateway/events": 3, "gateway/internal/gatewaytest": 3, "gateway/metrics": 3, "firewall/firewalltest": 3, "test/lab": 3,
	// What binds them to the world: the transactions' kernel, the
	// inspecting proxies, the settings, the HTTP API.
	"gateway/kernel": 4, "gateway/inspection": 4, "gateway/settings": 4, "gateway/httpapi": 4, "test/bench/apply": 4,
	// The daemon: wiring only.
	"gateway": 5,
	// The binaries.
	"cmd/zonegate": 6, "cmd/zonelab": 6,
}

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
