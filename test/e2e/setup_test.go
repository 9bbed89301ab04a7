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
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/zonegate/zonegate/test/prereq"

	"github.com/zonegate/zonegate/firewall"
	"github.com/zonegate/zonegate/gateway/zone"
	"github.com/zonegate/zonegate/test/lab"
)

// binDir holds the binaries built from this repository for the tests,
// once per test run (see buildCmd); TestMain removes it.
var (
	binDir   string
	binMu    sync.Mutex
	binBuilt = map[string]error{}
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// buildCmd builds ./cmd/NAME once per test run and returns the binary's
// path. All binaries land in one directory, so zonelab finds zonegate next
// to itself.
func buildCmd(t testing.TB, name string) string {
	t.Helper()
	prereq.Go(t)
	binMu.Lock()
	defer binMu.Unlock()
	if binDir == "" {
		dir, err := os.MkdirTemp("", "zonegate-e2e-bin-")
		if err != nil {
			t.Fatal(err)
		}
		binDir = dir
	}
	bin := filepath.Join(binDir, name)
	err, done := binBuilt[name]
	if !done {
		cmd := exec.Command("go", "build", "-o", bin, "./cmd/"+name)
		cmd.Dir = repoFile(t, ".")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, berr := cmd.CombinedOutput(); berr != nil {
			err = fmt.Errorf("go build ./cmd/%s: %v\n%s", name, berr, out)
		}
		binBuilt[name] = err
	}
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// requireNetns skips the test unless it can build namespaces and use
// nftables in them.
func requireNetns(t testing.TB) {
	t.Helper()
	prereq.Netns(t) // root, iproute2, namespaces, nf_tables: skips name what is missing
	name := fmt.Sprintf("zgprobe%d", os.Getpid())
	out, err := exec.Command("ip", "netns", "add", name).CombinedOutput()
	require.NoError(t, err, "ip netns add: %s", out)
	defer exec.Command("ip", "netns", "delete", name).Run()
	// From here on every error is zonegate's own code: a failure, not a skip.
	target, err := firewall.OpenNetNS(name)
	require.NoError(t, err, "firewall.OpenNetNS")
	defer target.Close()
	_, err = firewall.Current(target)
	require.NoError(t, err, "firewall.Current on an empty namespace")
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
