################################################################################
#
# zonegate
#
################################################################################

# zonegate is built from the repository that holds this br2-external tree.
# A local package is not downloaded, so Buildroot cannot vendor its Go
# modules: run `make vendor` in the repository first (see README.md).
ZONEGATE_SITE = $(BR2_EXTERNAL_ZONEGATE_PATH)/..
ZONEGATE_SITE_METHOD = local
ZONEGATE_OVERRIDE_SRCDIR_RSYNC_EXCLUSIONS = --exclude /bin --exclude /dist

# Version and commit of that checkout ("custom" and "unknown" without git);
# override on the command line, e.g. make ZONEGATE_VERSION=1.2.0.
ZONEGATE_VERSION := $(shell git -C $(ZONEGATE_SITE) describe --tags --always --dirty 2>/dev/null || echo custom)
ZONEGATE_COMMIT := $(shell git -C $(ZONEGATE_SITE) rev-parse --short HEAD 2>/dev/null || echo unknown)

# zonegate is Apache-2.0; the Go modules compiled into it are Apache-2.0,
# BSD-3-Clause or MIT. The licence files are zonegate's and, from vendor/
# (make vendor), those of every module of the binary (go version -m), with
# the NOTICE files that Apache-2.0 asks to pass on. `make sbom` lists the
# licence of each module; scripts/check.sh checks both lists against the
# binary and its SBOM for amd64, arm64 and arm.
ZONEGATE_LICENSE = Apache-2.0, BSD-3-Clause, MIT
ZONEGATE_LICENSE_FILES = \
	LICENSE \
	vendor/github.com/beorn7/perks/LICENSE \
	vendor/github.com/cespare/xxhash/v2/LICENSE.txt \
	vendor/github.com/florianl/go-nflog/v2/LICENSE \
	vendor/github.com/google/nftables/LICENSE \
	vendor/github.com/mdlayher/netlink/LICENSE.md \
	vendor/github.com/mdlayher/socket/LICENSE.md \
	vendor/github.com/munnerz/goautoneg/LICENSE \
	vendor/github.com/prometheus/client_golang/LICENSE \
	vendor/github.com/prometheus/client_golang/NOTICE \
	vendor/github.com/prometheus/client_model/LICENSE \
	vendor/github.com/prometheus/client_model/NOTICE \
	vendor/github.com/prometheus/common/LICENSE \
	vendor/github.com/prometheus/common/NOTICE \
	vendor/github.com/prometheus/procfs/LICENSE \
	vendor/github.com/prometheus/procfs/NOTICE \
	vendor/github.com/spf13/cobra/LICENSE.txt \
	vendor/github.com/spf13/pflag/LICENSE \
	vendor/github.com/vishvananda/netlink/LICENSE \
	vendor/github.com/vishvananda/netns/LICENSE \
	vendor/go.uber.org/multierr/LICENSE.txt \
	vendor/go.uber.org/zap/LICENSE \
	vendor/go.yaml.in/yaml/v2/LICENSE \
	vendor/go.yaml.in/yaml/v2/LICENSE.libyaml \
	vendor/go.yaml.in/yaml/v2/NOTICE \
	vendor/go.yaml.in/yaml/v3/LICENSE \
	vendor/go.yaml.in/yaml/v3/NOTICE \
	vendor/golang.org/x/crypto/LICENSE \
	vendor/golang.org/x/net/LICENSE \
	vendor/golang.org/x/sync/LICENSE \
	vendor/golang.org/x/sys/LICENSE \
	vendor/google.golang.org/protobuf/LICENSE

ZONEGATE_GOMOD = github.com/zonegate/zonegate
ZONEGATE_BUILD_TARGETS = cmd/zonegate
ZONEGATE_GO_ENV = CGO_ENABLED=0
ZONEGATE_LDFLAGS = \
	-X main.version=$(ZONEGATE_VERSION) \
	-X main.commit=$(ZONEGATE_COMMIT)

# The daemon settings, the zone model they name (the example factory) with
# the TLS files of its Modbus/TCP Security conduit (demo material from
# configs/tls: its key is public, and the CA's key is not installed), the
# service settings and the sysctl settings that the service applies once
# the ruleset is in the kernel (forwarding on). Board overlays replace any
# of them: a real plant's model comes with its own certificates.
define ZONEGATE_INSTALL_CONFIG
	$(INSTALL) -D -m 0644 $(@D)/configs/zonegate.yaml \
		$(TARGET_DIR)/etc/zonegate/zonegate.yaml
	$(INSTALL) -D -m 0644 $(@D)/configs/example-factory.yaml \
		$(TARGET_DIR)/etc/zonegate/example-factory.yaml
	$(INSTALL) -D -m 0644 $(@D)/configs/tls/gw.crt \
		$(TARGET_DIR)/etc/zonegate/tls/gw.crt
	$(INSTALL) -D -m 0600 $(@D)/configs/tls/gw.key \
		$(TARGET_DIR)/etc/zonegate/tls/gw.key
	$(INSTALL) -D -m 0644 $(@D)/configs/tls/plant-ca.crt \
		$(TARGET_DIR)/etc/zonegate/tls/plant-ca.crt
	$(INSTALL) -D -m 0644 $(@D)/configs/tls/plant-ca.crl \
		$(TARGET_DIR)/etc/zonegate/tls/plant-ca.crl
	$(INSTALL) -D -m 0644 $(ZONEGATE_PKGDIR)/sysctl.conf \
		$(TARGET_DIR)/etc/zonegate/sysctl.conf
	$(INSTALL) -D -m 0644 $(ZONEGATE_PKGDIR)/zonegate.default \
		$(TARGET_DIR)/etc/default/zonegate
	$(INSTALL) -d -m 0700 $(TARGET_DIR)/var/lib/zonegate
