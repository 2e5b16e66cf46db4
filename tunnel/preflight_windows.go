package tunnel

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"golang.org/x/sys/windows"
)

// errNotElevated is returned by Up without Administrator rights.
var errNotElevated = errors.New("creating the tunnel needs Administrator rights: install the daemon as a service " +
	"(`ghostwire daemon install` from an elevated prompt), or start `ghostwire daemon` from an elevated prompt")

// checkElevated refuses a caller without Administrator rights (neither an
// enabled Administrators group, which SYSTEM has too, nor SYSTEM itself):
// wintun and the IP Helper setters would fail one by one otherwise. It
// asks about the calling thread's effective token, so an impersonating
// thread is judged as whom it acts for.
func checkElevated() error {
	admins, err := windows.CreateWellKnownSid(windows.WinBuiltinAdministratorsSid)
	if err != nil {
		return err
	}
	if ok, err := windows.Token(0).IsMember(admins); err == nil && ok {
		return nil
	}
	if u, err := windows.GetCurrentProcessToken().GetTokenUser(); err == nil && u.User.Sid.IsWellKnown(windows.WinLocalSystemSid) {
		return nil
	}
	return errNotElevated
}

// CheckElevated is checkElevated for the daemon, which refuses to start
// without the rights the tunnel will need.
func CheckElevated() error { return checkElevated() }

// wintunArch is the folder of the wintun zip that holds the DLL for this build.
func wintunArch() string {
	switch runtime.GOARCH {
	case "386":
		return "x86"
	default:
		return runtime.GOARCH // amd64, arm64, arm
	}
}

// checkWintun loads wintun.dll the way golang.zx2c4.com/wintun does (the
// exe's folder, then System32) and says what to do when it is missing,
// instead of wintun's "Unable to load library" deep in Up.
func checkWintun() error {
	const flags = windows.LOAD_LIBRARY_SEARCH_APPLICATION_DIR | windows.LOAD_LIBRARY_SEARCH_SYSTEM32
	if _, err := windows.LoadLibraryEx("wintun.dll", 0, flags); err == nil {
		return nil // stays loaded: wintun's own loader finds it
	} else {
		exe, _ := os.Executable()
		dir := filepath.Dir(exe)
		if _, serr := os.Stat(filepath.Join(dir, "wintun.dll")); serr == nil {
			return fmt.Errorf("wintun.dll in %s cannot be loaded (%v): it must be the %s build from the wintun 0.14.1 zip (https://www.wintun.net)", dir, err, wintunArch())
		}
		return fmt.Errorf("wintun.dll is missing: it belongs in %s, beside %s (the ghostwire installer puts it there; "+
			"otherwise copy bin\\%s\\wintun.dll from the wintun 0.14.1 zip at https://www.wintun.net)", dir, filepath.Base(exe), wintunArch())
	}
}
