// Package assets holds the tray icons, drawn by ./gen (run `make icons`) and
// embedded in the binary: colour PNGs for Linux, ICO for Windows and
// monochrome template PNGs for the macOS menu bar.
package assets

import (
	"embed"
	"fmt"
)

//go:embed icons
var icons embed.FS

// States are the icon names, one per tray state.
var States = []string{"disconnected", "connecting", "connected", "degraded", "needs-sign-in", "error", "no-daemon"}

// PNG is the Linux (StatusNotifierItem) icon for state, 64×64.
func PNG(state string) ([]byte, error) { return read("icons/linux/" + state + ".png") }

// ICO is the Windows notification-area icon for state (16 to 256 px).
func ICO(state string) ([]byte, error) { return read("icons/windows/" + state + ".ico") }

// Template is the macOS menu-bar template image for state (black on clear, 32 px for 16 pt);
// dark is the white variant for places that do not tint templates.
func Template(state string, dark bool) ([]byte, error) {
	v := "light"
	if dark {
		v = "dark"
	}
	return read("icons/darwin/" + state + "-" + v + "@2x.png")
}

func read(name string) ([]byte, error) {
	b, err := icons.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("no icon %s in this build: %w", name, err)
	}
	return b, nil
}
