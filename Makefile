# ghostwire. `make demo` and `make test` are the two commands; both install what
# they need (as root on Debian/Ubuntu). Each area adds its own targets and
# packages in <area>/make.mk, included below.

SHELL := /bin/bash
GO ?= go
BIN := $(CURDIR)/bin
export GOFLAGS := -buildvcs=false
export PATH := $(BIN):$(shell $(GO) env GOPATH)/bin:$(PATH)

# Debian packages the tests and the demo use; areas append to it.
APT_PACKAGES := ca-certificates iproute2 nftables iptables wireguard-tools curl iperf3 procps
# Go tools installed into $(GOPATH)/bin; areas append "module@version".
GO_TOOLS := github.com/rhysd/actionlint/cmd/actionlint@v1.7.12

# System tests run after the unit pass; areas append their own test targets.
SYSTEM_TEST_TARGETS :=

-include server/make.mk auth/make.mk tunnel/make.mk app/make.mk app/tray/make.mk deploy/make.mk e2e/make.mk \
	internal/wine/make.mk internal/kubetest/make.mk packaging/make.mk packaging/macos/make.mk

.PHONY: all build build-cross test test-unit test-system deps lint vet fmt-check actionlint bench demo clean fuzz

all: build

## build: the two binaries into ./bin
build:
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/ghostwire ./app
	$(GO) build -o $(BIN)/ghostwire-server ./server

## build-cross: everything builds for Windows and macOS (without cgo the macOS tray says it needs a cgo build on a Mac)
build-cross:
	GOOS=windows GOARCH=amd64 $(GO) build -o /dev/null ./...
	GOOS=darwin GOARCH=arm64 CGO_ENABLED=0 $(GO) build -o /dev/null ./...

## deps: install what the tests and demo need (idempotent; needs root on Debian/Ubuntu)
deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	@for t in $(GO_TOOLS); do \
		name=$${t%@*}; name=$${name##*/}; \
		[ -x "$$($(GO) env GOPATH)/bin/$$name" ] || { echo "go install $$t"; $(GO) install $$t; } || exit 1; \
	done

## fmt-check / vet / lint: formatting and static checks for every OS we ship
fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...
	GOOS=windows $(GO) vet ./...
	GOOS=darwin CGO_ENABLED=0 $(GO) vet ./...

## actionlint: the GitHub workflows are valid (YAML, expressions, runner labels, action inputs)
actionlint:
	actionlint

lint: fmt-check vet actionlint

## test: everything — fast unit tests first, then system tests (root, namespaces), then end-to-end
test: deps lint test-unit test-system

test-unit:
	$(GO) test -short -race -count=1 -timeout 10m ./...

test-system: $(SYSTEM_TEST_TARGETS)

# Native Go fuzz targets, package:Name: every parser that reads what another
# party sends (docs/attack-surface.md). `make test` runs their seed corpora
# and saved crashers (testdata/fuzz) as ordinary tests.
FUZZTIME ?= 30s
FUZZ_TARGETS := \
	./server/wgkey:FuzzParse ./server/httpapi:FuzzDecodeRegister ./server/httpapi:FuzzRegisterHTTP \
	./auth/verify:FuzzVerifyToken ./auth/verify:FuzzVerifyClaims ./auth/verify:FuzzJWKSAnswer \
	./app/localapi:FuzzLocalAPI ./app/serverclient:FuzzServerAnswer ./app/engine:FuzzServerPeer \
	./tunnel:FuzzStubForward ./tunnel:FuzzScutilQuote ./tunnel:FuzzParseScutilDNS

## fuzz: run each fuzz target for FUZZTIME (default 30s: about 7 minutes for the 12); a crasher is saved under the package's testdata/fuzz and fails the run: commit it, it becomes a test
fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do pkg=$${t%%:*}; name=$${t##*:}; \
		echo "== $$name in $$pkg for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) $$pkg 2>&1 | grep -v '^time=\|level=' ; \
		test $${PIPESTATUS[0]} -eq 0; done

## bench: benchmarks; each area adds its own (see make.mk files)
bench:

clean:
	rm -rf $(BIN)
