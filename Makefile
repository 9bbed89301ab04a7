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
# codec of the proxy engine, the zone model loader. FUZZTIME=5m for a
# longer hunt.
FUZZTIME ?= 15s
fuzz-short:
	$(GO) test -run '^$$' -fuzz '^FuzzFramerAndCheck$$' -fuzztime $(FUZZTIME) ./protocols/modbus/
	$(GO) test -run '^$$' -fuzz '^FuzzSession$$' -fuzztime $(FUZZTIME) ./protocols/modbustcp/
	$(GO) test -run '^$$' -fuzz '^FuzzLoad$$' -fuzztime $(FUZZTIME) ./gateway/zone/

bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 3x ./firewall/ ./test/bench/

# demo is the README's first command (as root): build, bring up the example
# factory as a namespace lab, run zonegate in it, probe it, print the matrix,
# tear down. See test/demo.sh for MODEL, PREFIX and PROBE_FLAGS.
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

# bench-modbus: on loopback, a fast Modbus/TCP server read directly, through
# `zonegate modbus-proxy` (bin/zonegate) and through HAProxy in TCP mode, at
# 1, 16 and 64 clients (medians of rounds whose paths run in interleaved
# slices: req/s, p50, p99, proxy CPU per request, ratios), then the proxy's
# RSS with 1,000 idle client connections. Add flags with BENCH_MODBUS_FLAGS, e.g. "-rounds 5 -pin -v".
bench-modbus: build
	$(GO) run ./test/bench/modbus -zonegate bin/zonegate $(BENCH_MODBUS_FLAGS)

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
