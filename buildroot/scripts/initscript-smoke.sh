#!/bin/sh
# initscript-smoke.sh TARGET_DIR: runs /etc/init.d/S45zonegate of a target
# directory (the package installed into it, with the board overlay) the way
# a BusyBox gateway would: chrooted, with BusyBox's start-stop-daemon,
# logger, sysctl and syslogd, in new mount and network namespaces so that
# nothing on this machine changes. check.sh calls it for the amd64 target.
# Needs root, unshare, nft and a static busybox. Prints one line per step;
# exits non-zero when a step fails.
set -eu

if [ "${1:-}" != --inside ]; then
	target=${1:?usage: initscript-smoke.sh TARGET_DIR}
	exec unshare -m -n --propagation private "$0" --inside "$target"
fi
T=$2
busybox=${BUSYBOX:-$(command -v busybox)}

failed=0
ok() { echo "     ok   $*"; }
fail() {
	failed=$((failed + 1))
	echo "     FAIL $*"
}

# A private /dev and /proc; BusyBox as the target's tools.
mkdir -p "$T/dev" "$T/proc" "$T/run" "$T/var/run" "$T/tmp" "$T/bin" "$T/sbin"
mount -t tmpfs -o mode=0755 zgdev "$T/dev"
mknod -m 666 "$T/dev/null" c 1 3
mknod -m 666 "$T/dev/urandom" c 1 9
mount -t proc proc "$T/proc"
mount -t tmpfs -o mode=0755 zgrun "$T/run"
cp "$busybox" "$T/bin/busybox"
for applet in sh start-stop-daemon logger sysctl sleep cat rm printf syslogd; do
	[ -e "$T/bin/$applet" ] || ln -s busybox "$T/bin/$applet"
done
ln -sf ../bin/busybox "$T/sbin/sysctl"
ln -sf ../bin/busybox "$T/sbin/start-stop-daemon"
ip link set lo up

chroot "$T" /bin/syslogd -n -O /tmp/messages &
syslogd=$!
script=/etc/init.d/S45zonegate
settings="$T/etc/zonegate/zonegate.yaml"
model="$T/etc/zonegate/$(sed -n 's/^model:[[:space:]]*\([^[:space:]#]*\).*/\1/p' "$settings")"
cp "$settings" "$T/tmp/settings.good"
cp "$model" "$T/tmp/model.good"
pid() { cat "$T/var/run/zonegate.pid" 2>/dev/null || true; }
alive() { [ -n "$(pid)" ] && [ "$(readlink "/proc/$(pid)/exe" 2>/dev/null)" = "$T/usr/bin/zonegate" ]; }
forwarding() { echo "$(cat /proc/sys/net/ipv4/ip_forward)$(cat /proc/sys/net/ipv6/conf/all/forwarding)"; }
table() { nft list tables | grep -qx 'table inet zonegate'; }
logged() { grep -c "$1" "$T/tmp/messages" || true; }
run() { # run ACTION: runs the start script, shows its output, sets status
	set +e
	out=$(chroot "$T" "$script" "$1" 2>&1)
	status=$?
	set -e
	printf '%s\n' "$out" | sed 's/^/     | /'
}

printf 'no_such_setting: 1\n' >>"$settings"
run start
if [ "$status" -ne 0 ] && [ "$(forwarding)" = 00 ] && ! alive; then
	ok "invalid settings: the daemon exits, the start fails, forwarding stays off"
else
	fail "start with invalid settings: status $status, forwarding $(forwarding)"
fi
cp "$T/tmp/settings.good" "$settings"

printf 'zones: [\n' >>"$model"
run start
sleep 0.5
if [ "$status" -eq 0 ] && alive && table && [ "$(forwarding)" = 11 ] &&
	[ "$(logged 'GATEWAY IN ISLAND MODE')" -ge 1 ]; then
	ok "invalid model: daemon $(pid) up in island mode (fail close), then forwarding on"
else
	fail "start with an invalid model: status $status, pid '$(pid)', forwarding $(forwarding)"
fi
first=$(pid)

cp "$T/tmp/model.good" "$model"
run reload
sleep 1
if [ "$status" -eq 0 ] && alive && [ "$(logged '"msg":"model pushed","user":"local:SIGHUP"')" -ge 1 ]; then
	ok "reload (SIGHUP): the corrected model is applied"
else
	fail "reload: status $status"
fi

run start
if [ "$status" -eq 0 ] && [ "$(pid)" = "$first" ]; then ok "start again: already running"; else fail "start again: status $status"; fi

run restart
if [ "$status" -eq 0 ] && alive && [ "$(pid)" != "$first" ]; then ok "restart: new daemon $(pid)"; else fail "restart: status $status"; fi
last=$(pid)

run stop
# (A stopped daemon may linger as a zombie until init reaps it: no exe.)
if [ "$status" -eq 0 ] && [ -z "$(readlink "/proc/$last/exe" 2>/dev/null)" ] &&
	[ ! -e "$T/var/run/zonegate.pid" ] && table; then
	ok "stop: daemon gone, pidfile removed, ruleset stays in the kernel"
else
	fail "stop: status $status, pid $last $(readlink "/proc/$last/exe" 2>/dev/null), table $(table && echo yes || echo no)"
fi

if [ "$(logged 'zonegate: {"level":"info".*"msg":"zonegate starting"')" -ge 2 ]; then
	ok "the daemon's log reaches syslog"
else
	fail "no zonegate log in syslog"
fi

# Leave nothing running in the namespace.
if [ -n "$(pid)" ]; then kill "$(pid)" 2>/dev/null || true; fi
kill "$syslogd" 2>/dev/null || true
wait "$syslogd" 2>/dev/null || true
umount "$T/run" "$T/proc" "$T/dev"
[ "$failed" -eq 0 ]
