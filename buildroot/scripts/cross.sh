#!/bin/sh
# cross.sh: static zonegate binaries for the gateway architectures, in
# $DIST (dist/), with their sizes and what `zonegate version` says (under
# qemu-user-static for arm64 and arm when it is installed). `make cross`
# calls it with GO, DIST and LDFLAGS (-s -w and the version stamp); `make
# sbom`, `make release` and `make reproducible` build through it too.
set -eu
GO=${GO:-go}
DIST=${DIST:-dist}
: "${LDFLAGS:?LDFLAGS must carry -X main.version=... -X main.commit=...}"

mkdir -p "$DIST"
# The binaries are reproducible: the same commit built with the same Go
# release gives the same bytes, in any directory, at any time, from a git
# clone or a tarball (`make reproducible` proves it). Hence -trimpath (no
# build directory), -buildid= (no build ID), -buildvcs=false (no VCS
# stamps: the version and commit come from LDFLAGS), and a fixed build
# environment rather than the caller's: GOFLAGS (build tags, -mod=vendor:
# the modules come from the module cache, verified against go.sum, so that
# their hashes are in the binary and its SBOM), the instruction set levels
# at their defaults, no GOEXPERIMENT.
# GOARCH[/GOARM] per target: x86 gateways, ARMv8 and ARMv7 (with VFP).
for target in amd64 arm64 arm/7; do
	arch=${target%/*}
	goarm=""
	[ "$arch" = "$target" ] || goarm=${target#*/}
	name="zonegate-linux-$arch${goarm:+v$goarm}"
	echo "build $DIST/$name (GOARCH=$arch${goarm:+ GOARM=$goarm})"
	env CGO_ENABLED=0 GOOS=linux GOARCH="$arch" ${goarm:+GOARM="$goarm"} \
		GOFLAGS=-mod=readonly GOAMD64=v1 GOARM64=v8.0 GOEXPERIMENT= GOWORK=off \
		"$GO" build -trimpath -buildvcs=false -ldflags "$LDFLAGS -buildid=" \
		-o "$DIST/$name" ./cmd/zonegate
done

echo
printf '%-28s %12s %9s  %s\n' binary bytes MiB "zonegate version"
for f in "$DIST"/zonegate-linux-amd64 "$DIST"/zonegate-linux-arm64 "$DIST"/zonegate-linux-armv7; do
	size=$(wc -c <"$f")
	case $f in
	*-amd64) run="" ;;
	*-arm64) run=qemu-aarch64-static ;;
	*-armv7) run=qemu-arm-static ;;
	esac
	if [ -z "$run" ] || command -v "$run" >/dev/null 2>&1; then
		says=$($run "$f" version 2>&1 || true)
	else
		says="($run not installed)"
	fi
	printf '%-28s %12d %9s  %s\n' "$f" "$size" \
		"$(awk -v s="$size" 'BEGIN { printf "%.2f", s / 1048576 }')" "$says"
done
