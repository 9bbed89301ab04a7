#!/bin/sh
# test-arm64.sh: the unit tests as linux/arm64 binaries under QEMU user-mode
# emulation (`go test -exec`, through qemu-exec.sh and qemu-aarch64-static),
# one package at a time so that the timing tests of the proxy engine are
# not starved of CPU.
#
# QEMU user mode has no NETLINK_NETFILTER and no SO_ORIGINAL_DST, so the
# tests of netfilter, namespaces and the kernel cannot run here. Run as
# root, qemu-exec.sh runs the test binaries as nobody: those tests skip with
# their own "needs root" message, and the pure-logic tests run. (As root
# they would fail: see ARM64_TEST_USER in qemu-exec.sh.)
#
# Skipped by name (ARM64_SKIP), because emulation cannot run it at all:
#   gateway/audit TestCrashSafety re-executes its own arm64 test binary as
#   a child, which needs binfmt_misc (exec format error without it). The
#   proxy engine's tests (protocols/proxy, protocols/modbustcp) all run.
#
# ARM64_SKIP and ARM64_EXCLUDE (a regexp of package paths) override these
# lists; ARM64_TEST_FLAGS adds go test flags.
set -eu
GO=${GO:-go}
QEMU=${QEMU:-qemu-aarch64-static}
export QEMU
ARM64_SKIP=${ARM64_SKIP-'^TestCrashSafety$'}
ARM64_EXCLUDE=${ARM64_EXCLUDE-}
here=$(cd "$(dirname "$0")" && pwd)

command -v "$QEMU" >/dev/null 2>&1 || {
	echo "test-arm64: $QEMU is missing (Debian package qemu-user-static; make deps installs it)" >&2
	exit 1
}

pkgs=$(CGO_ENABLED=0 GOARCH=arm64 "$GO" list ./...)
if [ -n "$ARM64_EXCLUDE" ]; then
	for p in $(printf '%s\n' "$pkgs" | grep -E "$ARM64_EXCLUDE" || true); do
		echo "test-arm64: excluded $p"
	done
	pkgs=$(printf '%s\n' "$pkgs" | grep -v -E "$ARM64_EXCLUDE" || true)
fi
[ -z "$ARM64_SKIP" ] || echo "test-arm64: skipped by name: $ARM64_SKIP"
if [ "$(id -u)" = 0 ] && [ -n "${ARM64_TEST_USER-nobody}" ]; then
	echo "test-arm64: test binaries run as ${ARM64_TEST_USER-nobody} under $QEMU"
fi

# shellcheck disable=SC2086 # package list and extra flags are word lists
CGO_ENABLED=0 GOOS=linux GOARCH=arm64 "$GO" test -count=1 -p 1 \
	-exec "$here/qemu-exec.sh" ${ARM64_SKIP:+-skip "$ARM64_SKIP"} \
	${ARM64_TEST_FLAGS:-} $pkgs
