// Package atomicfile writes a file whole or not at all: the content goes to
// a temporary file in the same folder, which is then renamed over the
// target, so a reader (systemd, launchd, the desktop, the daemon's next
// start) or a crash never sees half a file.
package atomicfile

import (
	"os"
	"path/filepath"
)

// Owner is the user and group a file is given (Unix only).
type Owner struct{ UID, GID int }

// Write replaces path with b. The file gets mode exactly (not masked by
// the umask) and, when owner is not nil, that owner, before it appears at
// path. path's folder must exist. The errors are the os package's, which
// name the file; callers say what the file is for.
func Write(path string, b []byte, mode os.FileMode, owner *Owner) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after a successful rename there is nothing left to remove
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if owner != nil {
		if err := tmp.Chown(owner.UID, owner.GID); err != nil {
			tmp.Close()
			return err
		}
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
