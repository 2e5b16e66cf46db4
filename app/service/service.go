// Package service runs the ghostwire daemon as the operating system's
// system service and registers it there: a systemd unit on Linux, a
// LaunchDaemon on macOS, a Windows service under the service control
// manager. `ghostwire daemon install|uninstall` and the installers use it.
package service

import "context"

// Name is the service's name: the systemd unit ghostwire.service and the
// Windows service "ghostwire".
const Name = "ghostwire"

// Spec is what Install registers.
type Spec struct {
	// Executable is the absolute path of the ghostwire binary.
	Executable string
	// Args follow it, e.g. ["daemon"].
	Args []string
}

// Runner is the daemon's body: it runs until ctx ends, then cleans up.
type Runner func(ctx context.Context) error
