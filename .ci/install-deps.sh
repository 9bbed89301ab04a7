#!/bin/sh
# Installs the Debian packages zonegate's tests, benchmarks and demo need,
# only when something is missing. Needs root.
set -eu
need=""
have() { command -v "$1" >/dev/null 2>&1; }
have nft || need="$need nftables"
have ip || need="$need iproute2"
have conntrack || need="$need conntrack"
have ping || need="$need iputils-ping"
have rsyslogd || need="$need rsyslog"
[ -n "$(find /usr/lib -name lmnsd_gtls.so 2>/dev/null | head -1)" ] || need="$need rsyslog-gnutls"
have shellcheck || need="$need shellcheck"
have rsync || need="$need rsync"
have qemu-aarch64-static || need="$need qemu-user-static"
have busybox || need="$need busybox-static"
# Modbus end-to-end tests (test/e2e/modbus_*_test.go) and `make bench-modbus`:
# real Modbus peers and the HAProxy baseline. pymodbus must be importable by
# Debian's /usr/bin/python3 (another python3 may come first on PATH).
have mbpoll || need="$need mbpoll"
have haproxy || [ -x /usr/sbin/haproxy ] || need="$need haproxy"
/usr/bin/python3 -c 'import pymodbus' >/dev/null 2>&1 || need="$need python3-pymodbus"
# The zone drawing test (gateway/zone/zonedoc) checks that Graphviz accepts the
# DOT output; zonegate itself renders SVG without Graphviz.
have dot || need="$need graphviz"
# `make demo` and zonelab build Go modules, fetched over HTTPS.
[ -e /etc/ssl/certs/ca-certificates.crt ] || need="$need ca-certificates"
if [ -n "$need" ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "install-deps: missing packages:$need (run as root, or install them yourself)" >&2
    exit 1
  fi
  echo "install-deps: installing$need"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need >/dev/null
fi
