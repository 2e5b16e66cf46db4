package preset

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// File is a preset in a JSON file that only an administrator may write.
type File struct {
	Path string
}

// Name is the file's path.
func (f File) Name() string { return f.Path }

// Read returns the preset in the file, (nil, nil) when there is none. The file
// must be a regular file owned by root (on Unix) that nobody else may write:
// a preset chooses the server people sign in to, so anyone able to change it
// could send them elsewhere.
func (f File) Read() (*Preset, error) {
	fix := fmt.Sprintf("fix: `sudo chown root:root %s && sudo chmod 644 %s`", f.Path, f.Path)
	return readAdminFile(f.Path, "preset", false, fix, func(b []byte) (*Preset, error) {
		p, err := Parse(b, f.Path)
		if err != nil {
			return nil, err
		}
		return &p, nil
	})
}

// readAdminFile reads the file at path for parse, (nil, nil) when there is
// none. It must be a regular file that only an administrator may write (see
// adminOnly); what names it in messages ("preset", plural: "managed
// preferences") and fix says how to mend its owner or mode.
func readAdminFile(path, what string, plural bool, fix string, parse func([]byte) (*Preset, error)) (*Preset, error) {
	fh, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("cannot read the %s %s: %w", what, path, err)
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil {
		return nil, err
	}
	is, it := "is", "it is"
	if plural {
		is, it = "are", "they are"
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("the %s %s %s not a regular file: %s ignored", what, path, is, it)
	}
	if err := adminOnly(fi); err != nil {
		return nil, fmt.Errorf("the %s %s %s ignored: %v (%s)", what, path, is, err, fix)
	}
	b, err := io.ReadAll(io.LimitReader(fh, maxFile+1))
	if err != nil {
		return nil, fmt.Errorf("cannot read the %s %s: %w", what, path, err)
	}
	return parse(b)
}
