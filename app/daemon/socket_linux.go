package daemon

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"

	"golang.org/x/sys/unix"
)

// GroupName is the group whose members may use the daemon besides root.
const GroupName = "ghostwire"

// Listen creates the unix socket at path: its directory 0755, the socket
// 0660 owned by root and the ghostwire group when that group exists, else
// 0600 (root only). mode, when non-zero, overrides the socket's mode (tests).
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
	perm := os.FileMode(0o600)
	if g, err := user.LookupGroup(GroupName); err == nil {
		gid, _ := strconv.Atoi(g.Gid)
		if err := os.Chown(path, 0, gid); err == nil {
			perm = 0o660
		}
	}
	if mode != 0 {
		perm = mode
	}
	if err := os.Chmod(path, perm); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

func peerCred(c net.Conn) (Peer, error) {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return Peer{}, errors.New("not a unix socket")
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return Peer{}, err
	}
	var cred *unix.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return Peer{}, err
	}
	if cerr != nil {
		return Peer{}, cerr
	}
	return Peer{UID: int(cred.Uid), GID: int(cred.Gid), PID: int(cred.Pid)}, nil
}

// AllowRootAndGroup lets root, the daemon's own user, and members of the
// ghostwire group in.
func AllowRootAndGroup(p Peer) error {
	if p.UID == 0 || p.UID == os.Geteuid() {
		return nil
	}
	g, err := user.LookupGroup(GroupName)
	if err == nil {
		if strconv.Itoa(p.GID) == g.Gid {
			return nil
		}
		if u, err := user.LookupId(strconv.Itoa(p.UID)); err == nil {
			if gids, err := u.GroupIds(); err == nil && slices.Contains(gids, g.Gid) {
				return nil
			}
		}
	}
	return fmt.Errorf("user %d may not control ghostwire: ask your admin to add you to the %q group (`sudo usermod -aG %s $USER`, then log in again)", p.UID, GroupName, GroupName)
}
