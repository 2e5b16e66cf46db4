package desktop

import (
	"os/exec"
	"syscall"
)

// createNoWindow (CREATE_NO_WINDOW): a console program started from the
// tray (clip.exe, PowerShell's dialogs) gets no console window flashing up.
const createNoWindow = 0x08000000

func noConsole(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{CreationFlags: createNoWindow}
}
