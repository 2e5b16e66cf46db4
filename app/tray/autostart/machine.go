package autostart

import "fmt"

// The installers start the tray at every login for everyone on the machine
// with a machine-wide entry: /etc/xdg/autostart (the .deb and .rpm), the
// HKLM Run key (the MSI), /Library/LaunchAgents (the macOS pkg). The
// switch in the menu still belongs to each person:
//   - with a machine-wide entry, on means "no opt-out" and off records a
//     personal opt-out; the machine-wide entry passes AtLoginFlag, and a
//     tray started with it exits at once for a person who opted out
//     (Linux instead has Hidden=true, which the desktop itself honours);
//   - without one, on is a personal entry that starts this program, off
//     is none.
// The personal entry is removed whenever a machine-wide one exists, so the
// tray never starts twice.

// AtLoginFlag is what the machine-wide entries add after Args: "started at
// login by the installer's entry".
const AtLoginFlag = "--at-login"

// SystemArgs are the arguments of the machine-wide entries of the MSI and
// the macOS pkg.
var SystemArgs = append(append([]string(nil), Args...), AtLoginFlag)

// places are one OS's registrations, so that the rules above are portable
// and tested on every OS.
type places interface {
	// machineWide reports whether an installer's entry starts the tray at
	// every login.
	machineWide() (bool, error)
	personal() (bool, error)
	writePersonal() error
	removePersonal() error
	optedOut() (bool, error)
	setOptOut(out bool) error
}

func enabledIn(p places) (bool, error) {
	sys, err := p.machineWide()
	if err != nil {
		return false, err
	}
	if sys {
		out, err := p.optedOut()
		return !out, err
	}
	return p.personal()
}

func enableIn(p places) error {
	sys, err := p.machineWide()
	if err != nil {
		return err
	}
	if !sys {
		return p.writePersonal()
	}
	if err := p.setOptOut(false); err != nil {
		return err
	}
	return p.removePersonal()
}

func disableIn(p places) error {
	sys, err := p.machineWide()
	if err != nil {
		return err
	}
	if err := p.removePersonal(); err != nil {
		return err
	}
	if sys {
		if err := p.setOptOut(true); err != nil {
			return fmt.Errorf("Ghostwire is started at login for everyone on this computer, and your choice not to could not be saved: %w", err)
		}
	}
	return nil
}

// SkipAtLogin reports whether a tray started by a machine-wide entry
// (with AtLoginFlag) should exit at once: this person turned Start at
// login off in the menu.
func SkipAtLogin() bool {
	out, err := optedOut()
	return err == nil && out
}
