//go:build unix

// Used by the macOS menu-bar app; on Linux the tray's session-bus name does
// the same (app/tray), and this builds there so that it is tested there.

package instance

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// lockPath is a per-user file the running menu-bar app holds an flock on:
// the kernel drops the lock when the process ends, however it ends. It is
// in the user's cache folder (~/Library/Caches/ghostwire), never a folder
// every user shares, where another user's file would be in the way.
func lockPath() string {
	if dir, err := os.UserCacheDir(); err == nil {
		d := filepath.Join(dir, "ghostwire")
		if err := os.MkdirAll(d, 0o700); err == nil {
			return filepath.Join(d, "tray.lock")
		}
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("com.ghostwire.Tray.%d.lock", os.Getuid()))
}

// Acquire marks the menu-bar app as running for this user until release is
// called (or the process ends); ErrRunning when one already does.
func Acquire() (release func(), err error) {
	f, err := os.OpenFile(lockPath(), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, ErrRunning
		}
		return nil, err
	}
	return func() { f.Close() }, nil
}

// Running reports whether the menu-bar app runs for this user.
func Running() bool {
	f, err := os.OpenFile(lockPath(), os.O_RDWR, 0)
	if err != nil {
		return false
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		return errors.Is(err, unix.EWOULDBLOCK)
	}
	_ = unix.Flock(int(f.Fd()), unix.LOCK_UN)
	return false
}
