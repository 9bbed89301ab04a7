#!/bin/sh
# qemu-exec.sh BINARY [ARGS]: the `go test -exec` program of test-arm64.sh.
# Runs a foreign test binary under $QEMU (qemu-aarch64-static). Started as
# root, it runs the binary as $ARM64_TEST_USER (nobody) from a copy that
# user can read, so that tests needing privileges (netfilter, namespaces,
# mounts) skip with their own message: QEMU user mode cannot run them.
# ARM64_TEST_USER= (empty) keeps root.
set -eu
QEMU=${QEMU:-qemu-aarch64-static}
user=${ARM64_TEST_USER-nobody}
bin=$1
shift
if [ "$(id -u)" != 0 ] || [ -z "$user" ]; then
	exec "$QEMU" "$bin" "$@"
fi
dir=$(mktemp -d "${TMPDIR:-/tmp}/zonegate-arm64.XXXXXX")
trap 'rm -rf "$dir"' EXIT
trap 'exit 130' INT TERM
cp "$bin" "$dir/"
chmod 0755 "$dir" "$dir/${bin##*/}"
# A home the user may write: tests that run the go tool (go list -deps)
# keep their build and module caches there.
mkdir "$dir/home"
chown "$user" "$dir/home"
status=0
HOME=$dir/home setpriv --reuid="$user" --regid="$(id -g "$user")" --clear-groups \
	"$QEMU" "$dir/${bin##*/}" "$@" || status=$?
exit "$status"
