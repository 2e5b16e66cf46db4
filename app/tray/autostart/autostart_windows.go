package autostart

import (
	"errors"
	"fmt"

	"golang.org/x/sys/windows/registry"
)

// runKey is the Run key: per user under HKCU (no administrator rights
// needed), for everyone under HKLM (written by the MSI).
const runKey = `Software\Microsoft\Windows\CurrentVersion\Run`

// settingsKey (HKCU) keeps this person's opt-out from the MSI's
// machine-wide entry: optOutValue = 0.
const (
	settingsKey = `Software\Ghostwire`
	optOutValue = "StartAtLogin"
)

// Path names where the registration lives, for messages.
func Path() (string, error) { return `HKCU\` + runKey + `\` + runValueName, nil }

// Enabled reports whether the tray starts at login for this person.
func Enabled() (bool, error) { return enabledIn(winPlaces{}) }

// Enable starts the tray at every login (the MSI's entry, else a personal
// one running this program's tray).
func Enable() error { return enableIn(winPlaces{}) }

// Disable stops starting the tray at login for this person.
func Disable() error { return disableIn(winPlaces{}) }

func optedOut() (bool, error) { return winPlaces{}.optedOut() }

type winPlaces struct{}

func (winPlaces) machineWide() (bool, error) {
	return hasString(registry.LOCAL_MACHINE, runKey, runValueName)
}

func (winPlaces) personal() (bool, error) {
	return hasString(registry.CURRENT_USER, runKey, runValueName)
}

func (winPlaces) writePersonal() error {
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

func (winPlaces) removePersonal() error { return deleteValue(runKey, runValueName) }

func (winPlaces) optedOut() (bool, error) {
	k, err := registry.OpenKey(registry.CURRENT_USER, settingsKey, registry.QUERY_VALUE)
	if errors.Is(err, registry.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("cannot read HKCU\\%s: %w", settingsKey, err)
	}
	defer k.Close()
	v, _, err := k.GetIntegerValue(optOutValue)
	if errors.Is(err, registry.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("cannot read HKCU\\%s\\%s: %w", settingsKey, optOutValue, err)
	}
	return v == 0, nil
}

func (winPlaces) setOptOut(out bool) error {
	if !out {
		return deleteValue(settingsKey, optOutValue)
	}
	k, _, err := registry.CreateKey(registry.CURRENT_USER, settingsKey, registry.SET_VALUE)
	if err != nil {
		return fmt.Errorf("cannot open HKCU\\%s: %w", settingsKey, err)
	}
	defer k.Close()
	if err := k.SetDWordValue(optOutValue, 0); err != nil {
		return fmt.Errorf("cannot write HKCU\\%s\\%s: %w", settingsKey, optOutValue, err)
	}
	return nil
}

// hasString reports whether root\key holds a non-empty string value name.
func hasString(root registry.Key, key, name string) (bool, error) {
	k, err := registry.OpenKey(root, key, registry.QUERY_VALUE|registry.WOW64_64KEY)
	if errors.Is(err, registry.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("cannot read %s: %w", key, err)
	}
	defer k.Close()
	v, _, err := k.GetStringValue(name)
	if errors.Is(err, registry.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("cannot read %s\\%s: %w", key, name, err)
	}
	return v != "", nil
}

// deleteValue removes HKCU\key\name; a missing one is fine.
func deleteValue(key, name string) error {
	k, err := registry.OpenKey(registry.CURRENT_USER, key, registry.SET_VALUE)
	if errors.Is(err, registry.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("cannot open HKCU\\%s: %w", key, err)
	}
	defer k.Close()
	if err := k.DeleteValue(name); err != nil && !errors.Is(err, registry.ErrNotExist) {
		return fmt.Errorf("cannot remove HKCU\\%s\\%s: %w", key, name, err)
	}
	return nil
}
