#!/bin/sh
# `make demo`: builds zonegate and zonelab, builds the example factory as a
# network-namespace lab, runs zonegate in the lab's gateway, proves with real
# traffic that the gateway lets through exactly what the zone model says,
# prints the probe matrix and tears everything down. Needs root on Debian;
# installs the missing system packages with .ci/install-deps.sh.
#
# The gateway also serves its web console (zonelab run --console): the demo
# signs in to it from the management zone and checks that it shows the
# model, and prints its URL, certificate fingerprint and the lab's login.
#
# Environment: MODEL (default configs/example-factory.yaml), PREFIX (lab
# prefix, default zldemo), GO (go tool), PROBE_FLAGS (extra flags for
# `zonelab probe`, such as --json), KEEP=1 (keep the lab and the console
# running after the probe until Ctrl-C, the console forwarded to
# CONSOLE_FORWARD, default 127.0.0.1:8443 of this machine).
set -eu
cd "$(dirname "$0")/.."

MODEL=${MODEL:-configs/example-factory.yaml}
PREFIX=${PREFIX:-zldemo}
PROBE_FLAGS=${PROBE_FLAGS:-}
KEEP=${KEEP:-}
CONSOLE_FORWARD=${CONSOLE_FORWARD:-127.0.0.1:8443}

say() { printf '\n==> %s\n' "$*"; }

if [ "$(id -u)" != 0 ]; then
  echo "demo: network namespaces need root: run \`sudo make demo\`" >&2
  exit 1
fi
.ci/install-deps.sh

GO=${GO:-go}
if ! command -v "$GO" >/dev/null 2>&1; then
  if [ -x /usr/local/go/bin/go ]; then
    GO=/usr/local/go/bin/go
  else
    echo "demo: the go tool is missing: install Go 1.24 or newer (https://go.dev/dl/) and run \`make demo\` again" >&2
    exit 1
  fi
fi

say "building bin/zonegate and bin/zonelab"
CGO_ENABLED=0 "$GO" build -trimpath -o bin/zonegate ./cmd/zonegate
CGO_ENABLED=0 "$GO" build -trimpath -o bin/zonelab ./cmd/zonelab

# Leftovers of an interrupted demo.
bin/zonelab down --prefix "$PREFIX" >/dev/null

log=$(mktemp /tmp/zonelab-demo.XXXXXX)
run_pid=
cleanup() {
  status=$?
  trap - EXIT INT TERM
  if [ -n "$run_pid" ] && kill -0 "$run_pid" 2>/dev/null; then
    say "tearing down: stopping zonegate and removing the lab"
    kill -TERM "$run_pid" 2>/dev/null || true
    wait "$run_pid" 2>/dev/null || true
    sed -n '/^stopping zonegate/,$p' "$log" | grep -v '^{' || true
  fi
  bin/zonelab down --prefix "$PREFIX" >/dev/null 2>&1 || true
  rm -f "$log"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

console_flags=--console
if [ -n "$KEEP" ]; then
  console_flags="--console --console-forward $CONSOLE_FORWARD"
fi
say "zonelab run $MODEL --prefix $PREFIX $console_flags   (lab + zonegate serve in its gateway)"
# shellcheck disable=SC2086 # console_flags is a list of flags
bin/zonelab run "$MODEL" --prefix "$PREFIX" --zonegate bin/zonegate $console_flags >"$log" 2>&1 &
run_pid=$!
i=0
until grep -q '^ready' "$log"; do
  if ! kill -0 "$run_pid" 2>/dev/null || [ "$i" -ge 600 ]; then
    echo "demo: zonelab run did not get ready; its output:" >&2
    cat "$log" >&2
    exit 1
  fi
  i=$((i + 1))
  sleep 0.1
done
# The lab summary and the daemon's state, without its JSON log lines.
grep -v '^{' "$log" | sed '/^ready/q'

say "zonelab probe $MODEL --prefix $PREFIX $PROBE_FLAGS"
set +e
# shellcheck disable=SC2086 # PROBE_FLAGS is a list of flags
bin/zonelab probe "$MODEL" --prefix "$PREFIX" $PROBE_FLAGS
probe_status=$?
set -e
if [ "$probe_status" -ne 0 ]; then
  echo "demo: the probe found mismatches (exit $probe_status); zonegate's log:" >&2
  grep '^{' "$log" >&2 || true
fi

say "the gateway's web console"
grep -v '^{' "$log" | sed -n '/^web console:/,/^  forwarded:\|^  checked:/p'
if [ -n "$KEEP" ] && [ "$probe_status" -eq 0 ]; then
  grep -v '^{' "$log" | grep '^  forwarded:' || true
  say "KEEP=1: the lab keeps running; Ctrl-C stops zonegate and removes it"
  wait "$run_pid" || true
fi
exit "$probe_status"
