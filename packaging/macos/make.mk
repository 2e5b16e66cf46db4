# packaging/macos: the Mac's app bundle and installer payload, and the darwin
# compile gate of `make lint`. Included by the root Makefile.

.PHONY: test-compile-darwin mac-bundle-layout

# The macOS code is built and vetted here but runs only on a Mac (the macos job
# of .github/workflows/desktop.yml): every test binary of the packages with
# darwin code must at least link for darwin, as shipped (CGO_ENABLED=0).
DARWIN_TEST_PACKAGES := ./tunnel/ ./app/osevents/ ./app/daemon/ ./app/service/ ./app/localapi/ \
	./app/cli/ ./app/tray/autostart/ ./app/tray/notify/ ./app/tray/instance/ ./app/preset/ ./internal/wgpeer/

## test-compile-darwin: link the darwin test binaries (amd64 and arm64) of the packages with macOS code
test-compile-darwin:
	@d=$$(mktemp -d); trap 'rm -rf $$d' EXIT; \
	for arch in arm64 amd64; do \
		GOOS=darwin GOARCH=$$arch CGO_ENABLED=0 $(GO) test -c -o $$d/ $(DARWIN_TEST_PACKAGES) || exit 1; \
		(cd packaging && GOOS=darwin GOARCH=$$arch CGO_ENABLED=0 $(GO) test -c -o $$d/ ./macos/) || exit 1; \
	done

lint: test-compile-darwin

## mac-bundle-layout: Ghostwire.app and the installer payload root from a darwin build (no cgo: the
## tray needs a Mac; the macos CI job builds the real one) into bin/macos, to look at the layout
mac-bundle-layout:
	@mkdir -p $(BIN)/macos
	GOOS=darwin GOARCH=arm64 CGO_ENABLED=0 $(GO) build -o $(BIN)/macos/ghostwire ./app
	$(PKG_GO) run ./macos/bundle -exe $(BIN)/macos/ghostwire -icon $(CURDIR)/assets/app/Ghostwire.icns -out $(BIN)/macos -pkgroot $(BIN)/macos/pkgroot
