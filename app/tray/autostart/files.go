package autostart

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ghostwire/ghostwire/internal/atomicfile"
)

// fileEnabled reports whether path holds a registration we wrote.
func fileEnabled(path string) (bool, error) {
	_, err := os.Stat(path)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, os.ErrNotExist):
		return false, nil
	default:
		return false, fmt.Errorf("cannot tell whether Ghostwire starts at login (%s): %w", path, err)
	}
}

// writeFile writes content to path atomically (temp file + rename), creating
// the folder, so a crash never leaves half a file that the desktop would parse.
func writeFile(path, content string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("cannot create %s to start Ghostwire at login: %w", filepath.Dir(path), err)
	}
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, []byte(content)) {
		return nil
	}
	if err := atomicfile.Write(path, []byte(content), 0o644, nil); err != nil {
		return fmt.Errorf("cannot install %s: %w", path, err)
	}
	return nil
}

func removeFile(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("cannot remove %s to stop starting Ghostwire at login: %w", path, err)
	}
	return nil
}

func executable() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("cannot find the ghostwire program to start at login: %w", err)
	}
	if r, err := filepath.EvalSymlinks(exe); err == nil {
		exe = r
	}
	return exe, nil
}
