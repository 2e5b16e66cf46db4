package assets

import (
	"bytes"
	"encoding/binary"
	"image/png"
	"testing"
)

func TestEveryStateHasEveryFormat(t *testing.T) {
	for _, s := range States {
		b, err := PNG(s)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(bytes.NewReader(b))
		if err != nil || img.Bounds().Dx() != 64 {
			t.Errorf("%s.png: %v %v", s, err, img.Bounds())
		}
		ico, err := ICO(s)
		if err != nil {
			t.Fatal(err)
		}
		var hdr [3]uint16
		if err := binary.Read(bytes.NewReader(ico), binary.LittleEndian, &hdr); err != nil || hdr[0] != 0 || hdr[1] != 1 || hdr[2] != 5 {
			t.Errorf("%s.ico header %v: %v", s, hdr, err)
		}
		for _, dark := range []bool{false, true} {
			b, err := Template(s, dark)
			if err != nil {
				t.Fatal(err)
			}
			img, err := png.Decode(bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			// Monochrome: every visible pixel is black (light) or white (dark).
			for y := 0; y < img.Bounds().Dy(); y++ {
				for x := 0; x < img.Bounds().Dx(); x++ {
					r, g, bl, a := img.At(x, y).RGBA()
					if a == 0 {
						continue
					}
					if r != g || g != bl || (dark && r != a) || (!dark && r != 0) {
						t.Fatalf("%s template (dark=%v) pixel %d,%d = %d %d %d %d is not monochrome", s, dark, x, y, r, g, bl, a)
					}
				}
			}
		}
	}
	if _, err := PNG("nonsense"); err == nil {
		t.Error("unknown state must be an error")
	}
}
