//go:build darwin && cgo

package tray

import (
	"log/slog"

	"fyne.io/systray"

	"github.com/ghostwire/ghostwire/app/tray/menu"
	"github.com/ghostwire/ghostwire/assets"
)

// setIcon shows the monochrome template image, which macOS tints for light and
// dark menu bars.
func setIcon(i menu.Icon) {
	tmpl, err := assets.Template(string(i), false)
	if err != nil {
		slog.Error("tray icon missing", "icon", i, "err", err)
		return
	}
	systray.SetTemplateIcon(tmpl, tmpl)
}
