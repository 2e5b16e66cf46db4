package tray

import (
	"errors"
	"fmt"

	"github.com/godbus/dbus/v5"
)

// BusName is owned by the running tray on the session bus, so a second one
// (and `ghostwire open-link`) can tell that it runs.
const BusName = "com.ghostwire.Tray"

// preflight checks that a desktop session bus is there (the StatusNotifierItem
// lives on it) and that no other Ghostwire tray runs in this session. The
// returned func releases the name; warn, when set, is worth logging.
func preflight() (release func(), warn string, err error) {
	conn, err := dbus.ConnectSessionBus()
	if err != nil {
		return nil, "", fmt.Errorf("no desktop session bus (%v): the menu-bar app needs a graphical session; start `ghostwire tray` from your desktop, or use the commands (`ghostwire --help`)", err)
	}
	reply, err := conn.RequestName(BusName, dbus.NameFlagDoNotQueue)
	if err != nil {
		conn.Close()
		return nil, "", fmt.Errorf("cannot register the menu-bar app on the session bus: %w", err)
	}
	if reply != dbus.RequestNameReplyPrimaryOwner {
		conn.Close()
		return nil, "", errAlreadyRunning
	}
	var hasWatcher bool
	if err := conn.BusObject().Call("org.freedesktop.DBus.NameHasOwner", 0, "org.kde.StatusNotifierWatcher").Store(&hasWatcher); err == nil && !hasWatcher {
		warn = "no StatusNotifierWatcher on this desktop yet: the icon appears once one runs (GNOME needs the AppIndicator extension)"
	}
	return func() { conn.Close() }, warn, nil
}

var errAlreadyRunning = errors.New("the Ghostwire menu is already running in this session (look for the ghost icon)")
