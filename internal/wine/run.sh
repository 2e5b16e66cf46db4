#!/usr/bin/env bash
# go test -exec helper: runs a Windows test binary under Wine in the private
# prefix `make wine-prefix` prepared (WINEPREFIX is exported by the Makefile).
# On a private X server when xvfb-run is there, so that window tests (the
# tray's notification balloon) have a desktop to use.
set -euo pipefail
: "${WINEPREFIX:?run through make test-windows}"
export WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
if command -v xvfb-run >/dev/null; then
	exec xvfb-run -a wine "$@"
fi
exec wine "$@"
