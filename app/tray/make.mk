# app/tray: the menu-bar app. Included by the root Makefile.

# dbus-run-session (package dbus-daemon) runs the desktop-bus test on a private
# session bus; Xvfb and xclip the real clipboard round trip.
APT_PACKAGES += dbus-daemon xvfb xclip
SYSTEM_TEST_TARGETS += test-tray-system

# Only `make tray-screenshot` needs these (xvfb is listed again so the target stands alone): a StatusNotifierItem
# watcher and tray host (Haskell gtk-sni-tray), xdotool to click, ImageMagick to shoot.
TRAY_SCREENSHOT_PACKAGES := xvfb haskell-status-notifier-item-utils haskell-gtk-sni-tray-utils xdotool imagemagick fonts-dejavu-core

.PHONY: icons test-tray-system tray-screenshot tray-deps-screenshot

## icons: redraw every tray icon (assets/icons) from the one drawing in assets/gen
icons:
	$(GO) run ./assets/gen -out assets/icons

## test-tray-system: the real tray on a real D-Bus session bus, menu read and clicked over dbusmenu;
## the clipboard on a real X server.
## (No -race: fyne.io/systray v1.12.2 has a data race of its own between GetLayout and refresh.)
test-tray-system:
	$(GO) test -count=1 -timeout 5m -run 'TestDesktopBus|TestClipboardOnX11' ./app/tray/ ./app/tray/desktop/

tray-deps-screenshot:
	@missing=""; for p in $(TRAY_SCREENSHOT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing; \
	fi

## tray-screenshot: docs/tray.png, the open menu under Xvfb with a real tray host
tray-screenshot: tray-deps-screenshot
	@mkdir -p $(BIN) docs
	$(GO) build -o $(BIN)/ghostwire-tray-demo ./app/tray/internal/demo
	app/tray/screenshot/screenshot.sh $(BIN)/ghostwire-tray-demo docs/tray.png
