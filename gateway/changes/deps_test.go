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
// files left out).
func TestDependsOnItsInterfacesOnly(t *testing.T) {
	goTool := prereq.Go(t)
	out, err := exec.Command(goTool, "list", "-deps", "github.com/zonegate/zonegate/gateway/changes").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 10 || deps[len(deps)-1] != "github.com/zonegate/zonegate/gateway/changes" {
		t.Fatalf("go list -deps did not list the package's dependencies:\n%s", out)
	}
	for _, dep := range deps {
		switch {
		case dep == "net/http", strings.HasPrefix(dep, "net/http/"),
			dep == "go.uber.org/zap", strings.HasPrefix(dep, "go.uber.org/zap/"),
			dep == "github.com/zonegate/zonegate/firewall", strings.HasPrefix(dep, "github.com/zonegate/zonegate/firewall/"):
			t.Errorf("package changes depends on %s: reach it through an interface the package declares", dep)
		}
	}
}
