package main

import (
	"bytes"
	"encoding/binary"
	"image/color"
	"math"
	"os"
	"path/filepath"
)

// The macOS application icon (Finder, Dock, the Login Items list): the
// connected ghost in white on a rounded square, as an .icns file for the
// app bundle (packaging/macos).

// roundedSquare is the macOS icon grid's body: 80% of the canvas, corners
// of about a fifth of its side.
func roundedSquare(x, y float64) bool {
	const m, r = 0.1, 0.18
	cx := math.Max(m+r, math.Min(1-m-r, x))
	cy := math.Max(m+r, math.Min(1-m-r, y))
	return x >= m && x <= 1-m && y >= m && y <= 1-m && sq(x-cx)+sq(y-cy) <= r*r
}

// scaled draws s inside the square [off, off+size].
func scaled(s shape, off, size float64) shape {
	return func(x, y float64) bool { return s((x-off)/size, (y-off)/size) }
}

var appIcon = []layer{
	{s: roundedSquare, c: color.NRGBA{0x1f, 0x3a, 0x5f, 0xff}},
	{s: scaled(solidGhost, 0.2, 0.6), c: color.NRGBA{0xff, 0xff, 0xff, 0xff}},
}

// icnsTypes are the PNG-carrying icon types and their pixel sizes
// (ic04/ic05 hold 16 and 32 px; ic11–ic14 are the @2x variants).
var icnsTypes = []struct {
	typ string
	px  int
}{
	{"ic04", 16}, {"ic11", 32}, {"ic05", 32}, {"ic12", 64},
	{"ic07", 128}, {"ic13", 256}, {"ic08", 256}, {"ic14", 512}, {"ic09", 512},
}

// encodeICNS packs PNG images into an .icns file: "icns", the total
// length, then per image its type, its length (header included) and data,
// lengths big-endian.
func encodeICNS(types []string, pngs [][]byte) []byte {
	var body bytes.Buffer
	for i, p := range pngs {
		body.WriteString(types[i])
		_ = binary.Write(&body, binary.BigEndian, uint32(8+len(p)))
		body.Write(p)
	}
	var b bytes.Buffer
	b.WriteString("icns")
	_ = binary.Write(&b, binary.BigEndian, uint32(8+body.Len()))
	b.Write(body.Bytes())
	return b.Bytes()
}

// generateAppIcon writes Ghostwire.icns into dir.
func generateAppIcon(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	byPx := map[int][]byte{}
	var types []string
	var pngs [][]byte
	for _, t := range icnsTypes {
		if byPx[t.px] == nil {
			byPx[t.px] = encodePNG(render(appIcon, t.px, nil))
		}
		types = append(types, t.typ)
		pngs = append(pngs, byPx[t.px])
	}
	return os.WriteFile(filepath.Join(dir, "Ghostwire.icns"), encodeICNS(types, pngs), 0o644)
}
