package autostart

import (
	"path/filepath"
	"testing"
)

func TestGUIProgram(t *testing.T) {
	dir := filepath.Join("Program Files", "Ghostwire")
	cli, gui := filepath.Join(dir, "ghostwire.exe"), filepath.Join(dir, TrayExe)
	has := func(p string) bool { return p == gui }
	none := func(string) bool { return false }
	if got := guiProgram(cli, has); got != gui {
		t.Fatalf("the console build registered itself (%s) although %s is beside it", got, gui)
	}
	if got := guiProgram(cli, none); got != cli {
		t.Fatalf("without the GUI build: %s", got)
	}
	if got := guiProgram(gui, none); got != gui {
		t.Fatalf("the GUI build registers itself: %s", got)
	}
}
