package atomicfile

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

func TestWriteReplacesWhole(t *testing.T) { testWrite(t, t.TempDir()) }

func testWrite(t *testing.T, dir string) {
	path := filepath.Join(dir, "profiles.json")
	for _, content := range []string{"first\n", "second, longer\n"} {
		if err := Write(path, []byte(content), 0o600, nil); err != nil {
			t.Fatal(err)
		}
		if b, err := os.ReadFile(path); err != nil || string(b) != content {
			t.Fatalf("%q, %v; want %q", b, err, content)
		}
	}
	if runtime.GOOS != "windows" {
		if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("mode %v, %v", fi.Mode(), err)
		}
	}
	if es, _ := os.ReadDir(dir); len(es) != 1 {
		t.Fatalf("temporary files left behind: %v", es)
	}
	if err := Write(filepath.Join(dir, "missing", "x"), nil, 0o644, nil); err == nil {
		t.Fatal("a missing folder must be an error")
	}
}
