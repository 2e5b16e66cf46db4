package wintest

import (
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"unsafe"

	"golang.org/x/sys/windows"
)

// UnderWine reports whether the test runs under Wine (its ntdll exports
// wine_get_version).
func UnderWine() bool {
	return windows.NewLazySystemDLL("ntdll.dll").NewProc("wine_get_version").Find() == nil
}

// TempDir is t.TempDir with a cleanup Wine can do: Go 1.26's RemoveAll
// uses POSIX-semantics deletion, which Wine 8 lacks ("Invalid function").
func TempDir(t testing.TB) string {
	t.Helper()
	d, err := os.MkdirTemp("", "gwtest")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { removeTree(d) })
	return d
}

// removeTree removes d and everything in it, one entry at a time (as the
// CLI's purge does: os.RemoveAll needs POSIX delete semantics Wine lacks).
func removeTree(d string) {
	var dirs []string
	_ = filepath.WalkDir(d, func(p string, e fs.DirEntry, err error) error {
		switch {
		case err != nil:
		case e.IsDir():
			dirs = append(dirs, p)
		default:
			_ = os.Remove(p)
		}
		return nil
	})
	for i := len(dirs) - 1; i >= 0; i-- {
		_ = os.Remove(dirs[i])
	}
}

var procCreateRestrictedToken = windows.NewLazySystemDLL("advapi32.dll").NewProc("CreateRestrictedToken")

// AsPlainUser runs f on a thread that acts with this process's token
// minus the Administrators group (deny-only), as an administrator's
// unelevated token has it. It skips t where no such token can be made.
func AsPlainUser(t testing.TB, f func()) {
	t.Helper()
	var proc windows.Token
	if err := windows.OpenProcessToken(windows.CurrentProcess(), windows.TOKEN_ALL_ACCESS, &proc); err != nil {
		t.Fatal(err)
	}
	defer proc.Close()
	admins, err := windows.CreateWellKnownSid(windows.WinBuiltinAdministratorsSid)
	if err != nil {
		t.Fatal(err)
	}
	disable := windows.SIDAndAttributes{Sid: admins}
	var restricted windows.Token
	if r, _, e := procCreateRestrictedToken.Call(uintptr(proc), 0, 1, uintptr(unsafe.Pointer(&disable)), 0, 0, 0, 0,
		uintptr(unsafe.Pointer(&restricted))); r == 0 {
		t.Skipf("cannot make a restricted token here: %v", e)
	}
	defer restricted.Close()
	var imp windows.Token
	if err := windows.DuplicateTokenEx(restricted, windows.MAXIMUM_ALLOWED, nil, windows.SecurityImpersonation, windows.TokenImpersonation, &imp); err != nil {
		t.Fatal(err)
	}
	defer imp.Close()
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := windows.SetThreadToken(nil, imp); err != nil {
			runtime.UnlockOSThread()
			done <- err
			return
		}
		f()
		if err := windows.RevertToSelf(); err == nil {
			runtime.UnlockOSThread()
		} // else the thread dies with this goroutine
		done <- nil
	}()
	if err := <-done; err != nil {
		t.Fatalf("cannot act as a plain user: %v", err)
	}
}
