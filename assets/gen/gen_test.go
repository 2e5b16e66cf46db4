package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// The committed icons are exactly what the drawing produces: change the drawing
// and run `make icons`, never edit the files by hand.
func TestCommittedIconsAreUpToDate(t *testing.T) {
	dir := t.TempDir()
	if err := generate(dir); err != nil {
		t.Fatal(err)
	}
	n := 0
	err := filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		want, _ := os.ReadFile(path)
		got, err := os.ReadFile(filepath.Join("..", "icons", rel))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("assets/icons/%s is missing or stale: run `make icons`", rel)
		}
		n++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != 7*(1+1+4) {
		t.Errorf("generated %d files, want 42 (7 states × linux png, windows ico, 4 darwin templates)", n)
	}
}
