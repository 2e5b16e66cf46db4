package daemon

import (
	"fmt"
	"slices"

	"github.com/ghostwire/ghostwire/app/service"
)

// GroupName is the group whose members may use the daemon besides root or
// the administrators (on macOS also the person at the screen; on Windows a
// local group, winauth.go). `ghostwire daemon install` creates it.
const GroupName = service.Group

// callerPolicy decides who may use the daemon from what the OS says about
// the caller. It is portable so that the table of who gets in is tested on
// every OS; each OS file fills the facts.
//
// On macOS (the socket is 0666, every connection is identified with
// LOCAL_PEERCRED): root, the daemon's own user, the user logged in at the
// Mac's screen (the owner of /dev/console: the person clicking Connect in
// the menu bar), and members of the admin group or of the ghostwire group
// (for remote shells and other users of a shared Mac).
type callerPolicy struct {
	daemonUID int
	// consoleUID is the user at the screen; ok is false when nobody is
	// logged in (the login window owns the console as root).
	consoleUID func() (uid int, ok bool)
	// groups lets their members in, by name.
	groups []string
	// gidOf resolves a group name (ok false: no such group here).
	gidOf func(name string) (gid int, ok bool)
	// groupsOf lists the groups of a user (primary and supplementary).
	groupsOf func(uid int) []int
	// howToJoin is the command that adds someone to the ghostwire group.
	howToJoin string
}

func (c callerPolicy) allow(p Peer) error {
	if p.UID < 0 {
		return fmt.Errorf("the caller of the local API could not be identified")
	}
	if p.UID == 0 || p.UID == c.daemonUID {
		return nil
	}
	if c.consoleUID != nil {
		if uid, ok := c.consoleUID(); ok && uid != 0 && uid == p.UID {
			return nil
		}
	}
	var gids []int
	for _, name := range c.groups {
		if gid, ok := c.gidOf(name); ok {
			gids = append(gids, gid)
		}
	}
	if slices.Contains(gids, p.GID) {
		return nil
	}
	if c.groupsOf != nil {
		for _, g := range c.groupsOf(p.UID) {
			if slices.Contains(gids, g) {
				return nil
			}
		}
	}
	return fmt.Errorf("user %d may not control ghostwire: only the person logged in at this computer's screen, administrators "+
		"and members of the %q group may; ask your admin to add you (%s), then log in again", p.UID, GroupName, c.howToJoin)
}
