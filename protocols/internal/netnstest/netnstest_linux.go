//go:build linux

// Package netnstest runs test code inside a new network namespace with an
// nftables redirect of local port 5020 to 15020, so the protocol packages
// can test SO_ORIGINAL_DST and transparent proxying without touching the
// host's network.
package netnstest

import (
	"errors"
	"net"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/zonegate/zonegate/protocols/origdst"
	"github.com/zonegate/zonegate/test/prereq"
)

// Thread runs functions on one OS thread inside a new network
// namespace. Sockets created there stay in that namespace whatever thread
// uses them later.
type Thread struct{ work chan func() }

// Redirect is the ruleset New loads: it sends local TCP connections to
// port 5020 (IPv4 and IPv6) to port 15020, except those of sockets with
// mark 42 (the proxy's own).
const Redirect = `
table inet zgtest {
	chain out {
		type nat hook output priority -100; policy accept;
		meta mark 42 return
		tcp dport 5020 redirect to :15020
	}
}
`

// New creates the namespace, brings lo up and loads Redirect. It skips the
// test when that is impossible (not root, no nft, no NAT, no
// SO_ORIGINAL_DST under emulation).
func New(t *testing.T) *Thread {
	t.Helper()
	prereq.Netns(t)
	nft := prereq.Command(t, "nft", "nftables")
	var err error
	ns := &Thread{work: make(chan func())}
	ready := make(chan error)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			ready <- err
			return
		}
		ready <- nil
		for f := range ns.work {
			f()
		}
	}()
	if err := <-ready; err != nil {
		t.Skipf("cannot create a network namespace (%v): run as root on a kernel with network namespaces", err)
	}
	t.Cleanup(func() { close(ns.work) })
	ns.Do(func() {
		if out, e := exec.Command("ip", "link", "set", "lo", "up").CombinedOutput(); e != nil {
			err = &exec.Error{Name: "ip link set lo up: " + string(out), Err: e}
			return
		}
		cmd := exec.Command(nft, "-f", "-")
		cmd.Stdin = strings.NewReader(Redirect)
		if out, e := cmd.CombinedOutput(); e != nil {
			err = &exec.Error{Name: "nft: " + string(out), Err: e}
		}
	})
	if err != nil {
		t.Skipf("cannot set up the namespace (no NAT support in this kernel?): %v", err)
	}
	// QEMU user-mode emulation does not pass SO_ORIGINAL_DST through.
	var ln net.Listener
	var c net.Conn
	ns.Do(func() {
		if ln, err = net.Listen("tcp", "127.0.0.1:15020"); err == nil {
			c, err = net.Dial("tcp", "127.0.0.1:5020")
		}
	})
	require.NoError(t, err, "probe connection")
	defer ln.Close()
	defer c.Close()
	s, err := ln.Accept()
	require.NoError(t, err)
	defer s.Close()
	if _, err := origdst.OriginalDestination(s.(*net.TCPConn)); errors.Is(err, unix.ENOPROTOOPT) {
		t.Skipf("SO_ORIGINAL_DST is not available here (QEMU user-mode emulation?): %v", err)
	}
	return ns
}

// Do runs f on the namespace's thread and waits for it.
func (n *Thread) Do(f func()) {
	done := make(chan struct{})
	n.work <- func() { defer close(done); f() }
	<-done
}
