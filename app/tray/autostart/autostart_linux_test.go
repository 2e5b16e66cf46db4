package autostart

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The real thing on Linux, in a temporary HOME: Enable writes the XDG entry that
// desktops read at login, Disable removes it.
func TestEnableDisableLinux(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", "")
	t.Setenv("XDG_CONFIG_DIRS", t.TempDir()) // no system-wide entry, whatever the host has
	p, err := Path()
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(home, ".config", "autostart", "ghostwire.desktop"); p != want {
		t.Fatalf("Path = %s, want %s", p, want)
	}
	if on, err := Enabled(); err != nil || on {
		t.Fatalf("fresh HOME: Enabled = %v, %v", on, err)
	}
	if err := Enable(); err != nil {
		t.Fatal(err)
	}
	if on, err := Enabled(); err != nil || !on {
		t.Fatalf("after Enable: Enabled = %v, %v", on, err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	exe, _ := executable()
	if !strings.Contains(string(b), "Exec="+execLine([]string{exe, "tray"})+"\n") {
		t.Errorf("entry does not start this program:\n%s", b)
	}
	if err := Enable(); err != nil { // idempotent
		t.Fatal(err)
	}
	if err := Disable(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); !os.IsNotExist(err) {
		t.Fatalf("after Disable the entry is still there: %v", err)
	}
	if err := Disable(); err != nil { // idempotent
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(filepath.Dir(p))
	if len(entries) != 0 {
		t.Errorf("left files behind: %v", entries)
	}

	// XDG_CONFIG_HOME wins over HOME.
	cfg := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", cfg)
	if p, _ := Path(); p != filepath.Join(cfg, "autostart", "ghostwire.desktop") {
		t.Errorf("XDG_CONFIG_HOME ignored: %s", p)
	}
}

// With the package's system-wide entry, the switch writes or removes a personal
// override, and the system file is never touched.
func TestSystemWideEntry(t *testing.T) {
	home, sys := t.TempDir(), t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", "")
	t.Setenv("XDG_CONFIG_DIRS", "relative/ignored:"+filepath.Join(sys, "none")+":"+sys)
	sysEntry := filepath.Join(sys, "autostart", "ghostwire.desktop")
	if err := os.MkdirAll(filepath.Dir(sysEntry), 0o755); err != nil {
		t.Fatal(err)
	}
	pkg := DesktopEntry("/usr/bin/ghostwire")
	if err := os.WriteFile(sysEntry, []byte(pkg), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := SystemPath(); got != sysEntry {
		t.Fatalf("SystemPath = %q, want %q", got, sysEntry)
	}
	if on, err := Enabled(); err != nil || !on {
		t.Fatalf("with the package's entry the tray starts at login: Enabled = %v, %v", on, err)
	}
	if err := Disable(); err != nil {
		t.Fatal(err)
	}
	p, _ := Path()
	b, err := os.ReadFile(p)
	if err != nil || !strings.Contains(string(b), "\nHidden=true\n") {
		t.Fatalf("Disable must write a Hidden=true override: %q %v", b, err)
	}
	if on, err := Enabled(); err != nil || on {
		t.Fatalf("after Disable: Enabled = %v, %v", on, err)
	}
	if err := Enable(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); !os.IsNotExist(err) {
		t.Fatalf("Enable must remove the override and let the system entry work: %v", err)
	}
	if on, err := Enabled(); err != nil || !on {
		t.Fatalf("after Enable: Enabled = %v, %v", on, err)
	}
	if b, _ := os.ReadFile(sysEntry); string(b) != pkg {
		t.Error("the system-wide entry was changed")
	}
	// A desktop's own "off" switch (GNOME writes X-GNOME-Autostart-enabled=false) is read too.
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(strings.Replace(pkg, "X-GNOME-Autostart-enabled=true", "X-GNOME-Autostart-enabled=false", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if on, err := Enabled(); err != nil || on {
		t.Fatalf("GNOME's off switch: Enabled = %v, %v", on, err)
	}
}
