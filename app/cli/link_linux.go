package cli

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"syscall"

	"github.com/godbus/dbus/v5"

	"github.com/ghostwire/ghostwire/app/tray"
)

// ensureTray starts the menu-bar app when it does not run in this session
// (the tray owns tray.BusName on the session bus while it runs), so the
// sign-in a link starts has somewhere to show.
func ensureTray(ctx context.Context) error {
	conn, err := dbus.ConnectSessionBus()
	if err != nil {
		return fmt.Errorf("no desktop session bus: %w", err)
	}
	defer conn.Close()
	var running bool
	if err := conn.BusObject().CallWithContext(ctx, "org.freedesktop.DBus.NameHasOwner", 0, tray.BusName).Store(&running); err != nil {
		return err
	}
	if running {
		return nil
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.Command(exe, "tray")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true} // outlives this short command
	if err := cmd.Start(); err != nil {
		return err
	}
	return cmd.Process.Release()
}
