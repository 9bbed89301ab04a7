#!/bin/sh
# check.sh: the checks of the zonegate br2-external tree that need no
# Buildroot tree and no network (`make buildroot-check`, part of `make test`):
#
#  1. shellcheck of the start script, the settings files and these scripts;
#  2. the package files: external.desc, Config.in, zonegate.mk (evaluated
#     with br-sim.mk, a stand-in for Buildroot's golang infrastructure),
#     the settings files, the systemd unit (systemd-analyze when present);
#  3. the kernel fragment: only CONFIG_X=y|m or "# CONFIG_X is not set",
#     no option twice, and every option of ZONEGATE_LINUX_CONFIG_FIXUPS in it;
#  4. the defconfigs: zonegate, the fragment and the overlay enabled;
#  5. vendor/: when present, it must be what `make vendor` makes now;
#  6. make sbom: the release binaries and their SBOMs (the one step that
#     may use the network: the Go module proxy for the pinned SBOM tools,
#     the first time);
#  7. for amd64, arm64 and arm (GOARM=7): the Buildroot build of the
#     package, offline, with exactly the Go environment of Buildroot
#     (GOFLAGS=-mod=vendor GOPROXY=off GOTOOLCHAIN=local, CGO off by the
#     package, -trimpath -buildvcs=false), then its target installation; the
#     binary must be static, stamped, and say its version and architecture;
#     the licence declaration (ZONEGATE_LICENSE, ZONEGATE_LICENSE_FILES)
#     and the installed SBOM must match that binary's modules.
#
# Environment: GO (go), MAKE (make), KEEP=1 keeps the work directory,
# BUILDROOT_SRC=DIR also runs the utils/check-package of that Buildroot tree.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
ext=$(cd "$here/.." && pwd)
repo=$(cd "$ext/.." && pwd)
GO=${GO:-go}
MAKE=${MAKE:-make}

passed=0
failed=0
ok() {
	passed=$((passed + 1))
	echo "ok   $*"
}
fail() {
	failed=$((failed + 1))
	echo "FAIL $*"
}
need() {
	command -v "$1" >/dev/null 2>&1 || {
		echo "buildroot-check: $1 is missing (make deps installs it)" >&2
		exit 1
	}
}
need shellcheck
need rsync
need "$GO"
need qemu-aarch64-static
need qemu-arm-static

work=$(mktemp -d "${TMPDIR:-/tmp}/zonegate-br-check.XXXXXX")
cleanup() {
	if [ "${KEEP:-}" = 1 ]; then
		echo "buildroot-check: kept $work"
	else
		chmod -R u+w "$work" 2>/dev/null || true
		rm -rf "$work"
	fi
}
trap cleanup EXIT
trap 'exit 2' INT TERM

sim() {
	"$MAKE" -s --no-print-directory -f "$here/br-sim.mk" \
		BR2_EXTERNAL_ZONEGATE_PATH="$ext" "$@"
}
# var NAME: a variable of zonegate.mk as Buildroot sees it, on one line.
var() {
	sim "print-$1" | tr '\t\n' '  ' | sed 's/  */ /g; s/^ //; s/ $//'
}

pkg="$ext/package/zonegate"
overlay="$ext/board/zonegate/rootfs-overlay"
fragment="$ext/board/zonegate/linux.fragment"

