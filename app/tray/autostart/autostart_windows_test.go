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
