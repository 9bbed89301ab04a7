# zonegate build, test and benchmark entry points. Run as root on Debian:
# `make test` installs the system packages the tests need when they are missing.

GO        ?= go
MODULE    := github.com/zonegate/zonegate
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT    ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS   := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)
GOFLAGS_BUILD := -trimpath -ldflags '$(LDFLAGS)'
export CGO_ENABLED := 0

.PHONY: all build deps deps-check test go-test lint fuzz-short bench demo clean

all: build

build:
	$(GO) build $(GOFLAGS_BUILD) -o bin/zonegate ./cmd/zonegate

# deps installs the Debian packages the tests and the demo use (including
# the ones they only recommend), then checks each the way the tests use it
# and fails naming the missing package. `make deps-check` only checks.
deps:
	.ci/install-deps.sh

deps-check:
	.ci/install-deps.sh --check

test: deps lint go-test fuzz-short

# go-test runs every Go test through test/testreport, which prints one line
# per package, the output of failed tests, every skip with its reason and a
# closing "tests: N passed, N failed, N skipped". As root with every
# prerequisite installed (.ci/install-deps.sh --check), a skip in the
# packages of NO_SKIPS fails the run: there a skip can only mean that a test
# could not do its job. Otherwise skips are listed and allowed.
NO_SKIPS := ^github.com/zonegate/zonegate/(firewall|protocols|gateway|test)(/|$$)
go-test:
	@mkdir -p bin && $(GO) build -o bin/testreport ./test/testreport
	@strict=''; \
	if [ "$$(id -u)" = 0 ] && .ci/install-deps.sh --check >/dev/null 2>&1; then strict='$(NO_SKIPS)'; \
	else echo "go-test: not root, or a prerequisite is missing (.ci/install-deps.sh --check): skips are allowed in this run"; fi; \
	bash -o pipefail -c '$(GO) test -count=1 -json ./... 2>&1 | bin/testreport -no-skips "$$1"' go-test "$$strict"

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '^vendor/')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

# fuzz-short: a short coverage-guided run of each fuzz target (the seed
# corpora run in go-test already): the Modbus framer and checks, the Modbus
# codec of the proxy engine, the OPC UA conversation, the zone model loader,
# the role extension of Modbus/TCP Security. FUZZTIME=5m for a
# longer hunt.
FUZZTIME ?= 15s
fuzz-short:
	$(GO) test -run '^$$' -fuzz '^FuzzFramerAndCheck$$' -fuzztime $(FUZZTIME) ./protocols/modbus/
	$(GO) test -run '^$$' -fuzz '^FuzzSession$$' -fuzztime $(FUZZTIME) ./protocols/modbustcp/
	$(GO) test -run '^$$' -fuzz '^FuzzConversation$$' -fuzztime $(FUZZTIME) ./protocols/opcua/
	$(GO) test -run '^$$' -fuzz '^FuzzLoad$$' -fuzztime $(FUZZTIME) ./gateway/zone/
	$(GO) test -run '^$$' -fuzz '^FuzzRole$$' -fuzztime $(FUZZTIME) ./protocols/modbustls/

bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 3x ./firewall/ ./test/bench/

# demo is the README's first command (as root): build, bring up the example
# factory as a namespace lab, run zonegate in it (with its web console), probe
# it, print the matrix and the console's URL and fingerprint, tear down. See
# test/demo.sh for MODEL, PREFIX, PROBE_FLAGS and KEEP=1.
demo:
	GO=$(GO) test/demo.sh

clean:
	rm -rf bin dist

# --- Cross builds and the Buildroot br2-external tree (buildroot/README.md) ---

DIST       ?= dist
VENDOR_DIR ?= vendor

.PHONY: cross vendor buildroot-check test-arm64

# cross: static binaries for linux/amd64, linux/arm64 and linux/arm (GOARM=7)
# in dist/, with their sizes and what `zonegate version` says.
cross:
	@GO='$(GO)' DIST='$(DIST)' LDFLAGS='$(LDFLAGS)' buildroot/scripts/cross.sh

# vendor: copy the Go modules into vendor/ (gitignored). Buildroot builds Go
# packages with -mod=vendor and GOPROXY=off, and does not vendor a local
# package for you: run this before building the zonegate package, and again
# after go.mod changes. While vendor/ exists, go commands in this tree use it.
vendor:
	$(GO) mod vendor -o $(VENDOR_DIR)

# buildroot-check: lint the br2-external tree and simulate its Buildroot
# build for amd64, arm64 and arm, offline (buildroot/scripts/check.sh).
buildroot-check:
	@GO='$(GO)' MAKE='$(MAKE)' buildroot/scripts/check.sh

# test-arm64: the unit tests as arm64 binaries under qemu-aarch64-static.
test-arm64:
	@GO='$(GO)' buildroot/scripts/test-arm64.sh

test: buildroot-check test-arm64

# --- Modbus proxy load benchmark (test/bench/modbus) ---

.PHONY: bench-modbus