echo "== shell scripts"
for f in "$pkg/S45zonegate" "$here"/*.sh; do
	if shellcheck -s sh "$f"; then ok "shellcheck ${f#"$repo"/}"; else fail "shellcheck ${f#"$repo"/}"; fi
done
# The settings files are sourced by the start script.
for f in "$pkg/zonegate.default" "$overlay/etc/default/zonegate"; do
	if shellcheck -s sh -e SC2034 "$f"; then ok "shellcheck ${f#"$repo"/}"; else fail "shellcheck ${f#"$repo"/}"; fi
done

echo "== package"
if grep -qx 'name: ZONEGATE' "$ext/external.desc"; then ok "external.desc names ZONEGATE"; else fail "external.desc must say 'name: ZONEGATE'"; fi
if grep -q 'BR2_EXTERNAL_ZONEGATE_PATH/package/zonegate/Config.in' "$ext/Config.in"; then ok "Config.in sources the package"; else fail "Config.in does not source package/zonegate/Config.in"; fi
if grep -q '^	depends on BR2_PACKAGE_HOST_GO_TARGET_ARCH_SUPPORTS$' "$pkg/Config.in" &&
	grep -q '^	select BR2_PACKAGE_HOST_GO$' "$pkg/Config.in" &&
	grep -q '^	help$' "$pkg/Config.in"; then
	ok "package Config.in: depends on the Go architectures, selects host Go, has help"
else
	fail "package Config.in needs depends on BR2_PACKAGE_HOST_GO_TARGET_ARCH_SUPPORTS, select BR2_PACKAGE_HOST_GO and help"
fi

if ! sim print-ZONEGATE_GOMOD >"$work/sim.out" 2>&1; then
	cat "$work/sim.out"
	fail "zonegate.mk does not evaluate with the golang infrastructure"
fi
module=$(sed -n 's/^module //p' "$repo/go.mod")
expect() { # expect NAME WANT DESCRIPTION
	got=$(var "$1")
	if [ "$got" = "$2" ]; then ok "$3"; else fail "$3: $1 is '$got', want '$2'"; fi
}
expect ZONEGATE_SITE_METHOD local "local site method"
expect ZONEGATE_SITE "$ext/.." "site is the repository of the external tree"
expect ZONEGATE_GOMOD "$module" "module path matches go.mod"
expect ZONEGATE_BUILD_TARGETS cmd/zonegate "builds cmd/zonegate"
expect ZONEGATE_INSTALL_BINS "" "no ZONEGATE_INSTALL_BINS"
case " $(var ZONEGATE_GO_ENV) " in
*" CGO_ENABLED=0 "*) ok "cgo disabled by ZONEGATE_GO_ENV" ;;
*) fail "ZONEGATE_GO_ENV must set CGO_ENABLED=0" ;;
esac
ldflags=$(var ZONEGATE_LDFLAGS)
case "$ldflags" in
*"-X main.version="*"-X main.commit="*) ok "version and commit stamped: $ldflags" ;;
*) fail "ZONEGATE_LDFLAGS must set main.version and main.commit: $ldflags" ;;
esac
perms=$(sim print-ZONEGATE_PERMISSIONS | awk 'NF && NF != 10')
if [ -z "$perms" ]; then ok "ZONEGATE_PERMISSIONS in makedevs format"; else fail "ZONEGATE_PERMISSIONS lines need 10 fields: $perms"; fi

# Settings: NAME="value" lines only (systemd reads them too), known names.
known="ZONEGATE_CONFIG ZONEGATE_ARGS ZONEGATE_SOCKET ZONEGATE_SYSCTL"
for f in "$pkg/zonegate.default" "$overlay/etc/default/zonegate"; do
	bad=$(sed -e 's/^#\(ZONEGATE_\)/\1/' "$f" | grep -v -e '^#' -e '^$' |
		grep -v -E '^ZONEGATE_[A-Z_]+="[^"$`\\]*"$' || true)
	names=$(sed -n -e 's/^#\{0,1\}\(ZONEGATE_[A-Z_]*\)=.*/\1/p' "$f" | tr '\n' ' ')
	for name in $names; do
		case " $known " in
		*" $name "*) ;;
		*) bad="$bad unknown setting $name" ;;
		esac
	done
	if [ -z "$bad" ]; then ok "settings ${f#"$repo"/}"; else fail "settings ${f#"$repo"/}: $bad"; fi
done
# The same defaults in the start script, the unit and the documented file.
for name in $known; do
	in_script=$(sed -n "s/^$name=\"\(.*\)\"\$/\1/p" "$pkg/S45zonegate")
	in_doc=$(sed -n "s/^#$name=\"\(.*\)\"\$/\1/p" "$pkg/zonegate.default")
	in_unit=$(sed -n "s/^Environment=$name=\(.*\)\$/\1/p" "$pkg/zonegate.service")
	if [ "$in_script" = "$in_doc" ] && [ "$in_unit" = "$in_script" ] &&
		grep -q "\$$name\|\${$name}" "$pkg/zonegate.service"; then
		ok "$name: same default in start script, unit and /etc/default ('$in_script')"
	else
		fail "$name defaults differ: script '$in_script', unit '$in_unit', documented '$in_doc'"
	fi
done
socket=$(sed -n 's/^[[:space:]]*socket:[[:space:]]*\([^[:space:]#]*\).*/\1/p' "$repo/configs/zonegate.yaml")
if [ "$socket" = "$(sed -n 's/^ZONEGATE_SOCKET="\(.*\)"$/\1/p' "$pkg/S45zonegate")" ]; then
	ok "ZONEGATE_SOCKET is api.socket of configs/zonegate.yaml"
