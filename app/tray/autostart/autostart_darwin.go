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

// content is what Enable writes at Path.
func content(exe string) string { return LaunchAgentPlist(exe) }
