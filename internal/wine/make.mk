# internal/wine: the Windows test binaries run under Wine as part of `make test`
# (Debian's Wine 8.0 in a private WINEPREFIX under .cache/wine). Wine proves the
# Windows code against a real registry, service manager and named pipes; what it
# cannot run (wintun, the IP Helper setters, DNS behaviour) is the hosted Windows
# runner's job (.github/workflows/desktop.yml) and is named in each test's skip.
#
# Go 1.22+ programs need bcryptprimitives.dll!ProcessPrng at start, which Wine 8
# lacks: bcryptprimitives.c is a stand-in built with mingw and copied into the
# prefix's System32 (never shipped).

APT_PACKAGES += wine wine64 gcc-mingw-w64-x86-64 xvfb xauth
SYSTEM_TEST_TARGETS += test-windows

WINE_DIR := $(CURDIR)/.cache/wine
WINE_PREFIX := $(WINE_DIR)/prefix
WINE_SHIM := $(WINE_DIR)/bcryptprimitives.dll
# Packages with Windows code worth running under Wine; each names its Wine tests TestWindows*.
WINDOWS_TEST_PKGS := ./tunnel/ ./internal/atomicfile/ ./app/daemon/ ./app/preset/ ./app/localapi/winpipe/ ./app/service/ ./app/osevents/ ./app/tray/notify/ ./app/tray/autostart/ ./app/tray/instance/

.PHONY: test-windows wine-prefix

test-windows wine-prefix: export WINEPREFIX := $(WINE_PREFIX)

$(WINE_SHIM): internal/wine/bcryptprimitives.c
	@mkdir -p $(WINE_DIR)
	x86_64-w64-mingw32-gcc -O2 -shared -o $@ $< -ladvapi32

## wine-prefix: a private Wine prefix (.cache/wine/prefix) with the ProcessPrng stand-in Go needs
wine-prefix: $(WINE_SHIM)
	@if [ ! -f $(WINE_PREFIX)/system.reg ]; then \
		echo "creating the Wine prefix $(WINE_PREFIX)"; \
		WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml=" wine wineboot --init >/dev/null 2>&1; \
		wineserver -w; \
	fi
	@cp $(WINE_SHIM) $(WINE_PREFIX)/drive_c/windows/system32/bcryptprimitives.dll

## test-windows: the Windows tests (registry NRPT writer and its crash recovery, the daemon's named pipe
## with its security descriptor and caller identity, service registration) under Wine
test-windows: wine-prefix
	GOOS=windows GOARCH=amd64 CGO_ENABLED=0 $(GO) test -count=1 -timeout 5m -exec $(CURDIR)/internal/wine/run.sh \
		-run '^TestWindows' $(WINDOWS_TEST_PKGS)
	@wineserver -k 2>/dev/null || true
