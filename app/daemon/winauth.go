package daemon

import (
	"fmt"
	"slices"
)

// Who may use the daemon on Windows. The caller's token (read by
// impersonation over the named pipe) decides, as SO_PEERCRED does on Linux:
//   - SYSTEM, and administrators from an elevated prompt (their token
//     holds Administrators as an enabled group), always;
//   - members of Network Configuration Operators, the built-in group Windows
//     made for people who may change network settings without being
//     administrators (wireguard-windows' limited UI admits them too);
//   - members of the local group "ghostwire" (GroupName), which
//     `ghostwire daemon install` creates with the installing user in it.
//     An administrator lets every person who logs on at the machine in with
//     `net localgroup ghostwire "NT AUTHORITY\INTERACTIVE" /add`.
//
// This file is portable so that the table is tested on Linux.
const (
	sidLocalSystem             = "S-1-5-18"
	sidAdministrators          = "S-1-5-32-544"
	sidNetworkConfigOperators  = "S-1-5-32-556"
	windowsGroupAddHint        = `net localgroup %s "%s" /add`
	windowsGroupCreateHint     = "ghostwire daemon install"
	windowsSignOutAfterJoining = "then sign out and in again"
)

// allowWindowsCaller decides for a Windows caller; groupSID is the SID of
// the local ghostwire group, "" when it does not exist.
func allowWindowsCaller(p Peer, groupSID string) error {
	if p.SID == "" {
		return fmt.Errorf("the caller could not be identified")
	}
	if p.SID == sidLocalSystem {
		return nil
	}
	for _, g := range []string{sidAdministrators, sidNetworkConfigOperators, groupSID} {
		if g != "" && slices.Contains(p.Groups, g) {
			return nil
		}
	}
	who := p.User
	if who == "" {
		who = p.SID
	}
	if groupSID == "" {
		return fmt.Errorf("%s may not control ghostwire: only administrators may until the local %q group exists; "+
			"ask an administrator to run `%s` (it creates the group) and to add you to it (`"+windowsGroupAddHint+"`), %s",
			who, GroupName, windowsGroupCreateHint, GroupName, who, windowsSignOutAfterJoining)
	}
	return fmt.Errorf("%s may not control ghostwire: ask an administrator to add you to the local %q group (`"+windowsGroupAddHint+"`), %s "+
		"(administrators: use an elevated prompt)", who, GroupName, GroupName, who, windowsSignOutAfterJoining)
}
