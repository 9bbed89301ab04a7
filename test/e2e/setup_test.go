// Package e2e holds zonegate's end-to-end tests: real nftables in network
// namespaces built by test/lab, real TCP, UDP and ICMP traffic. They need
// root and skip with a message otherwise.
package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/zonegate/zonegate/firewall"
	"github.com/zonegate/zonegate/gateway/zone"
	"github.com/zonegate/zonegate/test/lab"
)

// requireNetns skips the test unless it can build namespaces and use
// nftables in them.
func requireNetns(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("skipping: end-to-end tests need root to create network namespaces (run `make test` as root)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("skipping: iproute2 (`ip`) is not installed; `make test` installs it")
	}
	name := fmt.Sprintf("zgprobe%d", os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Skipf("skipping: cannot create a network namespace: %v: %s", err, out)
	}
	defer exec.Command("ip", "netns", "delete", name).Run()
	target, err := firewall.OpenNetNS(name)
	if err != nil {
		t.Skipf("skipping: cannot open network namespace: %v", err)
	}
	defer target.Close()
	if _, err := firewall.Current(target); err != nil {
		t.Skipf("skipping: nftables netlink is not usable here (kernel without nf_tables, or emulation): %v", err)
	}
}

func repoFile(t testing.TB, rel string) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", rel)
}

func loadModel(t testing.TB, path string) *zone.Model {
	t.Helper()
	m, err := zone.LoadFile(path)
	if err != nil {
		t.Fatalf("load %s: %v", path, err)
	}
	return m
}

func loadModelText(t testing.TB, text string) *zone.Model {
	t.Helper()
	m, err := zone.Load("test.yaml", []byte(text))
	if err != nil {
		t.Fatalf("load model: %v", err)
	}
	return m
}

// upLab builds a lab and removes it when the test ends.
func upLab(t testing.TB, m *zone.Model, prefix string) *lab.Lab {
	t.Helper()
	_ = lab.DownPrefix(prefix) // leftovers of a crashed run
	l, err := lab.Up(m, lab.Options{Prefix: prefix})
	if err != nil {
		t.Fatalf("build lab: %v", err)
	}
	t.Cleanup(func() {
		if err := l.Down(); err != nil {
			t.Errorf("remove lab: %v", err)
		}
	})
	return l
}

// gatewayTarget opens the lab's gateway namespace for firewall calls.
func gatewayTarget(t testing.TB, l *lab.Lab) firewall.Target {
	t.Helper()
	target, err := firewall.OpenNetNS(l.Gateway)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { target.Close() })
	return target
}