else
	fail "ZONEGATE_SOCKET differs from api.socket of configs/zonegate.yaml ($socket)"
fi

unit="$pkg/zonegate.service"
missing=""
# shellcheck disable=SC2016 # literal directives
for directive in 'CapabilityBoundingSet=CAP_NET_ADMIN' 'ProtectSystem=strict' \
	'StateDirectory=zonegate' 'NoNewPrivileges=yes' 'Restart=on-failure' \
	'ExecReload=/bin/kill -HUP $MAINPID' 'WantedBy=multi-user.target'; do
	grep -qxF "$directive" "$unit" || missing="$missing $directive"
done
if [ -z "$missing" ]; then ok "unit hardening and reload directives"; else fail "unit lacks:$missing"; fi

# With a Buildroot tree at hand, its own style checker too.
if [ -n "${BUILDROOT_SRC:-}" ]; then
	if (cd "$ext" && "$BUILDROOT_SRC/utils/check-package" -b external.desc \
		external.mk Config.in package/zonegate/* configs/* \
		board/zonegate/linux.fragment); then
		ok "Buildroot's utils/check-package"
	else
		fail "Buildroot's utils/check-package"
	fi
fi

echo "== kernel fragment"
bad=$(grep -v -n -E -e '^$' -e '^CONFIG_[A-Z0-9_]+=[ym]$' \
	-e '^# CONFIG_[A-Z0-9_]+ is not set$' -e '^# ' -e '^#$' "$fragment" || true)
bad="$bad$(grep -n -E '^# CONFIG_' "$fragment" | grep -v -E ' is not set$' || true)"
if [ -z "$bad" ]; then ok "fragment lines are CONFIG_X=y|m, # CONFIG_X is not set, or comments"; else fail "fragment lines: $bad"; fi
sed -n -e 's/^\(CONFIG_[A-Z0-9_]*\)=.*/\1/p' -e 's/^# \(CONFIG_[A-Z0-9_]*\) is not set$/\1/p' \
	"$fragment" | sort >"$work/fragment.opts"
dups=$(uniq -d "$work/fragment.opts")
if [ -z "$dups" ]; then ok "fragment sets no option twice"; else fail "fragment sets twice: $dups"; fi
if sim fixups >"$work/fixups" 2>&1; then
	ok "ZONEGATE_LINUX_CONFIG_FIXUPS: $(wc -l <"$work/fixups") options"
else
	fail "ZONEGATE_LINUX_CONFIG_FIXUPS does not evaluate: $(cat "$work/fixups")"
fi
grep -v -x -F -f "$fragment" "$work/fixups" >"$work/fixups.missing" || true
if [ ! -s "$work/fixups.missing" ]; then
	ok "every fixup is in the fragment, with the same value"
else
	fail "fixups not in the fragment: $(tr '\n' ' ' <"$work/fixups.missing")"
fi

echo "== defconfigs"
for arch in aarch64:zonegate_qemu_aarch64_virt arm:zonegate_qemu_arm_vexpress \
	x86_64:zonegate_pc_x86_64_bios; do
	f="$ext/configs/${arch#*:}_defconfig"
	missing=""
	# shellcheck disable=SC2016 # literal defconfig lines
	for line in "BR2_${arch%%:*}=y" 'BR2_PACKAGE_ZONEGATE=y' 'BR2_LINUX_KERNEL=y' \
		'BR2_LINUX_KERNEL_CONFIG_FRAGMENT_FILES="$(BR2_EXTERNAL_ZONEGATE_PATH)/board/zonegate/linux.fragment"' \
		'BR2_ROOTFS_OVERLAY="$(BR2_EXTERNAL_ZONEGATE_PATH)/board/zonegate/rootfs-overlay"'; do
		grep -qxF "$line" "$f" 2>/dev/null || missing="$missing $line"
	done
	if [ -z "$missing" ]; then ok "${f#"$repo"/}"; else fail "${f#"$repo"/} lacks:$missing"; fi
done

echo "== vendor"
# The Go environment of Buildroot, on a module cache that stays empty.
goroot=$("$GO" env GOROOT)
gocache=$("$GO" env GOCACHE)
mkdir -p "$work/gopath" "$work/home"
src="$work/build/zonegate-$(var ZONEGATE_VERSION)"
mkdir -p "$src"
# The rsync of a local package: pkg-generic.mk's options and exclusions.
# shellcheck disable=SC2046 # the exclusions are separate words
rsync -au --chmod=u=rwX,go=rX $(var ZONEGATE_OVERRIDE_SRCDIR_RSYNC_EXCLUSIONS) \
	--exclude .svn --exclude .git --exclude .hg --exclude .bzr --exclude CVS \
	"$(var ZONEGATE_SITE)/" "$src"
if [ -d "$repo/vendor" ]; then
	# What the vendor ships must be what `make vendor` makes from go.mod.
	(cd "$repo" && "$GO" mod vendor -o "$work/vendor.fresh") >"$work/vendor.log" 2>&1 ||
		{ cat "$work/vendor.log"; fail "go mod vendor"; }
	if diff -r -q "$repo/vendor" "$work/vendor.fresh" >"$work/vendor.diff" 2>&1; then
		ok "vendor/ is current"
	else
		head -5 "$work/vendor.diff"
		fail "vendor/ is stale: run make vendor"
	fi
else
	# Without vendor/ in the tree, vendor into the copy as `make vendor` would.
	if "$MAKE" -s --no-print-directory -C "$repo" vendor GO="$GO" \
		VENDOR_DIR="$src/vendor" >"$work/vendor.log" 2>&1; then
		ok "make vendor (into the build copy; the tree has no vendor/)"
	else
		cat "$work/vendor.log"
		fail "make vendor"
	fi
fi

# Build without a network when this user may make a network namespace.
wrap=""
if unshare -n true 2>/dev/null; then
	wrap="unshare -n"
	echo "     (go build runs in a new network namespace without interfaces)"
fi

version=$(var ZONEGATE_VERSION)
commit=$(var ZONEGATE_COMMIT)

echo "== SBOMs (make sbom)"
# The release binaries and their SBOMs, as a vendor makes them before the
# Buildroot build; the package installs the SBOM of its architecture.
if "$MAKE" -s --no-print-directory -C "$repo" sbom GO="$GO" DIST="$work/dist" \
	VERSION="$version" COMMIT="$commit" >"$work/sbom.log" 2>&1; then
	ok "make sbom: $(cd "$work/dist" && echo *.cdx.json)"
else
	tail -20 "$work/sbom.log"
	fail "make sbom"
fi
# words: lines joined by spaces.
words() { tr '\n' ' ' | sed 's/ $//'; }
# modules_of SBOM: "PATH VERSION LICENCES" of zonegate, then of each module.
modules_of() {
	(cd "$ext/release" && "$GO" run ./cmd/zonegate-sbom modules "$1")
}
declared_licences=$(var ZONEGATE_LICENSE | tr ',' '\n' | sed 's/^ *//; s/ *$//' | sort -u)
licence_files=$(var ZONEGATE_LICENSE_FILES | tr ' ' '\n' | sed '/^$/d')
case " $(echo "$licence_files" | tr '\n' ' ') " in
*" LICENSE "*) ok "ZONEGATE_LICENSE_FILES has zonegate's LICENSE" ;;
*) fail "ZONEGATE_LICENSE_FILES lacks LICENSE" ;;
esac

