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
