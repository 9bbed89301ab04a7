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
if [ -n "$need" ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "install-deps: missing packages:$need (run as root, or install them yourself)" >&2
    exit 1
  fi
  echo "install-deps: installing$need"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need >/dev/null
fi
