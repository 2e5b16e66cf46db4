package autostart

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// On Linux the tray starts at login through an XDG autostart entry
// (https://specifications.freedesktop.org/autostart-spec/). The .deb and .rpm
// install one for everybody, /etc/xdg/autostart/ghostwire.desktop; a person's
// own entry of the same name in ~/.config/autostart overrides it. So the
// switch in the menu works with or without the package:
//   - with a system-wide entry: on = no personal override (the package's entry
//     starts the tray and follows upgrades), off = a personal Hidden=true entry;
//   - without one: on = a personal entry that starts this program, off = none.

// Path is the XDG autostart entry: $XDG_CONFIG_HOME/autostart/ghostwire.desktop
// (~/.config/autostart/ghostwire.desktop by default).
func Path() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("cannot find your configuration folder (is HOME set?): %w", err)
	}
	return filepath.Join(dir, "autostart", desktopFile), nil
}

// SystemPath is the system-wide entry the desktop reads: the first
// autostart/ghostwire.desktop in $XDG_CONFIG_DIRS (default /etc/xdg), or ""
// when there is none.
func SystemPath() string {
	dirs := os.Getenv("XDG_CONFIG_DIRS")
	if dirs == "" {
		dirs = "/etc/xdg"
	}
	for _, d := range filepath.SplitList(dirs) {
		if !filepath.IsAbs(d) {
			continue // the spec ignores relative entries
		}
		p := filepath.Join(d, "autostart", desktopFile)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// Enabled reports whether the tray starts at login.
func Enabled() (bool, error) {
	p, err := Path()
	if err != nil {
		return false, err
	}
	on, found, err := entryEnabled(p)
	if err != nil || found {
		return on, err
	}
	if sp := SystemPath(); sp != "" {
		on, _, err := entryEnabled(sp)
		return on, err
	}
	return false, nil
}

// Enable starts the tray at every login.
func Enable() error {
	p, err := Path()
	if err != nil {
		return err
	}
	if SystemPath() != "" {
		return removeFile(p) // the system-wide entry does it
	}
	exe, err := executable()
	if err != nil {
		return err
	}
	return writeFile(p, DesktopEntry(exe))
}

// Disable stops starting the tray at login.
func Disable() error {
	p, err := Path()
	if err != nil {
		return err
	}
	if SystemPath() != "" {
		return writeFile(p, DisabledEntry())
	}
	return removeFile(p)
}

// entryEnabled reads a desktop entry: found is false when there is no file;
// an entry with Hidden=true or X-GNOME-Autostart-enabled=false starts nothing.
func entryEnabled(path string) (on, found bool, err error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, false, nil
	}
	if err != nil {
		return false, false, fmt.Errorf("cannot tell whether Ghostwire starts at login (%s): %w", path, err)
	}
	defer f.Close()
	on = true
	inEntry := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(l, "[") {
			inEntry = l == "[Desktop Entry]"
			continue
		}
		k, v, ok := strings.Cut(l, "=")
		if !inEntry || !ok {
			continue
		}
		switch strings.TrimSpace(k) {
		case "Hidden":
			if strings.TrimSpace(v) == "true" {
				on = false
			}
		case "X-GNOME-Autostart-enabled":
			if strings.TrimSpace(v) == "false" {
				on = false
			}
		}
	}
	if err := sc.Err(); err != nil {
		return false, true, fmt.Errorf("cannot read %s: %w", path, err)
	}
	return on, true, nil
}
