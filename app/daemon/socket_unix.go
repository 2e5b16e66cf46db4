//go:build linux || darwin

package daemon

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// Listen creates the unix socket at path: its directory 0755, the socket
// with the mode socketMode gives (on Linux 0660 owned by root and the
// ghostwire group when that group exists, else 0600; on macOS 0666, each
// caller then authorized by its credentials). mode, when non-zero,
// overrides the socket's mode (tests).
func Listen(path string, mode os.FileMode) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("cannot create %s: %w", filepath.Dir(path), err)
	}
	if c, err := net.Dial("unix", path); err == nil {
		c.Close()
		return nil, fmt.Errorf("another ghostwire daemon already listens on %s: stop it first", path)
	}
	_ = os.Remove(path) // a stale socket from a crash
	// The socket is created under a restrictive umask so that no one can
	// connect between bind and chmod.
	old := unix.Umask(0o177)
	l, err := net.Listen("unix", path)
	unix.Umask(old)
	if err != nil {
		return nil, fmt.Errorf("cannot listen on %s: %w", path, err)
	}
	perm := socketMode(path)
	if mode != 0 {
		perm = mode
	}
	if err := os.Chmod(path, perm); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

// peerCred identifies the process at the other end of a unix socket (credOf
// is each OS's socket option).
func peerCred(c net.Conn) (Peer, error) {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return Peer{}, errors.New("not a unix socket")
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return Peer{}, err
	}
	var p Peer
	var cerr error
	if err := raw.Control(func(fd uintptr) { p, cerr = credOf(int(fd)) }); err != nil {
		return Peer{}, err
	}
	return p, cerr
}
