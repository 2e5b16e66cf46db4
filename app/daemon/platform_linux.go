package daemon

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// DefaultStateDir holds profiles.json and the tunnel journals.
const DefaultStateDir = "/var/lib/ghostwire"

// checkPrivileged refuses to start without the rights the tunnel needs.
func checkPrivileged() error {
	if os.Geteuid() != 0 {
		return errors.New("the ghostwire daemon must run as root (it creates the tunnel interface, routes and DNS): use `sudo ghostwire daemon` or the system service")
	}
	return nil
}

// harden keeps the daemon's memory (keys, tokens) out of core dumps and away
// from ptrace by anyone but root.
func harden() error {
	return unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0)
}
