package zone

import (
	"go/build"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zonegate/zonegate/test/prereq"
)

// TestKnowsNoProtocol: the zone model's own code imports no protocol, no
// network stack, no logger and no proxy: of the protocols, only the
// rules-block contract and the one list of protocols (protocols/registry),
// through which it reads every block. The list pairs each protocol's rules
// block with its proxy, so the model links the proxies through it (a
// protocol is one line in one list, not one in the model's list and one in
// the daemon's); that the rules blocks themselves link no runtime is
// checked on their side (modbusrules TestLinksNoRuntime).
func TestKnowsNoProtocol(t *testing.T) {
	p, err := build.ImportDir(".", 0)
	require.NoError(t, err)
	const module = "github.com/zonegate/zonegate/"
	for _, imp := range p.Imports {
		switch {
		case imp == "net" || strings.HasPrefix(imp, "net/http") || strings.HasPrefix(imp, "go.uber.org/"):
			t.Errorf("gateway/zone imports %s", imp)
		case strings.HasPrefix(imp, module) && imp != module+"protocols/rulesblock" && imp != module+"protocols/registry":
			t.Errorf("gateway/zone imports %s: it reads rules blocks through protocols/registry only", imp)
		}
	}
	out, err := exec.Command(prereq.Go(t), "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "github.com/zonegate/zonegate/protocols/modbus/modbusrules") {
		t.Errorf("gateway/zone does not link the Modbus rules block; deps:\n%s", out)
	}
}
