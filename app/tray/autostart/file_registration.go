//go:build darwin

package autostart

import (
	"fmt"
	"os"
	"path/filepath"
)

// On macOS the personal registration is one file at Path holding
// content(exe); the pkg installs SystemLaunchAgentPath for everyone, and a
// person's opt-out from it is a marker file (machine.go).

// Enabled reports whether the tray starts at login for this person.
func Enabled() (bool, error) { return enabledIn(macPlaces{}) }

// Enable starts the tray at every login (the pkg's LaunchAgent, else a
// personal one running this program).
func Enable() error { return enableIn(macPlaces{}) }

// Disable stops starting the tray at login for this person.
func Disable() error { return disableIn(macPlaces{}) }

func optedOut() (bool, error) { return macPlaces{}.optedOut() }

type macPlaces struct{}

func (macPlaces) machineWide() (bool, error) { return fileEnabled(SystemLaunchAgentPath) }

func (macPlaces) personal() (bool, error) {
	p, err := Path()
	if err != nil {
		return false, err
	}
	return fileEnabled(p)
}

func (macPlaces) writePersonal() error {
	p, err := Path()
	if err != nil {
		return err
	}
	exe, err := executable()
	if err != nil {
		return err
	}
	return writeFile(p, content(exe))
}

func (macPlaces) removePersonal() error {
	p, err := Path()
	if err != nil {
		return err
	}
	return removeFile(p)
}

// optOutPath is the marker of this person's opt-out:
// ~/Library/Application Support/Ghostwire/no-start-at-login.
func optOutPath() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("cannot find your Application Support folder: %w", err)
	}
	return filepath.Join(dir, "Ghostwire", "no-start-at-login"), nil
}

func (macPlaces) optedOut() (bool, error) {
	p, err := optOutPath()
	if err != nil {
		return false, err
	}
	return fileEnabled(p)
}

func (macPlaces) setOptOut(out bool) error {
	p, err := optOutPath()
	if err != nil {
		return err
	}
	if !out {
		return removeFile(p)
	}
	return writeFile(p, "Start at login was turned off in the Ghostwire menu.\n")
}
