//go:build !linux

package tray

import "github.com/ghostwire/ghostwire/app/tray/instance"

// preflight keeps the menu-bar app to one per session (a Windows session
// mutex, a per-user lock on macOS: the Start menu, a link or a second login
// item must not add a second icon); the menu bar and notification area are
// always there on macOS and Windows.
func preflight() (release func(), warn string, err error) {
	release, err = instance.Acquire()
	return release, "", err
}
