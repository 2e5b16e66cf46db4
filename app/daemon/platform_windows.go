package daemon

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"unsafe"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/registry"

	"github.com/ghostwire/ghostwire/app/localapi"
	"github.com/ghostwire/ghostwire/app/localapi/winpipe"
	"github.com/ghostwire/ghostwire/app/service"
	"github.com/ghostwire/ghostwire/tunnel"
)

// DefaultStateDir holds profiles.json and the tunnel journals; the daemon
// makes it readable and writable by SYSTEM and Administrators only.
var DefaultStateDir = filepath.Join(service.ProgramData(), "ghostwire")

func init() { prepareStateDir = secureStateDir }

// checkPrivileged refuses to start without the rights the tunnel needs:
// Administrator rights (see tunnel.CheckElevated).
func checkPrivileged() error {
	if tunnel.CheckElevated() == nil {
		return nil
	}
	return errors.New("the ghostwire daemon needs Administrator rights (it creates the tunnel adapter, routes and DNS rules): " +
		"install it as a service with `ghostwire daemon install` from an elevated prompt, or run `ghostwire daemon` from one")
}

// harden keeps planted DLLs out of the privileged process: only System32 is
// searched for the DLLs Windows loads on our behalf (wintun.dll is loaded
// from the program's folder by name, explicitly). Keys and tokens cannot
// end up in a crash dump Windows writes: Go handles its own crashes and
// never invokes Windows Error Reporting unless GOTRACEBACK=wer.
func harden() error {
	if err := windows.SetDllDirectory(""); err != nil {
		return fmt.Errorf("cannot take the current folder out of the DLL search: %w", err)
	}
	return windows.SetDefaultDllDirectories(windows.LOAD_LIBRARY_SEARCH_SYSTEM32)
}

// Listen serves the local API on the named pipe path (""/default: the
// pipe the CLI and the tray look for). mode is ignored: who may connect is
// the pipe's security descriptor and, per request, AllowRootAndGroup.
func Listen(path string, _ os.FileMode) (net.Listener, error) {
	if path == "" {
		path = localapi.SocketPath()
	}
	l, err := winpipe.Listen(path, winpipe.SDDL)
	if errors.Is(err, winpipe.ErrTaken) {
		who := "another process"
		if pid, exe, herr := winpipe.Holder(path); herr == nil {
			who = fmt.Sprintf("process %d (%s)", pid, exe)
		}
		return nil, fmt.Errorf("the local API pipe %s is already served by %s: another ghostwire daemon is running, "+
			"or a program took the name to pose as ghostwire; stop it (Task Manager, or `sc stop ghostwire`) and start ghostwire again", path, who)
	}
	return l, err
}

func peerCred(c net.Conn) (Peer, error) {
	pc, ok := c.(*winpipe.Conn)
	if !ok {
		return Peer{}, fmt.Errorf("not a named pipe: %T", c)
	}
	id, err := pc.Identify()
	if err != nil {
		return Peer{UID: -1, GID: -1, PID: id.PID}, err
	}
	return Peer{UID: -1, GID: -1, PID: id.PID, SID: id.SID, User: id.User, Groups: id.Groups}, nil
}

// AllowRootAndGroup lets SYSTEM, administrators, Network Configuration
// Operators and members of the local ghostwire group in (winauth.go).
func AllowRootAndGroup(p Peer) error {
	return allowWindowsCaller(p, localGroupSID(GroupName), interactiveUsersAllowed())
}

// interactiveUsersAllowed reads the machine setting the MSI writes
// (winauth.go): "1" (or DWORD 1) lets everyone logged on at the machine in.
// It is read at each decision, so a change needs no restart.
func interactiveUsersAllowed() bool {
	k, err := registry.OpenKey(registry.LOCAL_MACHINE, WindowsSettingsKey, registry.QUERY_VALUE|registry.WOW64_64KEY)
	if err != nil {
		return false
	}
	defer k.Close()
	if s, _, err := k.GetStringValue(InteractiveUsersValue); err == nil {
		return strings.TrimSpace(s) == "1"
	}
	n, _, err := k.GetIntegerValue(InteractiveUsersValue)
	return err == nil && n == 1
}

// localGroupSID is the SID of a local group, "" when it does not exist.
func localGroupSID(name string) string {
	sid, _, typ, err := windows.LookupSID("", name)
	if err != nil || (typ != windows.SidTypeAlias && typ != windows.SidTypeGroup) {
		return ""
	}
	return sid.String()
}

// stateDirSDDL: SYSTEM and Administrators only, inherited by everything
// inside, nothing inherited from %ProgramData% (which lets every user
// create files there).
const stateDirSDDL = "O:BAG:SYD:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)"

// secureStateDir creates the state directory with its ACL, or, when it
// exists, checks who owns it and resets its ACL. A directory someone else
// created first is refused: the daemon undoes what journals in it say as
// SYSTEM, so it must never read a directory a user could have filled.
func secureStateDir(dir string) error {
	sd, err := windows.SecurityDescriptorFromString(stateDirSDDL)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return fmt.Errorf("cannot create %s: %w", filepath.Dir(dir), err)
	}
	p, err := windows.UTF16PtrFromString(dir)
	if err != nil {
		return err
	}
	sa := &windows.SecurityAttributes{Length: uint32(unsafe.Sizeof(windows.SecurityAttributes{})), SecurityDescriptor: sd}
	// Created with its ACL, so there is no moment when it has another.
	if err := windows.CreateDirectory(p, sa); err != nil {
		if !errors.Is(err, windows.ERROR_ALREADY_EXISTS) {
			return fmt.Errorf("cannot create the state directory %s: %w", dir, err)
		}
		cur, err := windows.GetNamedSecurityInfo(dir, windows.SE_FILE_OBJECT, windows.OWNER_SECURITY_INFORMATION)
		if err != nil {
			return fmt.Errorf("cannot read who owns the state directory %s: %w", dir, err)
		}
		owner, _, err := cur.Owner()
		if err != nil {
			return err
		}
		if !trustedOwner(owner) {
			return fmt.Errorf("the state directory %s belongs to %s, not to SYSTEM or Administrators: someone created it before ghostwire did; "+
				"an administrator should look at what is in it, delete it, and start ghostwire again", dir, owner)
		}
	}
	// Set again in every case: a directory from an older version, an ACL an
	// administrator loosened, or a system that ignored the one above (Wine).
	dacl, _, err := sd.DACL()
	if err != nil {
		return err
	}
	err = windows.SetNamedSecurityInfo(dir, windows.SE_FILE_OBJECT,
		windows.DACL_SECURITY_INFORMATION|windows.PROTECTED_DACL_SECURITY_INFORMATION, nil, nil, dacl, nil)
	if err != nil {
		return fmt.Errorf("cannot restrict the state directory %s to SYSTEM and Administrators: %w", dir, err)
	}
	return nil
}

// trustedOwner: SYSTEM, Administrators, TrustedInstaller, or this
// process's own user (an administrator who ran the daemon by hand).
func trustedOwner(owner *windows.SID) bool {
	if owner.IsWellKnown(windows.WinLocalSystemSid) || owner.IsWellKnown(windows.WinBuiltinAdministratorsSid) {
		return true
	}
	if owner.String() == "S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464" { // NT SERVICE\TrustedInstaller
		return true
	}
	u, err := windows.GetCurrentProcessToken().GetTokenUser()
	return err == nil && u.User.Sid.Equals(owner)
}
