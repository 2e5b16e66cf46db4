package tray

import (
	"log/slog"

	"fyne.io/systray"

	"github.com/ghostwire/ghostwire/app/tray/menu"
	"github.com/ghostwire/ghostwire/assets"
)

// setIcon shows the colour PNG (StatusNotifierItem pixmap).
func setIcon(i menu.Icon) {
	b, err := assets.PNG(string(i))
	if err != nil {
		slog.Error("tray icon missing", "icon", i, "err", err)
		return
	}
	systray.SetIcon(b)
}
