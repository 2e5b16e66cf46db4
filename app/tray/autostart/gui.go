package autostart

import (
	"os"
	"path/filepath"
)

// TrayExe is the tray's build for the Windows GUI subsystem
// (`go build -ldflags -H=windowsgui`), which the Windows installer puts
// beside ghostwire.exe: started at login it opens no console window, which
// the console build (the CLI) would.
const TrayExe = "ghostwire-tray.exe"

// guiProgram is the program to start at login: TrayExe beside exe when it
// is there, else exe itself.
func guiProgram(exe string, exists func(string) bool) string {
	if filepath.Base(exe) == TrayExe {
		return exe
	}
	if gui := filepath.Join(filepath.Dir(exe), TrayExe); exists(gui) {
		return gui
	}
	return exe
}

func fileExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}
