//go:build unix

package service

import (
	"io/fs"
	"os"
	"strings"
	"testing"
)

// A Mac's folders, as rootOnly sees them.
var macFS = map[string]fileOwner{
	"/":                                      {0, 0, fs.ModeDir | 0o755},
	"/Applications":                          {0, 80, fs.ModeDir | 0o775}, // root:admin, group-writable
	"/Applications/Ghostwire.app":            {0, 0, fs.ModeDir | 0o755},
	"/Applications/Ghostwire.app/ghostwire":  {0, 0, 0o755},
	"/Users":                                 {0, 80, fs.ModeDir | 0o755},
	"/Users/ana":                             {501, 20, fs.ModeDir | 0o750},
	"/Users/ana/bin":                         {0, 0, fs.ModeDir | 0o755},
	"/Users/ana/bin/ghostwire":               {0, 0, 0o755},
	"/tmp":                                   {0, 0, fs.ModeDir | fs.ModeSticky | 0o777},
	"/tmp/ghostwire":                         {0, 0, 0o755},
	"/usr":                                   {0, 0, fs.ModeDir | 0o755},
	"/usr/local":                             {0, 0, fs.ModeDir | 0o755},
	"/usr/local/bin":                         {0, 0, fs.ModeDir | 0o775}, // root:wheel, group-writable
	"/usr/local/bin/ghostwire":               {0, 0, 0o755},
	"/usr/local/libexec":                     {0, 0, fs.ModeDir | 0o755},
	"/usr/local/libexec/ghostwire":           {0, 0, fs.ModeDir | 0o755},
	"/usr/local/libexec/ghostwire/ghostwire": {0, 0, 0o755},
	"/usr/local/libexec/ghostwire/writable":  {0, 20, 0o775},
}

func TestRootOnly(t *testing.T) {
	stat := func(p string) (fileOwner, error) {
		if o, ok := macFS[p]; ok {
			return o, nil
		}
		return fileOwner{}, fs.ErrNotExist
	}
	for path, want := range map[string]string{
		"/Applications/Ghostwire.app/ghostwire":  "",
		"/usr/local/libexec/ghostwire/ghostwire": "",
		"/usr/local/bin/ghostwire":               "", // wheel is trusted
		"/Users/ana/bin/ghostwire":               "belongs to user 501",
		"/tmp/ghostwire":                         "can be changed by anyone",
		"/usr/local/libexec/ghostwire/writable":  "members of group 20",
	} {
		err := rootOnlyWith(path, stat, []uint32{0, 80})
		if (want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), want)) {
			t.Errorf("%s: %v, want %q", path, err, want)
		}
	}
	if err := rootOnlyWith("/Applications/Ghostwire.app/ghostwire", stat, nil); err == nil {
		t.Error("a group-writable folder passed with no group trusted")
	}
	// The real file system: a root-owned system program is trusted.
	if os.Geteuid() == 0 {
		if err := rootOnly("/bin/sh", 0); err != nil {
			t.Errorf("/bin/sh: %v", err)
		}
	}
}
