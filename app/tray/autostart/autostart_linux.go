package autostart

import (
	"fmt"
	"os"
	"path/filepath"
)

// Path is the XDG autostart entry: $XDG_CONFIG_HOME/autostart/ghostwire.desktop
// (~/.config/autostart/ghostwire.desktop by default).
func Path() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("cannot find your configuration folder (is HOME set?): %w", err)
	}
	return filepath.Join(dir, "autostart", desktopFile), nil
}

// content is what Enable writes at Path.
func content(exe string) string { return DesktopEntry(exe) }
