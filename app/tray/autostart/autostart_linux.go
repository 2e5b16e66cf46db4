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

// Enabled reports whether the tray starts at login.
func Enabled() (bool, error) {
	p, err := Path()
	if err != nil {
		return false, err
	}
	return fileEnabled(p)
}

// Enable starts the running ghostwire program's tray at every login.
func Enable() error {
	p, err := Path()
	if err != nil {
		return err
	}
	exe, err := executable()
	if err != nil {
		return err
	}
	return writeFile(p, DesktopEntry(exe))
}

// Disable stops starting the tray at login.
func Disable() error {
	p, err := Path()
	if err != nil {
		return err
	}
	return removeFile(p)
}
