package daemon

import (
	"fmt"
	"os"
	"os/user"
	"slices"
	"strconv"

	"golang.org/x/sys/unix"
)

// socketMode gives the socket to root and the ghostwire group when that
// group exists (0660), else to root alone (0600).
func socketMode(path string) os.FileMode {
	if g, err := user.LookupGroup(GroupName); err == nil {
		gid, _ := strconv.Atoi(g.Gid)
		if err := os.Chown(path, 0, gid); err == nil {
			return 0o660
		}
	}
	return 0o600
}

// credOf reads the peer's credentials with SO_PEERCRED.
func credOf(fd int) (Peer, error) {
	cred, err := unix.GetsockoptUcred(fd, unix.SOL_SOCKET, unix.SO_PEERCRED)
	if err != nil {
		return Peer{}, err
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
