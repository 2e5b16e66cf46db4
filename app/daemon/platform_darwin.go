package daemon

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// DefaultStateDir holds profiles.json and the tunnel journals (mode 0700,
// root only; nothing secret is written there).
const DefaultStateDir = "/Library/Application Support/ghostwire"

// checkPrivileged refuses to start without the rights the tunnel needs.
func checkPrivileged() error {
	if os.Geteuid() != 0 {
		return errors.New("the ghostwire daemon must run as root (it creates the utun interface, routes and DNS settings): " +
			"install it as a system service with `sudo ghostwire daemon install`, or run `sudo ghostwire daemon`")
	}
	return nil
}

// harden keeps the daemon's memory (keys, tokens) out of core files and
// away from debuggers: no core dumps, and PT_DENY_ATTACH refuses a
// debugger's attach (lldb, dtrace's pid provider) even by root.
func harden() error {
	var errs []error
	if err := unix.Setrlimit(unix.RLIMIT_CORE, &unix.Rlimit{}); err != nil {
		errs = append(errs, fmt.Errorf("core dumps: %w", err))
	}
	if err := unix.PtraceDenyAttach(); err != nil {
		errs = append(errs, fmt.Errorf("debugger attach: %w", err))
	}
	return errors.Join(errs...)
}

// socketMode is 0666: anyone may connect, and each connection's caller is
// identified (LOCAL_PEERCRED) and authorized by AllowRootAndGroup. The
// person at the screen must reach the daemon from the menu-bar app
// without being in any group.
func socketMode(string) os.FileMode { return 0o666 }

// credOf reads the peer's credentials with LOCAL_PEERCRED (and its pid
// with LOCAL_PEERPID, -1 when unknown).
func credOf(fd int) (Peer, error) {
	cred, err := unix.GetsockoptXucred(fd, unix.SOL_LOCAL, unix.LOCAL_PEERCRED)
	if err != nil {
		return Peer{}, err
	}
	pid := -1
	if p, err := unix.GetsockoptInt(fd, unix.SOL_LOCAL, unix.LOCAL_PEERPID); err == nil {
		pid = p
	}
	gid := -1
	if cred.Ngroups > 0 {
		gid = int(cred.Groups[0]) // the effective group
	}
	return Peer{UID: int(cred.Uid), GID: gid, PID: pid}, nil
}

var macPolicy = callerPolicy{
	daemonUID:  os.Geteuid(),
	consoleUID: consoleUser,
	groups:     []string{"admin", GroupName},
	gidOf: func(name string) (int, bool) {
		g, err := user.LookupGroup(name)
		if err != nil {
			return 0, false
		}
		gid, err := strconv.Atoi(g.Gid)
		return gid, err == nil
	},
	groupsOf: func(uid int) []int {
		u, err := user.LookupId(strconv.Itoa(uid))
		if err != nil {
			return nil
		}
		ids, err := u.GroupIds() // getgrouplist: directory services included
		if err != nil {
			return nil
		}
		var out []int
		for _, s := range ids {
			if g, err := strconv.Atoi(s); err == nil {
				out = append(out, g)
			}
		}
		return out
	},
	howToJoin: "sudo dseditgroup -o edit -a <user> -t user " + GroupName,
}

// consoleUser is the owner of /dev/console: the user logged in at the
// screen (root at the login window).
func consoleUser() (int, bool) {
	fi, err := os.Stat("/dev/console")
	if err != nil {
		return 0, false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return int(st.Uid), true
}

// AllowRootAndGroup decides who may use the daemon: root, the person at
// the screen, administrators and members of the ghostwire group.
func AllowRootAndGroup(p Peer) error { return macPolicy.allow(p) }
