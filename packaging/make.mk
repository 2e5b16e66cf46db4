# packaging: the installers. `make packages` → dist/ (see packaging/README.md).
# Included by the root Makefile. packaging/ is its own Go module so that nfpm and
# cyclonedx-gomod never change the versions of what ghostwire itself is built with;
# its targets therefore run `go` from inside packaging/.

# lintian checks the .deb; rpm reads the .rpm back; desktop-file-utils validates the
# desktop entries; systemd gives systemd-analyze (verify, security) even where it
# does not run; shellcheck reads the maintainer scripts; passwd has groupadd and
# useradd; dbus-daemon gives the link test a private session bus.
APT_PACKAGES += lintian rpm rpm2cpio cpio desktop-file-utils systemd shellcheck passwd dbus-daemon
SYSTEM_TEST_TARGETS += test-packaging-system

PKG_GO := cd $(CURDIR)/packaging && $(GO)
DIST ?= $(CURDIR)/dist

.PHONY: packages packages-check packages-version test-packaging-unit test-packaging-system vet-packaging

## packages: every installer this machine can build → dist/ (+ SHA256SUMS, CycloneDX SBOMs, manifest.json)
packages:
	$(PKG_GO) run ./cmd/packages -dist $(DIST)

## packages-check: refuse to publish dist/ unless it is a release (tag, clean tree, every target, sums match)
packages-check:
	$(PKG_GO) run ./cmd/packages check -dist $(DIST)

## packages-version: the version `make packages` stamps (from git describe)
packages-version:
	@$(PKG_GO) run ./cmd/packages version

# The packaging module's unit tests and vet join the root's passes.
test-unit: test-packaging-unit
vet: vet-packaging

test-packaging-unit:
	$(PKG_GO) test -short -race -count=1 -timeout 10m ./...

vet-packaging:
	$(PKG_GO) vet ./...

## test-packaging-system: the .deb installed on this machine with dpkg, its unit checked by systemd-analyze,
## the daemon started as the unit's ExecStart (capabilities and group as the unit says) in the e2e world,
## `ghostwire up` + curl through it with the installed binary, then dpkg -P leaves nothing; lintian; the .rpm
## read back with rpm; the maintainer scripts' start/restart/stop logic. Uses dist/ from `make packages`.
test-packaging-system: build packages
	$(PKG_GO) test -count=1 -timeout 20m ./... # with GHOSTWIRE_DIST, GWE_BIN_DIR, GWE_COREDNS from the environment below
test-packaging-system: export GHOSTWIRE_DIST := $(DIST)
test-packaging-system: export GWE_BIN_DIR := $(BIN)
test-packaging-system: export GWE_COREDNS := $(GWE_COREDNS)