endef
ZONEGATE_POST_INSTALL_TARGET_HOOKS += ZONEGATE_INSTALL_CONFIG

# The CycloneDX SBOM of zonegate and its Go modules for this architecture,
# written by `make sbom` in the repository: installed as
# /usr/share/zonegate/zonegate.cdx.json when it is there (README.md: the
# image's SBOM). Its modules are those of this package's binary (check.sh
# compares them); its binary hash is that of the release build. Set
# ZONEGATE_SBOM to another file, or to nothing to install none.
ZONEGATE_SBOM_ARCH = $(GO_GOARCH)$(if $(GO_GOARM),v$(GO_GOARM))
ZONEGATE_SBOM = $(ZONEGATE_SITE)/dist/zonegate-linux-$(ZONEGATE_SBOM_ARCH).cdx.json
define ZONEGATE_INSTALL_SBOM
	$(if $(wildcard $(ZONEGATE_SBOM)),\
		$(INSTALL) -D -m 0644 $(ZONEGATE_SBOM) \
			$(TARGET_DIR)/usr/share/zonegate/zonegate.cdx.json,\
		@echo "zonegate: no SBOM $(ZONEGATE_SBOM) (make sbom in the zonegate repository writes it); none installed")
endef
ZONEGATE_POST_INSTALL_TARGET_HOOKS += ZONEGATE_INSTALL_SBOM

define ZONEGATE_PERMISSIONS
	/var/lib/zonegate d 700 0 0 - - - - -
endef

define ZONEGATE_INSTALL_INIT_SYSV
	$(INSTALL) -D -m 0755 $(ZONEGATE_PKGDIR)/S45zonegate \
		$(TARGET_DIR)/etc/init.d/S45zonegate
endef

define ZONEGATE_INSTALL_INIT_SYSTEMD
	$(INSTALL) -D -m 0644 $(ZONEGATE_PKGDIR)/zonegate.service \
		$(TARGET_DIR)/usr/lib/systemd/system/zonegate.service
endef

# Keep in sync with board/zonegate/linux.fragment (check.sh verifies it).
define ZONEGATE_LINUX_CONFIG_FIXUPS
	$(call KCONFIG_ENABLE_OPT,CONFIG_NAMESPACES)
	$(call KCONFIG_ENABLE_OPT,CONFIG_NET_NS)
	$(call KCONFIG_ENABLE_OPT,CONFIG_INET)
	$(call KCONFIG_ENABLE_OPT,CONFIG_IPV6)
	$(call KCONFIG_ENABLE_OPT,CONFIG_NETFILTER)
	$(call KCONFIG_ENABLE_OPT,CONFIG_NETFILTER_ADVANCED)
	$(call KCONFIG_ENABLE_OPT,CONFIG_NETFILTER_NETLINK_LOG)
	$(call KCONFIG_ENABLE_OPT,CONFIG_NF_CONNTRACK)
	$(call KCONFIG_ENABLE_OPT,CONFIG_NF_CT_NETLINK)
	$(call KCONFIG_ENABLE_OPT,CONFIG_NF_NAT)
	$(call KCONFIG_ENABLE_OPT,CONFIG_NF_LOG_SYSLOG)
	$(call KCONFIG_ENABLE_OPT,CONFIG_NF_TABLES)
	$(call KCONFIG_ENABLE_OPT,CONFIG_NF_TABLES_INET)
	$(call KCONFIG_ENABLE_OPT,CONFIG_NF_TABLES_IPV4)
	$(call KCONFIG_ENABLE_OPT,CONFIG_NF_TABLES_IPV6)
	$(call KCONFIG_ENABLE_OPT,CONFIG_NFT_CT)
	$(call KCONFIG_ENABLE_OPT,CONFIG_NFT_NAT)
	$(call KCONFIG_ENABLE_OPT,CONFIG_NFT_REDIR)
	$(call KCONFIG_ENABLE_OPT,CONFIG_NFT_LIMIT)
	$(call KCONFIG_ENABLE_OPT,CONFIG_NFT_LOG)
	$(call KCONFIG_ENABLE_OPT,CONFIG_NFT_REJECT)
	$(call KCONFIG_ENABLE_OPT,CONFIG_BRIDGE)
	$(call KCONFIG_ENABLE_OPT,CONFIG_VLAN_8021Q)
	$(call KCONFIG_ENABLE_OPT,CONFIG_VETH)
endef

$(eval $(golang-package))