# check_licences ARCH SBOM TARGET: the licence declaration and the SBOM
# against the binary Buildroot built for ARCH (its `go version -m`).
check_licences() {
	awk '$1 == "dep" { print $2, $3 }' "$work/buildinfo-$1" | sort >"$work/mods-$1"
	if ! modules_of "$2" >"$work/sbom-mods-$1" 2>"$work/sbom-mods-$1.err"; then
		fail "$1: $(cat "$work/sbom-mods-$1.err")"
		return
	fi
	# The SBOM's modules (not zonegate itself, not std) are the binary's.
	sed 1d "$work/sbom-mods-$1" | awk '$1 != "std" { print $1, $2 }' | sort >"$work/sbom-only-$1"
	if cmp -s "$work/mods-$1" "$work/sbom-only-$1"; then
		ok "$1: the SBOM lists the $(wc -l <"$work/mods-$1") modules of the Buildroot binary, same versions"
	else
		fail "$1: SBOM and binary differ: $(diff "$work/mods-$1" "$work/sbom-only-$1" | grep '^[<>]' | tr '\n' ' ')"
	fi
	if cmp -s "$2" "$3/usr/share/zonegate/zonegate.cdx.json"; then
		ok "$1: installs the SBOM as /usr/share/zonegate/zonegate.cdx.json"
	else
		fail "$1: /usr/share/zonegate/zonegate.cdx.json is not $2"
	fi
	# ZONEGATE_LICENSE: every licence of zonegate, its modules and std.
	found=$(awk '{ print $3 }' "$work/sbom-mods-$1" | tr ',' '\n' | sed '/^$/d' | sort -u)
	if [ "$found" = "$declared_licences" ]; then
		ok "$1: ZONEGATE_LICENSE is what the SBOM finds: $(echo "$found" | words)"
	else
		fail "$1: ZONEGATE_LICENSE says '$(echo "$declared_licences" | words)', the SBOM finds '$(echo "$found" | words)'"
	fi
	# ZONEGATE_LICENSE_FILES: for every module of the binary, each of its
	# licence and notice files in vendor/; nothing else but LICENSE.
	bad=""
	while read -r mod _; do
		n=0
		for f in "$src/vendor/$mod"/LICEN[CS]E* "$src/vendor/$mod"/COPYING* "$src/vendor/$mod"/NOTICE*; do
			[ -f "$f" ] || continue
			n=$((n + 1))
			f="vendor/$mod/${f##*/}"
			echo "$licence_files" | grep -qxF "$f" || bad="$bad $f(not declared)"
		done
		[ "$n" -gt 0 ] || bad="$bad $mod(no licence file in vendor/)"
	done <"$work/mods-$1"
	for f in $licence_files; do
		[ "$f" = LICENSE ] && continue
		mod=${f#vendor/}
		mod=${mod%/*}
		if ! awk '{ print $1 }' "$work/mods-$1" | grep -qxF "$mod"; then
			bad="$bad $f(not a module of the binary)"
		elif [ ! -f "$src/$f" ]; then
			bad="$bad $f(missing)"
		fi
	done
	if [ -z "$bad" ]; then
		ok "$1: ZONEGATE_LICENSE_FILES: LICENSE and the $(echo "$licence_files" | grep -c '^vendor/') licence and notice files of the binary's modules"
	else
		fail "$1: ZONEGATE_LICENSE_FILES:$bad"
	fi
}

echo "== buildroot build per architecture"
for arch in amd64 arm64 arm; do
	rm -f "$src/.stamp_built" "$src/.stamp_target_installed"
	rm -rf "${src:?}/bin"
	target="$work/target-$arch"
	log="$work/build-$arch.log"
	case $arch in
	arm) sbom="$work/dist/zonegate-linux-armv7.cdx.json" ;;
	*) sbom="$work/dist/zonegate-linux-$arch.cdx.json" ;;
	esac
	if sim SIM_ARCH="$arch" SIM_SRC="$src" SIM_TARGET="$target" \
		SIM_GOROOT="$goroot" SIM_GOPATH="$work/gopath" SIM_GOCACHE="$gocache" \
		SIM_HOME="$work/home" SIM_WRAP="$wrap" ZONEGATE_SBOM="$sbom" \
		build install >"$log" 2>&1; then
		ok "$arch: built offline and installed"
	else
		tail -20 "$log"
		fail "$arch: Buildroot build"
		continue
	fi
	bin="$target/usr/bin/zonegate"
	"$GO" version -m "$bin" >"$work/buildinfo-$arch"
	missing=""
	want_arm=""
	[ "$arch" = arm ] && want_arm="GOARM=7"
	for setting in CGO_ENABLED=0 GOARCH=$arch GOOS=linux -trimpath=true $want_arm; do
		grep -q "[[:space:]]$setting\$" "$work/buildinfo-$arch" ||
			missing="$missing $setting"
	done
	if grep -q 'vcs\.' "$work/buildinfo-$arch"; then missing="$missing (has vcs stamps)"; fi
	# Modules built from vendor/ carry no checksum in the build information.
	if ! awk '$1 == "dep" { n++; if (NF != 3) bad++ } END { exit !(n > 0 && !bad) }' \
		"$work/buildinfo-$arch"; then
		missing="$missing (dependencies not from vendor/)"
	fi
	if [ -n "$(find "$work/gopath/pkg/mod" -mindepth 1 -print -quit 2>/dev/null)" ]; then
		missing="$missing (the module cache was used)"
	fi
	if [ -z "$missing" ]; then
		ok "$arch: static build settings $(grep -o -E '(CGO_ENABLED|GOARCH|GOARM)=[^[:space:]]*' "$work/buildinfo-$arch" | tr '\n' ' ')"
	else
		fail "$arch: build settings lack:$missing"
	fi
	case $arch in
	amd64) run="" ;;
	arm64) run=qemu-aarch64-static ;;
	arm) run=qemu-arm-static ;;
	esac
	out=$($run "$bin" version 2>&1) || true
	case "$out" in
	"zonegate $version (commit $commit, linux/$arch"*)
		if [ "$arch" != arm ] || case "$out" in *GOARM=7*) true ;; *) false ;; esac; then
			ok "$arch: $out"
		else
			fail "$arch: version does not show GOARM=7: $out"
		fi
		;;
	*) fail "$arch: zonegate version said: $out" ;;
	esac
	size=$(wc -c <"$bin")
	echo "     $arch: /usr/bin/zonegate $size bytes (unstripped; Buildroot strips it)"
	missing=""
	for f in usr/bin/zonegate:755 etc/init.d/S45zonegate:755 \
		usr/lib/systemd/system/zonegate.service:644 etc/zonegate/zonegate.yaml:644 \
		etc/zonegate/example-factory.yaml:644 etc/zonegate/sysctl.conf:644 \
		etc/zonegate/tls/gw.crt:644 etc/zonegate/tls/gw.key:600 \
		etc/zonegate/tls/plant-ca.crt:644 etc/zonegate/tls/plant-ca.crl:644 \
		etc/default/zonegate:644 var/lib/zonegate:700; do
		mode=$(stat -c %a "$target/${f%:*}" 2>/dev/null || echo none)
		[ "$mode" = "${f#*:}" ] || missing="$missing /${f%:*} ($mode, want ${f#*:})"
	done
	if [ -z "$missing" ]; then ok "$arch: installs binary, start script, unit, /etc/zonegate, /var/lib/zonegate"; else fail "$arch: target files:$missing"; fi
	check_licences "$arch" "$sbom" "$target"
done

echo "== target filesystem"
target="$work/target-amd64"
if [ -x "$target/usr/bin/zonegate" ]; then
	# The board overlay goes on top of what the package installed.
	cp -a "$overlay/." "$target/"
	# The model that the installed settings name, relative to them.
	model=$(sed -n 's/^model:[[:space:]]*\([^[:space:]#]*\).*/\1/p' "$target/etc/zonegate/zonegate.yaml")
	case "$model" in
	/*) model="$target$model" ;;
	*) model="$target/etc/zonegate/$model" ;;
	esac
	if out=$("$target/usr/bin/zonegate" check "$model" 2>/dev/null); then
		ok "the model the settings name: ${out#"$target"}"
	else
		fail "the model the settings name ($model) is missing or invalid: $out"
	fi
	# The start script under BusyBox, in namespaces of its own.
	# (BusyBox must be static to run chrooted in the target.)
	if [ "$(id -u)" = 0 ] && command -v nft >/dev/null 2>&1 &&
		command -v busybox >/dev/null 2>&1 && ! ldd "$(command -v busybox)" >/dev/null 2>&1 &&
		unshare -m -n true 2>/dev/null; then
		if "$here/initscript-smoke.sh" "$target"; then
			ok "start script under BusyBox: start, reload, restart, stop, fail close"
		else
			fail "start script under BusyBox"
		fi
	else
		echo "     (start script not run: needs root, unshare, nft and a static busybox)"
	fi
	if command -v systemd-analyze >/dev/null 2>&1 && [ -d /lib/systemd/system ]; then
		cp /lib/systemd/system/*.target "$target/usr/lib/systemd/system/" 2>/dev/null || true
		for tool in bin/kill sbin/sysctl; do
			mkdir -p "$target/${tool%/*}"
			[ -e "$target/$tool" ] || { printf '#!/bin/sh\n' >"$target/$tool" && chmod 755 "$target/$tool"; }
		done
		if out=$(systemd-analyze verify --man=no --root="$target" zonegate.service 2>&1) && [ -z "$out" ]; then
			ok "systemd-analyze verify zonegate.service"
		else
			fail "systemd-analyze verify zonegate.service: $out"
		fi
		exposure=$(systemd-analyze security --offline=true --root="$target" zonegate.service 2>/dev/null |
			sed -n 's/.*Overall exposure level for zonegate.service: //p')
		[ -n "$exposure" ] && echo "     systemd-analyze security: exposure $exposure"
	else
		echo "     (systemd-analyze not installed: unit not verified by systemd)"
	fi
else
	fail "no amd64 target filesystem to check"
fi

echo "buildroot-check: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
