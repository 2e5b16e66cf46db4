package autostart

import (
	"fmt"
	"os"
	"path/filepath"
)

// Path is the per-user LaunchAgent: ~/Library/LaunchAgents/com.ghostwire.tray.plist.
// launchd reads it at the next login; nothing is loaded now because the tray
// doing the registering is already running.
func Path() (string, error) {
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("cannot find your home folder: %w", err)
	}
	return filepath.Join(home, "Library", "LaunchAgents", launchAgentID+".plist"), nil
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
	return writeFile(p, LaunchAgentPlist(exe))
}

// Disable stops starting the tray at login.
func Disable() error {
	p, err := Path()
	if err != nil {
		return err
	}
	return removeFile(p)
}
