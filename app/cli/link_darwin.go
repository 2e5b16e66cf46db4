package cli

import (
	"context"
	"os"
	"os/exec"
	"syscall"

	"github.com/ghostwire/ghostwire/app/tray/autostart"
	"github.com/ghostwire/ghostwire/app/tray/instance"
)

// ensureTray starts the menu-bar app when it does not run for this user
// (its lock: app/tray/instance), so the sign-in a link starts has somewhere
// to show. A link clicked in a browser reaches the running app itself (an
// Apple event, app/tray), which runs open-link, so this matters when
// open-link is started some other way. LaunchServices starts the installed
// Ghostwire.app, as a click in Finder would; without one (a plain build),
// this program's tray.
func ensureTray(ctx context.Context) error {
	return startTrayOnce(ctx, instance.Running,
		func(ctx context.Context) error {
			return exec.CommandContext(ctx, "/usr/bin/open", "-g", "-b", autostart.BundleID).Run()
		},
		func(context.Context) error {
			exe, err := os.Executable()
			if err != nil {
				return err
			}
			cmd := exec.Command(exe, autostart.Args...)
			cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true} // outlives this short command
			if err := cmd.Start(); err != nil {
				return err
			}
			return cmd.Process.Release()
		})
}