# bench-modbus (as root for api and gc): bin/zonegate's Modbus data path and
# daemon under load, against baselines measured in the same run. Scenarios
# (-scenario, default all): cpu and onecpu (CPU per request of `zonegate
# modbus-proxy` vs HAProxy in TCP mode and a plain Go relay at 1/16/64
# clients, interleaved slices; onecpu with every proxy on one CPU), share
# (64 clients sharing one device connection vs one device connection each:
# CPU per request and p99 as ratios), api (the
# daemon in a namespace lab on one CPU, saturated: status calls vs a plain Go
# HTTP server on the same CPU, one push), gc (gctrace stop-the-world pauses
# under load), churn (threads and fds around 20,000 short connections),
# memory (RSS with 1,000 idle connections); then the goals, PASS or MISS.
# Add flags with BENCH_MODBUS_FLAGS, e.g. "-scenario cpu,api -v" or
# "-zonegate-baseline /tmp/main/bin/zonegate" to compare two builds.
bench-modbus: build
	$(GO) run ./test/bench/modbus -zonegate bin/zonegate $(BENCH_MODBUS_FLAGS)

# --- OPC UA proxy benchmark (test/bench/opcua) ---

.PHONY: bench-opcua

# bench-opcua: a gopcua client reading 100 nodes per request over a
# Basic256Sha256 Sign channel through the OPC UA proxy (its own process,
# full inspection) and directly, in alternating slices of one run: added
# latency p50/p99 as ratios to direct, the proxy's CPU per request and its
# ratio to the client's and server's. BENCH_OPCUA_N reads per path.
BENCH_OPCUA_N ?= 3000
bench-opcua:
	$(GO) test -run '^$$' -bench OPCUAGateway -benchtime $(BENCH_OPCUA_N)x -v ./test/bench/opcua/

# --- Modbus/TCP Security benchmark (test/bench/modbustls) ---

.PHONY: bench-modbus-tls

# bench-modbus-tls: Modbus/TCP Security through the TLS front end and the
# Modbus proxy (own process) against plain Modbus/TCP through the same
# proxy, alternating slices of one run: connections per second with a
# handshake each, and the proxy's CPU per request and latency of a
# long-lived session, as TLS/plain ratios (README "Modbus/TCP Security").
BENCH_MODBUS_TLS_N ?= 6000
bench-modbus-tls:
	$(GO) test -run '^$$' -bench ModbusTLSGateway -benchtime $(BENCH_MODBUS_TLS_N)x -v ./test/bench/modbustls/

# --- Large-model apply benchmark (test/bench/apply) ---

.PHONY: bench-apply

# bench-apply (as root): on a generated model of 200 zones and 10,000
# conduits, `nft -f` of its plan vs `zonegate apply` (bin/zonegate, YAML to
# a verified table) into the same empty namespace, in alternating rounds;
# also re-apply unchanged, apply with one conduit changed, plan and check.
# Prints medians, ratios to nft -f and peak RSS. The program holds
# /tmp/zonegate-netns.lock while it uses namespaces. Add flags with
# BENCH_APPLY_FLAGS, e.g. "-rounds 9 -v".
bench-apply: build
	$(GO) run ./test/bench/apply -zonegate bin/zonegate $(BENCH_APPLY_FLAGS)

# --- Supply chain: SBOMs, checksums, reproducible builds, vulnerabilities ---
# (README "Releases and supply chain"). The pinned tools live in modules of
# their own under the release side of the tree, never in zonegate's go.mod:
# buildroot/release (cyclonedx-gomod v1.10.0, the SBOM driver and the
# release tests) and buildroot/release/govulncheck (govulncheck).

RELEASE_DIR   := buildroot/release
VULNCHECK_DIR := $(RELEASE_DIR)/govulncheck
RELEASE_BINS   = $(addprefix $(abspath $(DIST))/zonegate-linux-,amd64 arm64 armv7)

.PHONY: sbom checksums release reproducible vulncheck release-test release-vet

# sbom: the three release binaries (make cross: reproducible, stamped with
# VERSION and COMMIT) and next to each its CycloneDX 1.6 SBOM,
# dist/zonegate-linux-ARCH.cdx.json, checked before it is written.
sbom: cross
	cd $(RELEASE_DIR) && $(GO) run ./cmd/zonegate-sbom -go '$(GO)' -version '$(VERSION)' -repo '$(CURDIR)' $(RELEASE_BINS)

# checksums: dist/SHA256SUMS of the binaries and their SBOMs.
checksums:
	cd $(DIST) && sha256sum zonegate-linux-amd64 zonegate-linux-arm64 zonegate-linux-armv7 \
		zonegate-linux-amd64.cdx.json zonegate-linux-arm64.cdx.json zonegate-linux-armv7.cdx.json >SHA256SUMS
	@cat $(DIST)/SHA256SUMS

# release: binaries, SBOMs and checksums in dist/ (the README's checklist).
release: sbom
	@$(MAKE) --no-print-directory checksums DIST='$(DIST)'

