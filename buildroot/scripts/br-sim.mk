# br-sim.mk: a stand-in for the parts of Buildroot that package/zonegate/
# zonegate.mk uses, so that check.sh can evaluate that file and build and
# install the package the way Buildroot (2025.11 or later) does, without a
# Buildroot tree. It re-implements, for one package, what
# package/pkg-golang.mk and package/go/go.mk do: the same variables, the
# same Go environment, the same `go build` command line.
#
#   make -f br-sim.mk BR2_EXTERNAL_ZONEGATE_PATH=DIR [SIM_* ...] TARGET
#
# TARGET: print-VAR | fixups | build | install
#   SIM_ARCH    amd64 | arm64 | arm (ARMv7 with VFP, GOARM=7)
#   SIM_SRC     the package build directory, $(@D) (rsynced sources)
#   SIM_TARGET  the target directory, $(TARGET_DIR)
#   SIM_GOROOT, SIM_GOPATH, SIM_GOCACHE, SIM_HOME  the Go host tree
#   SIM_WRAP    a command to run `go build` under (check.sh: unshare -n)

ifeq ($(BR2_EXTERNAL_ZONEGATE_PATH),)
$(error BR2_EXTERNAL_ZONEGATE_PATH is not set)
endif

SIM_ARCH ?= amd64
SIM_GOROOT ?= $(shell go env GOROOT)

# Generic helpers of Buildroot that zonegate.mk relies on.
pkgdir = $(dir $(lastword $(MAKEFILE_LIST)))
pkgname = $(lastword $(subst /, ,$(pkgdir)))
UPPERCASE = $(shell echo '$(1)' | tr 'a-z-' 'A-Z_')
INSTALL = install
TARGET_DIR = $(SIM_TARGET)
PARALLEL_JOBS := $(shell nproc 2>/dev/null || echo 1)
# Linux configuration fixups print the line they would put in .config.
KCONFIG_ENABLE_OPT = echo '$(strip $(1))=y'
KCONFIG_SET_OPT = echo '$(strip $(1))=$(strip $(2))'
KCONFIG_DISABLE_OPT = echo '\# $(strip $(1)) is not set'

# Go host environment (package/go/go.mk). HOST_GO_CGO_ENABLED is 1 as with
# any toolchain that can link cgo: the package must turn cgo off itself.
# CC is false, so any attempt to use a C compiler fails the build.
HOST_GO_ROOT = $(SIM_GOROOT)
HOST_GO_GOPATH = $(SIM_GOPATH)
HOST_GO_TARGET_CACHE = $(SIM_GOCACHE)
HOST_GO_CGO_ENABLED = 1
GO_BIN = $(HOST_GO_ROOT)/bin/go
ifeq ($(SIM_ARCH),arm)
GO_GOARCH = arm
GO_GOARM = 7
else ifeq ($(SIM_ARCH),arm64)
GO_GOARCH = arm64
BR2_aarch64 = y
else ifeq ($(SIM_ARCH),amd64)
GO_GOARCH = amd64
else
$(error SIM_ARCH must be amd64, arm64 or arm)
endif
HOST_GO_COMMON_ENV = \
	GO111MODULE=on \
	GOFLAGS=-mod=vendor \
	GOROOT="$(HOST_GO_ROOT)" \
	GOPATH="$(HOST_GO_GOPATH)" \
	GOCACHE="$(HOST_GO_TARGET_CACHE)" \
	GOMODCACHE="$(HOST_GO_GOPATH)/pkg/mod" \
	GOPROXY=off \
	GOTOOLCHAIN=local \
	PATH="$(PATH)" \
	GOBIN= \
	CGO_ENABLED=$(HOST_GO_CGO_ENABLED)
HOST_GO_TARGET_ENV = \
	$(HOST_GO_COMMON_ENV) \
	GOOS="linux" \
	GOARCH=$(GO_GOARCH) \
	$(if $(GO_GOARM),GOARM=$(GO_GOARM)) \
	CC=false \
	CXX=false \
	CGO_LDFLAGS= \
	CGO_CFLAGS= \
	CGO_CXXFLAGS= \
	GOTOOLDIR="$(HOST_GO_ROOT)/pkg/tool/linux_$(GO_GOARCH)"

# golang-package: records the package and refuses what the real
# infrastructure refuses.
define sim-golang-package
$(2)_PKGDIR = $(pkgdir)
SIM_PKG = $(2)
ifneq ($$($(2)_INSTALL_BINS),)
$$(error Package $(1) sets $(2)_INSTALL_BINS, which is no longer supported)
endif
ifeq ($$($(2)_GOMOD),)
$$(error Package $(1) must set $(2)_GOMOD: a local site gives no module path)
endif
$(2)_BUILD_TARGETS ?= .
endef
golang-package = $(call sim-golang-package,$(pkgname),$(call UPPERCASE,$(pkgname)))

include $(BR2_EXTERNAL_ZONEGATE_PATH)/external.mk

P = $(SIM_PKG)

# What pkg-golang.mk adds to the package's flags for a target build.
ifeq ($(BR2_aarch64),y)
$(P)_EXTLDFLAGS += -fuse-ld=bfd
endif
ifneq ($($(P)_EXTLDFLAGS),)
$(P)_LDFLAGS += -extldflags '$($(P)_EXTLDFLAGS)'
endif
$(P)_BUILD_OPTS += \
	-ldflags "$($(P)_LDFLAGS)" \
	-modcacherw \
	-tags "$($(P)_TAGS)" \
	-trimpath \
	-p $(PARALLEL_JOBS) \
	-buildvcs=false

define sep


endef

.PHONY: fixups build install print-%

print-%:
	@: $(info $($*))

fixups:
	@$($(P)_LINUX_CONFIG_FIXUPS)

build: $(SIM_SRC)/.stamp_built
install: $(SIM_SRC)/.stamp_target_installed

# $(@D) is the package build directory, as in Buildroot.
$(SIM_SRC)/.stamp_built:
	$(foreach d,$($(P)_BUILD_TARGETS),\
		cd $(@D)/$($(P)_SUBDIR) && \
		$(SIM_WRAP) env -i HOME="$(SIM_HOME)" $(HOST_GO_TARGET_ENV) \
			$($(P)_GO_ENV) \
			$(GO_BIN) build -v $($(P)_BUILD_OPTS) \
			-o $(@D)/bin/$(or $($(P)_BIN_NAME),$(notdir $(d))) \
			$($(P)_GOMOD)/$(d)$(sep))

$(SIM_SRC)/.stamp_target_installed:
	mkdir -p $(TARGET_DIR)
	$(if $($(P)_INSTALL_TARGET_CMDS),$($(P)_INSTALL_TARGET_CMDS),\
		$(foreach d,$(or $($(P)_BIN_NAME),$(notdir $($(P)_BUILD_TARGETS))),\
			$(INSTALL) -D -m 0755 $(@D)/bin/$(d) $(TARGET_DIR)/usr/bin/$(d)$(sep)))
	$(foreach h,$($(P)_POST_INSTALL_TARGET_HOOKS),$($(h))$(sep))
	$($(P)_INSTALL_INIT_SYSV)
	$($(P)_INSTALL_INIT_SYSTEMD)
