package autostart

import (
	"errors"
	"fmt"

	"golang.org/x/sys/windows/registry"
)

// runKey is the per-user Run key: no administrator rights needed.
const runKey = `Software\Microsoft\Windows\CurrentVersion\Run`

// Path names where the registration lives, for messages.
func Path() (string, error) { return `HKCU\` + runKey + `\` + runValueName, nil }

// Enabled reports whether the tray starts at login.
func Enabled() (bool, error) {
	k, err := registry.OpenKey(registry.CURRENT_USER, runKey, registry.QUERY_VALUE)
	if errors.Is(err, registry.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("cannot read HKCU\\%s: %w", runKey, err)
	}
	defer k.Close()
	v, _, err := k.GetStringValue(runValueName)
	if errors.Is(err, registry.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("cannot read HKCU\\%s\\%s: %w", runKey, runValueName, err)
	}
	return v != "", nil
}

// Enable starts the running ghostwire program's tray at every login.
func Enable() error {
	exe, err := executable()
	if err != nil {
		return err
	}
	exe = guiProgram(exe, fileExists)
	k, _, err := registry.CreateKey(registry.CURRENT_USER, runKey, registry.SET_VALUE)
	if err != nil {
		return fmt.Errorf("cannot open HKCU\\%s to start Ghostwire at login: %w", runKey, err)
	}
	defer k.Close()
	if err := k.SetStringValue(runValueName, RunValue(exe)); err != nil {
		return fmt.Errorf("cannot write HKCU\\%s\\%s: %w", runKey, runValueName, err)
	}
	return nil
}

// Disable stops starting the tray at login.
func Disable() error {
	k, err := registry.OpenKey(registry.CURRENT_USER, runKey, registry.SET_VALUE)
	if errors.Is(err, registry.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("cannot open HKCU\\%s: %w", runKey, err)
	}
	defer k.Close()
	if err := k.DeleteValue(runValueName); err != nil && !errors.Is(err, registry.ErrNotExist) {
		return fmt.Errorf("cannot remove HKCU\\%s\\%s: %w", runKey, runValueName, err)
	}
	return nil
}
