// Package prereq is the one place where zonegate's tests skip. Each
// function checks one named prerequisite that lies outside zonegate (root,
// a Debian package's program or Python module, a kernel feature) and skips
// the test with a message that says what is missing and how to get it.
// Anything that fails inside zonegate's own code is a test failure, never
// a skip: call these before the code under test, not around it.
//
// `make test` runs as root after .ci/install-deps.sh, so there every
// prerequisite is present and it fails when any test in firewall/,
// protocols/, gateway/ or test/ skipped (see test/gotestsum).
package prereq

import (
	"fmt"
	"os"
	"os/exec"
	"testing"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// Root skips unless the test runs as root (namespaces, nftables, mounts).
func Root(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("skipping: needs root (network namespaces, nftables, mounts); run `make test` as root")
	}
}

// Command returns the path of program name, or skips naming the Debian
// package that has it. Programs in /usr/sbin and /sbin are found even when
// those are not on PATH.
func Command(t testing.TB, name, debianPackage string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range []string{"/usr/sbin/", "/sbin/"} {
		if st, err := os.Stat(dir + name); err == nil && st.Mode()&0o111 != 0 {
			return dir + name
		}
	}
	t.Skipf("skipping: %s is not installed (Debian package %s; `make deps` installs it)", name, debianPackage)
	return ""
}

// Python is Debian's interpreter, which has the python3-* packages; the
// python3 first on PATH may be another one.
const Python = "/usr/bin/python3"

// PythonModules skips unless Debian's python3 imports every module; the
// message names the Debian package.
func PythonModules(t testing.TB, debianPackage string, modules ...string) {
	t.Helper()
	if _, err := os.Stat(Python); err != nil {
		t.Skipf("skipping: %s is not installed (Debian package python3)", Python)
	}
	for _, m := range modules {
		if out, err := exec.Command(Python, "-c", "import "+m).CombinedOutput(); err != nil {
			t.Skipf("skipping: %s cannot import %s (Debian package %s; `make deps` installs it and what it recommends): %v\n%s",
				Python, m, debianPackage, err, out)
		}
	}
}

// Go returns the go tool, for tests that build zonegate's binaries.
func Go(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("go")
	if err != nil {
		t.Skip("skipping: the go tool is not on PATH, so the test cannot build zonegate's binaries")
	}
	return p
}

// Netns skips unless the test can create network namespaces and talk
// nftables netlink: root, iproute2, a kernel with network namespaces and
// nf_tables (QEMU user mode has no NETLINK_NETFILTER).
func Netns(t testing.TB) {
	t.Helper()
	Root(t)
	Command(t, "ip", "iproute2")
	NfTables(t)
	name := fmt.Sprintf("zgprereq%d", os.Getpid())
	_ = exec.Command("ip", "netns", "delete", name).Run()
	out, err := exec.Command("ip", "netns", "add", name).CombinedOutput()
	if err != nil {
		t.Skipf("skipping: this kernel or container cannot create network namespaces (`ip netns add`: %v: %s)", err, out)
	}
	_ = exec.Command("ip", "netns", "delete", name).Run()
}

// NfTables skips unless the kernel answers nf_tables netlink requests: it
// asks for the ruleset generation with a plain netlink socket, without any
// of zonegate's code.
func NfTables(t testing.TB) {
	t.Helper()
	if err := nfTablesUsable(); err != nil {
		t.Skipf("skipping: the kernel does not answer nf_tables netlink requests (%v): a kernel with nf_tables is needed, and QEMU user mode has none", err)
	}
}

func nfTablesUsable() error {
	// Probe with a raw socket first: the netlink library panics on some
	// emulators when the protocol is missing.
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_NETFILTER)
	if err != nil {
		return fmt.Errorf("NETLINK_NETFILTER socket: %w", err)
	}
	unix.Close(fd)
	c, err := netlink.Dial(unix.NETLINK_NETFILTER, nil)
	if err != nil {
		return err
	}
	defer c.Close()
	const getGen = unix.NFNL_SUBSYS_NFTABLES<<8 | unix.NFT_MSG_GETGEN
	// nfgenmsg: family, version, resource id.
	_, err = c.Execute(netlink.Message{
		Header: netlink.Header{Type: netlink.HeaderType(getGen), Flags: netlink.Request},
		Data:   []byte{unix.AF_UNSPEC, unix.NFNETLINK_V0, 0, 0},
	})
	return err
}
