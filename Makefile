# zonegate build, test and benchmark entry points. Run as root on Debian:
# `make test` installs the system packages the tests need when they are missing.

GO        ?= go
MODULE    := github.com/zonegate/zonegate
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT    ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS   := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)
GOFLAGS_BUILD := -trimpath -ldflags '$(LDFLAGS)'
export CGO_ENABLED := 0

.PHONY: all build deps test go-test lint fuzz-short bench demo clean

all: build

build:
	$(GO) build $(GOFLAGS_BUILD) -o bin/zonegate ./cmd/zonegate

# deps installs the Debian packages the tests and the demo use.
deps:
	.ci/install-deps.sh

test: deps lint go-test fuzz-short

go-test:
	$(GO) test -count=1 ./...

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '^vendor/')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

fuzz-short:
	@true

bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 3x ./firewall/ ./test/bench/

clean:
	rm -rf bin dist
