package changes_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/zonegate/zonegate/test/prereq"
)

// TestDependsOnItsInterfacesOnly: the change transactions reach the
// kernel, the store, the audit log and the proxies only through the
// interfaces they declare, so neither package firewall, nor net/http, nor
// a logging library is among their dependencies (go list -deps, test
// files left out). The zone model links the inspecting proxies (and their
// logger) through the one list of protocols, protocols/registry, which
// pairs each protocol's rules block with its proxy: the walk does not go
// into that list.
func TestDependsOnItsInterfacesOnly(t *testing.T) {
	const pkg, list = "github.com/zonegate/zonegate/gateway/changes", "github.com/zonegate/zonegate/protocols/registry"
	out, err := exec.Command(prereq.Go(t), "list", "-deps", "-f", "{{.ImportPath}} {{join .Imports \" \"}}", pkg).CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	imports := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		imports[f[0]] = f[1:]
	}
	if len(imports) < 10 || imports[list] == nil {
		t.Fatalf("go list -deps did not list the package's dependencies with the protocol list:\n%s", out)
	}
	seen := map[string]bool{pkg: true}
	for next := []string{pkg}; len(next) > 0; {
		dep := next[0]
		next = next[1:]
		switch {
		case dep == "net/http", strings.HasPrefix(dep, "net/http/"),
			dep == "go.uber.org/zap", strings.HasPrefix(dep, "go.uber.org/zap/"),
			dep == "github.com/zonegate/zonegate/firewall", strings.HasPrefix(dep, "github.com/zonegate/zonegate/firewall/"):
			t.Errorf("package changes depends on %s: reach it through an interface the package declares", dep)
		}
		for _, imp := range imports[dep] {
			if !seen[imp] && imp != list {
				seen[imp] = true
				next = append(next, imp)
			}
		}
	}
}
