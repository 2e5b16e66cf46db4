//go:build darwin

package autostart

// On macOS the registration is one file at Path holding content(exe). (Linux
// also honours a system-wide entry the package installs: autostart_linux.go.)

// Enabled reports whether the tray starts at login.
func Enabled() (bool, error) {
	p, err := Path()
	if err != nil {
		return false, err
	}
	return fileEnabled(p)
}

// Enable starts the running ghostwire program's tray at every login.
func Enable() error {
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

// Disable stops starting the tray at login.
func Disable() error {
	p, err := Path()
	if err != nil {
		return err
	}
	return removeFile(p)
}
