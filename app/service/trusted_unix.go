//go:build unix

package service

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"syscall"
)

// fileOwner is what rootOnly needs to know about one path.
type fileOwner struct {
	uid, gid uint32
	mode     os.FileMode
}

func statOwner(p string) (fileOwner, error) {
	fi, err := os.Stat(p)
	if err != nil {
		return fileOwner{}, err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileOwner{}, fmt.Errorf("cannot read the owner of %s", p)
	}
	return fileOwner{uid: st.Uid, gid: st.Gid, mode: fi.Mode()}, nil
}

// rootOnly reports why path is not root's alone, or nil when it is: the
// file and every folder above it owned by root and writable by nobody
// else, except a group in adminGroups (on macOS /Applications is writable
// by the admin group, whose members can become root anyway). A root
// service must never run a program another user can replace.
func rootOnly(path string, adminGroups ...uint32) error {
	p, err := filepath.EvalSymlinks(path)
	if err != nil {
		return err
	}
	return rootOnlyWith(p, statOwner, adminGroups)
}

func rootOnlyWith(p string, stat func(string) (fileOwner, error), adminGroups []uint32) error {
	for {
		o, err := stat(p)
		if err != nil {
			return err
		}
		switch {
		case o.uid != 0:
			return fmt.Errorf("%s belongs to user %d, not root", p, o.uid)
		case o.mode.Perm()&0o002 != 0:
			return fmt.Errorf("%s can be changed by anyone", p)
		case o.mode.Perm()&0o020 != 0 && !slices.Contains(adminGroups, o.gid):
			return fmt.Errorf("%s can be changed by the members of group %d", p, o.gid)
		}
		parent := filepath.Dir(p)
		if parent == p {
			return nil
		}
		p = parent
	}
}
