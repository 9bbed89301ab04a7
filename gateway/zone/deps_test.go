package zone

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/zonegate/zonegate/test/prereq"
)

// TestLinksNoRuntime: the zone model, with every protocol's rules block,
// links no network stack, no logger and no proxy: tools load models
// without them, and a protocol's block plugs in without its runtime.
func TestLinksNoRuntime(t *testing.T) {
	out, err := exec.Command(prereq.Go(t), "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	for _, banned := range []string{"net", "net/http", "go.uber.org/zap",
		"github.com/zonegate/zonegate/protocols/proxy", "github.com/zonegate/zonegate/protocols/modbustcp"} {
		for _, d := range deps {
			if d == banned {
				t.Errorf("gateway/zone links %s", banned)
			}
		}
	}
	if !strings.Contains(string(out), "github.com/zonegate/zonegate/protocols/modbus/modbusrules") {
		t.Errorf("gateway/zone does not link the Modbus rules block; deps:\n%s", out)
	}
}
