//go:build unix

package preset

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// adminOnly: owned by root, writable by nobody else.
func adminOnly(fi os.FileInfo) error {
	if fi.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("others may write it (mode %v)", fi.Mode().Perm())
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return errors.New("its owner cannot be read")
	}
	if st.Uid != 0 {
		return fmt.Errorf("it belongs to user %d, not root", st.Uid)
	}
	return nil
}
