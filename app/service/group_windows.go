package service

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/windows"
)

var (
	netapi32                    = windows.NewLazySystemDLL("netapi32.dll")
	procNetLocalGroupAdd        = netapi32.NewProc("NetLocalGroupAdd")
	procNetLocalGroupAddMembers = netapi32.NewProc("NetLocalGroupAddMembers")
)

// LOCALGROUP_INFO_1 and LOCALGROUP_MEMBERS_INFO_0 (lmaccess.h).
type localGroupInfo1 struct{ name, comment *uint16 }
type localGroupMembersInfo0 struct{ sid *windows.SID }

const (
	nerrGroupExists     = 2223
	errorAliasExists    = 1379
	errorMemberInAlias  = 1378
	localGroupInfoLevel = 1
)

// ensureGroup creates the local ghostwire group when it is missing and
// adds the user who runs the installation (unless that is SYSTEM, as in an
// MSI custom action). It returns the user it added ("" when none).
func ensureGroup() (string, error) {
	name, _ := windows.UTF16PtrFromString(Group)
	comment, _ := windows.UTF16PtrFromString("Members may connect and disconnect ghostwire VPN profiles")
	info := localGroupInfo1{name: name, comment: comment}
	if err := procNetLocalGroupAdd.Find(); err != nil {
		return "", err
	}
	r, _, _ := procNetLocalGroupAdd.Call(0, localGroupInfoLevel, uintptr(unsafe.Pointer(&info)), 0)
	if r != 0 && r != nerrGroupExists && r != errorAliasExists {
		return "", fmt.Errorf("cannot create the local group %q: %w", Group, windows.Errno(r))
	}
	u, err := windows.GetCurrentProcessToken().GetTokenUser()
	if err != nil {
		return "", err
	}
	if u.User.Sid.IsWellKnown(windows.WinLocalSystemSid) {
		return "", nil
	}
	m := localGroupMembersInfo0{sid: u.User.Sid}
	r, _, _ = procNetLocalGroupAddMembers.Call(0, uintptr(unsafe.Pointer(name)), 0, uintptr(unsafe.Pointer(&m)), 1)
	if r != 0 && r != errorMemberInAlias {
		return "", fmt.Errorf("cannot add you to the local group %q: %w", Group, windows.Errno(r))
	}
	who := u.User.Sid.String()
	if acct, dom, _, err := u.User.Sid.LookupAccount(""); err == nil {
		who = dom + `\` + acct
	}
	return who, nil
}
