package tray

import (
	"log/slog"

	"fyne.io/systray"

	"github.com/ghostwire/ghostwire/app/tray/menu"
	"github.com/ghostwire/ghostwire/assets"
)

// setIcon shows the ICO (16 to 256 px; Windows picks the size for the DPI).
func setIcon(i menu.Icon) {
	b, err := assets.ICO(string(i))
	if err != nil {
		slog.Error("tray icon missing", "icon", i, "err", err)
		return
	}
	systray.SetIcon(b)
}
