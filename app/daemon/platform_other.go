//go:build !linux && !darwin && !windows

package daemon

import (
	"fmt"
	"net"
	"os"
	"runtime"
)

// DefaultStateDir holds profiles.json and the tunnel journals.
const DefaultStateDir = "/var/lib/ghostwire"

func checkPrivileged() error {
	return fmt.Errorf("the ghostwire daemon is not supported on %s", runtime.GOOS)
}

// Listen is not written for this OS yet.
func Listen(path string, mode os.FileMode) (net.Listener, error) {
	return nil, fmt.Errorf("the ghostwire daemon is not supported on %s", runtime.GOOS)
}

func peerCred(net.Conn) (Peer, error) {
	return Peer{}, fmt.Errorf("identifying local callers is not supported on %s", runtime.GOOS)
}

// AllowRootAndGroup refuses everyone until caller checks exist on this OS.
func AllowRootAndGroup(p Peer) error {
	return fmt.Errorf("the ghostwire daemon is not supported on %s", runtime.GOOS)
}

func harden() error {
	return fmt.Errorf("process hardening is not supported on %s", runtime.GOOS)
}
