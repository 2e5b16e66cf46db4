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
//     `net localgroup ghostwire "NT AUTHORITY\INTERACTIVE" /add`;
//   - when the machine setting InteractiveUsersValue under
//     HKLM\WindowsSettingsKey is "1" (the MSI writes it unless installed
//     with INTERACTIVEUSERS=0), everyone logged on at the machine, at its
//     screen or over Remote Desktop: their token holds INTERACTIVE
//     (S-1-5-4). That is who may use it on a Mac (the person at the screen),
//     and what an organisation deploying ghostwire to its laptops expects:
//     the person who clicks Connect may connect. Services, scheduled tasks
//     and network logons (SSH, file shares) do not hold INTERACTIVE.
//
// This file is portable so that the table is tested on Linux.
const (
	sidLocalSystem             = "S-1-5-18"
	sidInteractive             = "S-1-5-4"
	sidAdministrators          = "S-1-5-32-544"
	sidNetworkConfigOperators  = "S-1-5-32-556"
	windowsGroupAddHint        = `net localgroup %s "%s" /add`
	windowsGroupCreateHint     = "ghostwire daemon install"
	windowsSignOutAfterJoining = "then sign out and in again"
)

// WindowsSettingsKey (under HKEY_LOCAL_MACHINE) holds the machine's
// ghostwire settings that only administrators may change; the MSI writes
// InteractiveUsersValue there.
const (
	WindowsSettingsKey    = `SOFTWARE\Ghostwire`
	InteractiveUsersValue = "InteractiveUsers"
)

// allowWindowsCaller decides for a Windows caller; groupSID is the SID of
// the local ghostwire group, "" when it does not exist; interactive says
// whether everyone logged on at the machine may use it.
func allowWindowsCaller(p Peer, groupSID string, interactive bool) error {
	if p.SID == "" {
		return fmt.Errorf("the caller could not be identified")
	}
	if p.SID == sidLocalSystem {
		return nil
	}
	admitted := []string{sidAdministrators, sidNetworkConfigOperators, groupSID}
	if interactive {
		admitted = append(admitted, sidInteractive)
	}
	for _, g := range admitted {
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
