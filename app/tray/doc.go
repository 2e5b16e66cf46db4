// Package tray is the menu-bar app: an icon and a menu that show what the
// daemon says and turn clicks into local API calls. It never decides state: the
// menu is a pure function of the daemon's Watch stream (package menu), and
// when the daemon is not running it says so and reconnects by itself.
//
// Run is the entry point; the CLI mounts it as `ghostwire tray` and as
// `ghostwire` with no arguments on a desktop. The macOS build needs cgo and a
// Mac (fyne.io/systray uses Cocoa); Linux (D-Bus StatusNotifierItem) and
// Windows are pure Go.
package tray
