//go:build linux || darwin

package tunnel

import (
	"net"
	"path/filepath"

	"golang.zx2c4.com/wireguard/ipc"
)

// The UAPI socket is named after the profile's interface name (gw0, also on
// macOS where the kernel names the utun), so that `sudo wg show gw0` works.
func uapiSocketPath(name string) string { return filepath.Join("/var/run/wireguard", name+".sock") }

func uapiListen(name string) (net.Listener, error) {
	f, err := ipc.UAPIOpen(name)
	if err != nil {
		return nil, err
	}
	l, err := ipc.UAPIListen(name, f)
	if err != nil {
		f.Close()
		return nil, err
	}
	return l, nil
}
