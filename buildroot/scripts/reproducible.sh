#!/bin/sh
# reproducible.sh: proves that the release binaries are reproducible
# (`make reproducible`, and buildroot/release's TestReproducibleBuilds).
#
# It copies the checkout twice (the files git knows plus untracked ones
# that are not ignored, i.e. the commit with any local edits, without
# .git), then runs `make cross` in each copy with the same VERSION and
# COMMIT: copy A in a short directory with the caller's Go build cache,
# copy B later, in a longer directory, with every file dated 2001-01-01, a
# fresh empty build cache (everything, the standard library included, is
# compiled again), another time zone, locale and umask. The SHA-256 of the
# amd64, arm64 and armv7 binaries must be equal.
#
# Environment: GO (go), MAKE (make), VERSION and COMMIT (required: make
# passes its own), KEEP=1 keeps the work directory, REPRO_SHARED_CACHE=1
# lets copy B use the caller's build cache too (faster, proves less).
set -eu
GO=${GO:-go}
MAKE=${MAKE:-make}
: "${VERSION:?VERSION must be set (make reproducible sets it)}"
: "${COMMIT:?COMMIT must be set (make reproducible sets it)}"
repo=$(cd "$(dirname "$0")/../.." && pwd)

if ! git -C "$repo" rev-parse --git-dir >/dev/null 2>&1; then
	echo "reproducible: $repo is not a git checkout (or git is missing): the sources to copy are the files git knows" >&2
	exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/zonegate-repro.XXXXXX")
cleanup() {
	if [ "${KEEP:-}" = 1 ]; then
		echo "reproducible: kept $work"
	else
		chmod -R u+w "$work" 2>/dev/null || true
		rm -rf "$work"
	fi
}
trap cleanup EXIT
trap 'exit 2' INT TERM

# copy DIR: the checkout's sources (tracked and untracked, not ignored).
copy() {
	mkdir -p "$1"
	(cd "$repo" && git -c core.quotePath=false ls-files --cached --others --exclude-standard |
		while IFS= read -r f; do if [ -e "$f" ]; then printf '%s\n' "$f"; fi; done |
		tar -cf - -T -) | tar -xf - -C "$1"
}

a="$work/a"
b="$work/build-b/a-longer-directory-name/zonegate"
copy "$a"
copy "$b"
find "$b" -exec touch -h -d '2001-01-01 00:00:00' {} +

echo "== build A in $a"
"$MAKE" -s --no-print-directory -C "$a" cross GO="$GO" DIST="$a/dist" VERSION="$VERSION" COMMIT="$COMMIT"
cache_b=$("$GO" env GOCACHE)
if [ "${REPRO_SHARED_CACHE:-}" != 1 ]; then
	cache_b="$work/gocache-b"
	mkdir -p "$cache_b"
fi
echo "== build B in $b (build cache $cache_b)"
(umask 077 && env GOCACHE="$cache_b" TZ=Asia/Tokyo LC_ALL=C \
	"$MAKE" -s --no-print-directory -C "$b" cross GO="$GO" DIST="$b/dist" VERSION="$VERSION" COMMIT="$COMMIT")

echo
printf '%-22s %-64s %s\n' binary "SHA-256 (build A)" "build B"
differ=0
for name in zonegate-linux-amd64 zonegate-linux-arm64 zonegate-linux-armv7; do
	sa=$(sha256sum "$a/dist/$name" | cut -d' ' -f1)
	sb=$(sha256sum "$b/dist/$name" | cut -d' ' -f1)
	if [ "$sa" = "$sb" ]; then
		printf '%-22s %-64s %s\n' "$name" "$sa" same
	else
		printf '%-22s %-64s %s\n' "$name" "$sa" "DIFFERS: $sb"
		"$GO" version -m "$a/dist/$name" >"$work/$name.a.txt" 2>&1 || true
		"$GO" version -m "$b/dist/$name" >"$work/$name.b.txt" 2>&1 || true
		diff "$work/$name.a.txt" "$work/$name.b.txt" || true
		differ=1
	fi
done
if [ "$differ" = 1 ]; then
	echo "reproducible: FAIL: the builds differ (KEEP=1 keeps them for diffoscope)"
	exit 1
fi
echo "reproducible: ok: two builds of $VERSION ($COMMIT) with $("$GO" env GOVERSION) are byte-identical for amd64, arm64 and armv7"
