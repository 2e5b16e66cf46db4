#!/usr/bin/env bash
# go test -exec helper: runs a Windows test binary under Wine in the private
# prefix `make wine-prefix` prepared (WINEPREFIX is exported by the Makefile).
set -euo pipefail
: "${WINEPREFIX:?run through make test-windows}"
export WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
exec wine "$@"
