//go:build !windows

package desktop

import "os/exec"

func noConsole(*exec.Cmd) {}
