package e2e

import (
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zonegate/zonegate/test/lab"
)

// TestLabRunInterruptLeavesNothing starts `zonelab run`, probes the lab it
// runs, interrupts it with SIGINT as Ctrl-C would, and checks that the
// daemon is gone and no namespace or link is left behind.
func TestLabRunInterruptLeavesNothing(t *testing.T) {
	requireNetns(t)
	bins := labBuild(t)
	model := repoFile(t, "configs/example-factory.yaml")
	const prefix = "zlt2"
	_ = lab.DownPrefix(prefix) // leftovers of a crashed run
	before := labRootLinks(t)

	r := labStartRun(t, bins, model, prefix)
	names, err := lab.Namespaces(prefix)
	if err != nil || len(names) == 0 {
		t.Fatalf("zonelab run is ready but lists no namespaces of %s (%v)", prefix, err)
	}
	if !labAlive(r.daemon) {
		t.Fatalf("zonegate serve (pid %d) is not running", r.daemon)
	}
	gwInode := labNetnsInode(t, lab.GatewayNS(prefix))
	rep, code := labProbeJSON(t, bins, model, prefix)
	if code != 0 {
		t.Errorf("probing the lab zonelab run built: exit %d, mismatches %v", code, rep.mismatches())
	}
	// zonegate serve runs the Modbus proxy: the allowed reads and denied
	// writes of the inspected conduits must really be checked.
	modbusRows := 0
	for _, row := range rep.Results {
		if strings.HasPrefix(row.Service, "modbus ") {
			modbusRows++
			if row.Status != "ok" {
				t.Errorf("Modbus check through zonegate serve's proxy: %+v", row)
			}
		}
	}
	if modbusRows != 6 || rep.Summary.Skipped != 0 {
		t.Errorf("%d Modbus checks and %d skipped cases, want 6 and 0 with zonegate serve running the proxy", modbusRows, rep.Summary.Skipped)
	}

	if err := r.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if code := r.wait(t, 30*time.Second); code != 0 {
		t.Errorf("zonelab run exited %d after SIGINT, want 0:\n%s", code, r.stderr)
	}
	if left, _ := lab.Namespaces(prefix); len(left) > 0 {
		t.Errorf("namespaces left behind after SIGINT: %v", left)
	}
	if !labWaitGone(r.daemon, 5*time.Second) {
		t.Errorf("zonegate serve (pid %d) still runs after zonelab run was interrupted", r.daemon)
	}
	// A namespace without a name lives on while a process holds it; its
	// links would live on with it.
	if holders := labNetnsHolders(gwInode); len(holders) > 0 {
		t.Errorf("processes %v still hold the removed gateway namespace", holders)
	}
	for name := range labRootLinks(t) {
		if !before[name] {
			t.Errorf("link %s appeared in the root namespace during the run and is still there", name)
		}
	}
}

// TestLabDownAfterCrash kills `zonelab run` with SIGKILL, leaving its
// namespaces behind as a crash would, plus a stray process in the
// gateway; `zonelab up` must then refuse the prefix and `zonelab down`
// must remove everything.
func TestLabDownAfterCrash(t *testing.T) {
	requireNetns(t)
	bins := labBuild(t)
	model := repoFile(t, "configs/example-factory.yaml")
	const prefix = "zlt3"
	_ = lab.DownPrefix(prefix)

	r := labStartRun(t, bins, model, prefix)
	stray := lab.Command(lab.GatewayNS(prefix), "sleep", "300")
	if err := stray.Start(); err != nil {
		t.Fatal(err)
	}
	strayDone := make(chan error, 1)
	go func() { strayDone <- stray.Wait() }()
	t.Cleanup(func() {
		if labAlive(stray.Process.Pid) {
			_ = stray.Process.Kill()
		}
	})
	if err := r.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	r.wait(t, 10*time.Second)
	left, _ := lab.Namespaces(prefix)
	if len(left) == 0 {
		t.Fatal("a killed zonelab run left no namespaces: the crash was not simulated")
	}
	// The kernel ends the daemon when zonelab dies (parent-death signal).
	if !labWaitGone(r.daemon, 5*time.Second) {
		t.Errorf("zonegate serve (pid %d) outlived the killed zonelab run", r.daemon)
	}

	out, errOut, code := labExec(t, bins.zonelab, "up", model, "--prefix", prefix)
	if code == 0 {
		t.Fatalf("zonelab up succeeded on a prefix whose namespaces exist:\n%s", out)
	}
	for _, want := range []string{"already exist", "zonelab down --prefix " + prefix} {
		if !strings.Contains(errOut, want) {
			t.Errorf("zonelab up's refusal does not say %q:\n%s", want, errOut)
		}
	}
	if still, _ := lab.Namespaces(prefix); len(still) != len(left) {
		t.Errorf("the refused zonelab up changed the namespaces: %d before, %d after", len(left), len(still))
	}

	out = labMustExec(t, bins.zonelab, "down", model, "--prefix", prefix)
	if !strings.Contains(out, "removed lab") {
		t.Errorf("zonelab down did not report what it removed:\n%s", out)
	}
	if still, _ := lab.Namespaces(prefix); len(still) > 0 {
		t.Errorf("zonelab down left namespaces: %v", still)
	}
	select {
	case <-strayDone: // `sleep 300` ends this early only when signalled
	case <-time.After(5 * time.Second):
		t.Error("zonelab down did not end the process still running in the gateway namespace")
	}
	out = labMustExec(t, bins.zonelab, "down", "--prefix", prefix)
	if !strings.Contains(out, "nothing to remove") {
		t.Errorf("a second zonelab down should find nothing to remove:\n%s", out)
	}
}
