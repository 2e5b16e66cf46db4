package autostart

import (
	"testing"

	"golang.org/x/sys/windows/registry"
)

// Start at login through the real HKCU Run key (Wine's, in its private
// prefix, under `make test-windows`; the runner's on Windows).
func TestWindowsAutostartRunKey(t *testing.T) {
	was, err := Enabled()
	if err != nil {
		t.Fatal(err)
	}
	if was {
		t.Skip("this account already starts Ghostwire at login; not touching it")
	}
	if err := Enable(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = Disable() })
	if on, err := Enabled(); err != nil || !on {
		t.Fatalf("after Enable: %v %v", on, err)
	}
	k, err := registry.OpenKey(registry.CURRENT_USER, runKey, registry.QUERY_VALUE)
	if err != nil {
		t.Fatal(err)
	}
	v, _, err := k.GetStringValue(runValueName)
	k.Close()
	exe, _ := executable()
	if err != nil || v != RunValue(guiProgram(exe, fileExists)) {
		t.Fatalf("Run value %q (%v), want %q", v, err, RunValue(exe))
	}
	if err := Disable(); err != nil {
		t.Fatal(err)
	}
	if on, _ := Enabled(); on {
		t.Fatal("still enabled after Disable")
	}
	if err := Disable(); err != nil {
		t.Fatalf("disabling twice: %v", err)
	}
}

// The MSI's machine-wide entry (HKLM Run) with a person's opt-out in HKCU,
// through the real registry (Wine's under `make test-windows`).
func TestWindowsAutostartMachineWide(t *testing.T) {
	if on, _ := (winPlaces{}).machineWide(); on {
		t.Skip("Ghostwire is installed on this machine; not touching its HKLM Run entry")
	}
	if mine, _ := (winPlaces{}).personal(); mine {
		t.Skip("this account already starts Ghostwire at login; not touching it")
	}
	k, _, err := registry.CreateKey(registry.LOCAL_MACHINE, runKey, registry.SET_VALUE|registry.WOW64_64KEY)
	if err != nil {
		t.Fatalf("needs administrator rights: %v", err)
	}
	defer k.Close()
	if err := k.SetStringValue(runValueName, SystemRunValue(`C:\Program Files\Ghostwire\ghostwire-tray.exe`)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = k.DeleteValue(runValueName)
		_ = deleteValue(settingsKey, optOutValue)
	})
	if on, err := Enabled(); err != nil || !on || SkipAtLogin() {
		t.Fatalf("the machine-wide entry starts the tray: %v %v skip=%v", on, err, SkipAtLogin())
	}
	if err := Disable(); err != nil {
		t.Fatal(err)
	}
	if on, _ := Enabled(); on || !SkipAtLogin() {
		t.Fatalf("after Disable: on=%v skip=%v", on, SkipAtLogin())
	}
	if mine, _ := (winPlaces{}).personal(); mine {
		t.Fatal("Disable wrote a personal Run entry")
	}
	if err := Enable(); err != nil {
		t.Fatal(err)
	}
	if on, _ := Enabled(); !on || SkipAtLogin() {
		t.Fatalf("after Enable: on=%v skip=%v", on, SkipAtLogin())
	}
	if mine, _ := (winPlaces{}).personal(); mine {
		t.Fatal("Enable doubled the machine-wide entry with a personal one")
	}
}
