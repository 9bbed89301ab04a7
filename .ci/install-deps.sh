#!/bin/sh
# Installs the Debian packages zonegate's tests, benchmarks and demo need,
# then checks each one the way the tests use it (the binary they run, the
# Python modules they import). Needs root to install; `--check` only checks.
#
# apt installs no Recommends here (--no-install-recommends, as on a fresh
# machine), so every package a test needs is named below, including the
# ones a named package only recommends (pymodbus.server needs serial and
# serial_asyncio, which python3-pymodbus merely recommends).
#
# Exit status: 0 when everything is there, 1 when something is missing
# (the message names the Debian package).
set -eu

check_only=0
[ "${1:-}" = "--check" ] && check_only=1

# Debian's own python3: another python3 may come first on PATH, and the
# end-to-end tests run /usr/bin/python3.
PY=/usr/bin/python3

# shellcheck disable=SC2317 # called through eval below
have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/sbin/$1" ]; }
# shellcheck disable=SC2317
pyimport() { [ -x "$PY" ] && "$PY" -c "import $1" >/dev/null 2>&1; }
# shellcheck disable=SC2317
gnutls() { [ -n "$(find /usr/lib -name lmnsd_gtls.so 2>/dev/null | head -1)" ]; }

# Each line: PACKAGE CHECK... (the check is a shell command, run with eval).
# Who uses it is said in the comment above the line.
checks() {
	cat <<'EOF'
nftables have nft
iproute2 have ip
conntrack have conntrack
iputils-ping have ping
util-linux have taskset
curl have curl
ca-certificates test -e /etc/ssl/certs/ca-certificates.crt
rsyslog have rsyslogd
rsyslog-gnutls gnutls
shellcheck have shellcheck
rsync have rsync
qemu-user-static have qemu-aarch64-static
busybox-static have busybox
mbpoll have mbpoll
haproxy have haproxy
graphviz have dot
chromium have chromium
fonts-dejavu-core test -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf
python3 test -x /usr/bin/python3
python3-pymodbus pyimport pymodbus
python3-serial pyimport serial
python3-serial-asyncio pyimport serial_asyncio
python3-pymodbus pyimport pymodbus.server.async_io
python3-pymodbus pyimport pymodbus.client
python3-pymodbus pyimport pymodbus.mei_message
ansible-core have ansible-playbook
ansible-core have ansible-vault
ansible-core have ansible-doc
ansible-lint have ansible-lint
openssh-server have sshd
openssh-sftp-server test -x /usr/lib/openssh/sftp-server
openssh-client have ssh
openssh-client have ssh-keygen
prometheus have promtool
tshark have tshark
tshark have text2pcap
openssl have openssl
EOF
}
# Users of the entries above:
#   nftables, iproute2, conntrack, iputils-ping: firewall and namespace tests, zonelab, make demo
#   util-linux (taskset): make bench-modbus -pin
#   curl: test/e2e raw API requests over the Unix socket
#   ca-certificates: make demo and zonelab build Go modules over HTTPS
#   rsyslog, rsyslog-gnutls: gateway/audit syslog interop tests (TCP and TLS)
#   rsync, shellcheck, qemu-user-static, busybox-static: make buildroot-check, make test-arm64
#   mbpoll, python3-pymodbus (+ python3-serial, python3-serial-asyncio):
#     Modbus end-to-end tests (test/e2e/testdata/modbus_plc.py, modbus_client.py)
#   haproxy: make bench-modbus baseline
#   tshark (with text2pcap): protocols/opcuatcp TestWiresharkAgrees compares
#     what the OPC UA engine reads from a real conversation with Wireshark's
#     opcua dissector
#   openssl: protocols/modbustls TestREADMERecipe runs the README's openssl
#     recipe for Modbus/TCP Security certificates; configs/tls/make-demo-certs.sh
#   graphviz: gateway/zone/zonedoc checks that `dot` accepts the DOT drawing
#     (zonegate renders SVG itself; graphviz is never needed at run time)
#   ansible-core, openssh-server (+ openssh-sftp-server, which Ansible's file
#     transfer uses), openssh-client, ansible-lint, prometheus (promtool):
#     test/e2e fleet tests of configs/ansible (TestFleetAnsible runs
#     ansible-playbook on a controller namespace against sshd in three
#     gateway namespaces; the modules need only python3's standard library
#     on the gateway). Installing them starts no service where systemd does
#     not run (CI); on a systemd machine the packages start sshd and
#     prometheus as their postinst scripts do.
#   chromium, fonts-dejavu-core: the web console's browser tests
#     (test/e2e/browser, chromedp; headless, --no-sandbox, so chromium-sandbox,
#     which chromium only recommends, is not needed). fonts-dejavu-core comes
#     with chromium's fontconfig anyway; it is named because the screenshots
#     need a font with Latin glyphs and nothing else here guarantees one.

missing() {
	checks | while read -r pkg check; do
		eval "$check" || echo "$pkg"
	done | sort -u | tr '\n' ' '
}

need=$(missing)
if [ -n "$need" ] && [ "$check_only" = 0 ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "install-deps: missing Debian packages: $need(run as root, or apt-get install them yourself)" >&2
		exit 1
	fi
	echo "install-deps: installing $need"
	apt-get update -qq
	# shellcheck disable=SC2086 # one word per package
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need >/dev/null
	need=$(missing)
fi
if [ -n "$need" ]; then
	echo "install-deps: still missing after install, the tests would fail:" >&2
	checks | while read -r pkg check; do
		eval "$check" || echo "  Debian package $pkg: check \`$check\` failed" >&2
	done
	exit 1
fi
[ "$check_only" = 1 ] && echo "install-deps: every test prerequisite is present"
exit 0