# reproducible: build the three binaries twice from copies of this checkout
# (other directory, later, fresh build cache, other file dates) and compare
# their SHA-256 (buildroot/scripts/reproducible.sh).
reproducible:
	@GO='$(GO)' MAKE='$(MAKE)' VERSION='$(VERSION)' COMMIT='$(COMMIT)' buildroot/scripts/reproducible.sh

# vulncheck VULNDB=DIR: govulncheck of every package against a copy of the
# Go vulnerability database in DIR (offline); fails when a vulnerable
# function is reachable from zonegate's code. VULNCHECK_FLAGS adds flags,
# e.g. "-show verbose" or "-mode binary dist/zonegate-linux-arm64".
VULNDB ?=
VULNCHECK_FLAGS ?=
VULNCHECK_TARGET ?= ./...
vulncheck:
	@if [ -z '$(VULNDB)' ]; then echo 'make vulncheck VULNDB=DIR: DIR is a copy of the Go vulnerability database (README: Vulnerability check)' >&2; exit 2; fi
	@if [ ! -d '$(VULNDB)' ]; then echo 'make vulncheck: VULNDB=$(VULNDB) is not a directory' >&2; exit 2; fi
	cd $(VULNCHECK_DIR) && $(GO) tool govulncheck -db 'file://$(abspath $(VULNDB))' -C '$(CURDIR)' $(VULNCHECK_FLAGS) $(VULNCHECK_TARGET)

# image-sbom: put zonegate's Go modules into a firmware image's SBOM, e.g.
# Buildroot's (buildroot/README.md), offline once `make sbom` has run here:
#   make image-sbom IMAGE_SBOM=image.cdx.json ZONEGATE_SBOM=zonegate.cdx.json OUT=full.cdx.json
# IMAGE_SBOM_REF is zonegate's bom-ref there (Buildroot: the package name),
# IMAGE_SBOM_URL where the image keeps zonegate's SBOM.
IMAGE_SBOM_REF ?= zonegate
IMAGE_SBOM_URL ?= file:///usr/share/zonegate/zonegate.cdx.json
.PHONY: image-sbom
image-sbom:
	@if [ -z '$(IMAGE_SBOM)' ] || [ -z '$(ZONEGATE_SBOM)' ] || [ -z '$(OUT)' ]; then \
		echo 'make image-sbom IMAGE_SBOM=FILE ZONEGATE_SBOM=FILE OUT=FILE' >&2; exit 2; fi
	cd $(RELEASE_DIR) && $(GO) run ./cmd/zonegate-sbom merge -image '$(abspath $(IMAGE_SBOM))' \
		-ref '$(IMAGE_SBOM_REF)' -url '$(IMAGE_SBOM_URL)' -o '$(abspath $(OUT))' '$(abspath $(ZONEGATE_SBOM))'

# release-test: the tests of the release module, buildroot/release (SBOM
# checks; make release, reproducible, image-sbom and vulncheck end to end),
# reported like go-test. They skip nothing.
release-test:
	@mkdir -p bin && $(GO) build -o bin/testreport ./test/testreport
	@bash -o pipefail -c 'cd $(RELEASE_DIR) && $(GO) test -count=1 -timeout 30m -json ./... 2>&1 | $(CURDIR)/bin/testreport -no-skips .'

# release-vet: go vet of the release module (part of make lint).
release-vet:
	cd $(RELEASE_DIR) && $(GO) vet ./...

lint: release-vet
test: release-test

# --- The web console in a real browser (test/e2e/browser) ---
# A module of its own: chromedp v0.23.1 needs Go 1.25, zonegate's go.mod
# stays at 1.24, and nothing of it reaches the firmware binary. As root with
# Debian's chromium (.ci/install-deps.sh); screenshots of every page go to
# test/e2e/browser/artefacts/ (BROWSER_ARTEFACTS=DIR elsewhere).

BROWSER_DIR := test/e2e/browser

.PHONY: browser-test browser-vet browser-screenshots

browser-test:
	@mkdir -p bin && $(GO) build -o bin/testreport ./test/testreport
	@strict=''; \
	if [ "$$(id -u)" = 0 ] && .ci/install-deps.sh --check >/dev/null 2>&1; then strict='$(NO_SKIPS)'; fi; \
	bash -o pipefail -c 'cd $(BROWSER_DIR) && $(GO) test -count=1 -timeout 15m -json ./... 2>&1 | ../../../bin/testreport -no-skips "$$1"' browser-test "$$strict"

browser-vet:
	cd $(BROWSER_DIR) && $(GO) vet ./...

# browser-screenshots: run the browser tests and copy the README's pictures
# (overview with a pending change, drawing, events) to test/e2e/browser/screenshots/.
browser-screenshots:
	@dir=$$(mktemp -d) && cd $(BROWSER_DIR) && BROWSER_ARTEFACTS=$$dir $(GO) test -count=1 -timeout 15m -run TestConsoleInBrowser . && \
	cp $$dir/overview-pending.png screenshots/overview.png && cp $$dir/drawing.png $$dir/events.png screenshots/ && rm -r $$dir

lint: browser-vet
test: browser-test
