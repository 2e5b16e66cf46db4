//go:build !(darwin && cgo)

package tray

import "log/slog"

// registerLinkHandler: Linux and Windows start `ghostwire open-link` for
// each link themselves (the desktop entry, the MSI's URL handler).
func registerLinkHandler(*slog.Logger) {}
