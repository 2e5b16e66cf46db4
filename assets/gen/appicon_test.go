package main

import (
	"bytes"
	"encoding/binary"
	"image/png"
	"os"
	"path/filepath"
	"testing"
)

// The committed .icns is what the drawing produces, and it is a valid icon
// file: every entry a PNG of its type's size.
func TestCommittedAppIconIsUpToDate(t *testing.T) {
	dir := t.TempDir()
	if err := generateAppIcon(dir); err != nil {
		t.Fatal(err)
	}
	want, _ := os.ReadFile(filepath.Join(dir, "Ghostwire.icns"))
	got, err := os.ReadFile(filepath.Join("..", "app", "Ghostwire.icns"))
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("assets/app/Ghostwire.icns is missing or stale: run `make icons`")
	}
	if string(got[:4]) != "icns" || int(binary.BigEndian.Uint32(got[4:8])) != len(got) {
		t.Fatalf("bad icns header")
	}
	sizes := map[string]int{}
	for _, it := range icnsTypes {
		sizes[it.typ] = it.px
	}
	n := 0
	for b := got[8:]; len(b) > 0; n++ {
		typ, l := string(b[:4]), int(binary.BigEndian.Uint32(b[4:8]))
		img, err := png.Decode(bytes.NewReader(b[8:l]))
		if err != nil || img.Bounds().Dx() != sizes[typ] {
			t.Errorf("%s: %v, %v px, want %d", typ, err, img.Bounds().Dx(), sizes[typ])
		}
		b = b[l:]
	}
	if n != len(icnsTypes) {
		t.Errorf("%d entries, want %d", n, len(icnsTypes))
	}
}
