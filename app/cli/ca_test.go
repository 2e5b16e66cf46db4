package cli

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// A CA given with --ca-file is read here, as the person running the CLI;
// what is not a small regular file of certificates is refused before the
// daemon hears of it.
func TestReadCA(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(bad, []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := readCA(filepath.Join(dir, "missing.pem")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a missing file: %v", err)
	}
	cases := map[string]string{
		dir: "not a regular file",
		bad: "no PEM certificate",
	}
	if runtime.GOOS != "windows" {
		cases["/dev/zero"] = "not a regular file" // would never end if read
	}
	for path, want := range cases {
		if _, err := readCA(path); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an error containing %q", path, err, want)
		}
	}
}
