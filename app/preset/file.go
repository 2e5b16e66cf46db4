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
	fh, err := os.Open(f.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("cannot read the preset %s: %w", f.Path, err)
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("the preset %s is not a regular file: it is ignored", f.Path)
	}
	if err := adminOnly(fi); err != nil {
		return nil, fmt.Errorf("the preset %s is ignored: %v (fix: `sudo chown root:root %s && sudo chmod 644 %s`)", f.Path, err, f.Path, f.Path)
	}
	b, err := io.ReadAll(io.LimitReader(fh, maxFile+1))
	if err != nil {
		return nil, fmt.Errorf("cannot read the preset %s: %w", f.Path, err)
	}
	p, err := Parse(b, f.Path)
	if err != nil {
		return nil, err
	}
	return &p, nil
}
