package cli

import (
	"context"
	"os"
	"os/exec"
	"syscall"

	"golang.org/x/sys/windows"

	"github.com/ghostwire/ghostwire/app/tray/autostart"
	"github.com/ghostwire/ghostwire/app/tray/instance"
)

// ensureTray starts the menu-bar app in this session when it does not run
// (its session mutex: app/tray/instance), so the sign-in a link starts has
// somewhere to show: ghostwire-tray.exe beside this program (the MSI's
// layout; the link handler is that program itself), else this program.
func ensureTray(ctx context.Context) error {
	return startTrayOnce(ctx, instance.Running, func(context.Context) error {
		exe, err := os.Executable()
		if err != nil {
			return err
		}
		cmd := exec.Command(autostart.GUIProgram(exe), autostart.Args...)
		// Its own process, without a console, outliving this short command.
		cmd.SysProcAttr = &syscall.SysProcAttr{CreationFlags: windows.DETACHED_PROCESS | windows.CREATE_NEW_PROCESS_GROUP}
		if err := cmd.Start(); err != nil {
			return err
		}
		return cmd.Process.Release()
	})
}
