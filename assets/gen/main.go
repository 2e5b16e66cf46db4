// Command gen draws the tray icons from one description (this file) and writes
// them for every OS: colour PNGs for Linux, ICO files for Windows, monochrome
// template PNGs (light and dark, 1x and 2x) for the macOS menu bar. Run it with
// `make icons` (go run ./assets/gen -out assets/icons).
//
// The drawing is a ghost: solid when connected, an outline otherwise, with a
// badge for the states that need a glance (connecting, reconnecting, sign-in
// needed, error) and a slash when the service is not running.
package main

import (
	"bytes"
	"encoding/binary"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"log"
	"math"
	"os"
	"path/filepath"
)

// shape reports whether a point (unit square, y down) is inside.
type shape func(x, y float64) bool

func circle(cx, cy, r float64) shape {
	return func(x, y float64) bool { return (x-cx)*(x-cx)+(y-cy)*(y-cy) <= r*r }
}

func ellipse(cx, cy, rx, ry float64) shape {
	return func(x, y float64) bool { return sq((x-cx)/rx)+sq((y-cy)/ry) <= 1 }
}

func rect(x0, y0, x1, y1 float64) shape {
	return func(x, y float64) bool { return x >= x0 && x <= x1 && y >= y0 && y <= y1 }
}

// segment is a thick line from (ax,ay) to (bx,by) with half-width w.
func segment(ax, ay, bx, by, w float64) shape {
	return func(x, y float64) bool {
		dx, dy := bx-ax, by-ay
		t := math.Max(0, math.Min(1, ((x-ax)*dx+(y-ay)*dy)/(dx*dx+dy*dy)))
		return sq(x-ax-t*dx)+sq(y-ay-t*dy) <= w*w
	}
}

func union(s ...shape) shape {
	return func(x, y float64) bool {
		for _, f := range s {
			if f(x, y) {
				return true
			}
		}
		return false
	}
}

func minus(a, b shape) shape { return func(x, y float64) bool { return a(x, y) && !b(x, y) } }

func sq(v float64) float64 { return v * v }

// ghost is the silhouette, shrunk by inset (for outlines).
func ghost(inset float64) shape {
	return union(
		circle(0.5, 0.42, 0.30-inset),
		rect(0.2+inset, 0.42, 0.8-inset, 0.78-inset),
		circle(0.3, 0.78, 0.1-inset), circle(0.5, 0.78, 0.1-inset), circle(0.7, 0.78, 0.1-inset),
	)
}

var eyes = union(ellipse(0.40, 0.42, 0.05, 0.07), ellipse(0.60, 0.42, 0.05, 0.07))

const stroke = 0.085

var (
	solidGhost   = minus(ghost(0), eyes)
	outlineGhost = union(minus(ghost(0), ghost(stroke)), eyes)
)

// The badge sits bottom right; a gap around it keeps it readable at 16 px.
const bx, by, br = 0.75, 0.75, 0.235

var (
	badge    = circle(bx, by, br)
	badgeGap = circle(bx, by, br+0.06)
	dots     = union(circle(bx-0.1, by, 0.04), circle(bx, by, 0.04), circle(bx+0.1, by, 0.04))
	bang     = union(rect(bx-0.033, by-0.15, bx+0.033, by+0.03), circle(bx, by+0.1, 0.04))
	cross    = union(segment(bx-0.1, by-0.1, bx+0.1, by+0.1, 0.04), segment(bx-0.1, by+0.1, bx+0.1, by-0.1, 0.04))
	// ring with a gap: "going round again"
	arc = func(x, y float64) bool {
		d := math.Hypot(x-bx, y-by)
		a := math.Atan2(y-by, x-bx)
		return d >= 0.085 && d <= 0.145 && !(a > -math.Pi/2 && a < 0)
	}
	arrowHead = func(x, y float64) bool { // small triangle at the gap's end, pointing up
		return y <= by+0.005 && y >= by-0.09 && math.Abs(x-(bx+0.115)) <= (y-(by-0.09))*0.75
	}
	slash    = segment(0.14, 0.1, 0.86, 0.9, 0.05)
	slashGap = segment(0.14, 0.1, 0.86, 0.9, 0.11)
)

// layer paints a shape in a colour, or erases it when erase is set.
type layer struct {
	s     shape
	c     color.NRGBA
	erase bool
}

var (
	grey   = color.NRGBA{0x7d, 0x85, 0x90, 0xff}
	green  = color.NRGBA{0x1f, 0xa0, 0x5a, 0xff}
	blue   = color.NRGBA{0x2f, 0x7c, 0xf6, 0xff}
	amber  = color.NRGBA{0xd9, 0x8e, 0x04, 0xff}
	orange = color.NRGBA{0xe8, 0x59, 0x0c, 0xff}
	red    = color.NRGBA{0xd1, 0x24, 0x2f, 0xff}
	white  = color.NRGBA{0xff, 0xff, 0xff, 0xff}
)

// withBadge is a ghost with a gap for the badge, the badge and its symbol (cut
// out of the badge in monochrome, white in colour).
func withBadge(body shape, bodyColor, badgeColor color.NRGBA, symbol shape) []layer {
	return []layer{
		{s: minus(body, badgeGap), c: bodyColor},
		{s: badge, c: badgeColor},
		{s: symbol, c: white, erase: true},
	}
}

// icons: one drawing per state; the names match app/tray/menu.Icon.
var icons = map[string][]layer{
	"connected":     {{s: solidGhost, c: green}},
	"disconnected":  {{s: outlineGhost, c: grey}},
	"connecting":    withBadge(outlineGhost, blue, blue, dots),
	"degraded":      withBadge(solidGhost, amber, amber, union(arc, arrowHead)),
	"needs-sign-in": withBadge(outlineGhost, grey, orange, bang),
	"error":         withBadge(outlineGhost, grey, red, cross),
	"no-daemon": {
		{s: minus(outlineGhost, slashGap), c: grey},
		{s: slash, c: grey},
	},
}

// render draws layers at size px with 4×4 supersampling. mono, when set, paints
// everything in that colour and makes the "white" symbols transparent (macOS
// template images are alpha masks).
func render(layers []layer, px int, mono *color.NRGBA) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, px, px))
	const ss = 4
	for py := 0; py < px; py++ {
		for pxx := 0; pxx < px; pxx++ {
			var r, g, b, a float64 // premultiplied
			for _, l := range layers {
				cov := 0.0
				for sy := 0; sy < ss; sy++ {
					for sx := 0; sx < ss; sx++ {
						x := (float64(pxx) + (float64(sx)+0.5)/ss) / float64(px)
						y := (float64(py) + (float64(sy)+0.5)/ss) / float64(px)
						if l.s(x, y) {
							cov++
						}
					}
				}
				cov /= ss * ss
				if cov == 0 {
					continue
				}
				if l.erase && mono != nil {
					r, g, b, a = r*(1-cov), g*(1-cov), b*(1-cov), a*(1-cov)
					continue
				}
				c := l.c
				if mono != nil {
					c = *mono
				}
				ca := float64(c.A) / 255 * cov
				r = float64(c.R)/255*ca + r*(1-ca)
				g = float64(c.G)/255*ca + g*(1-ca)
				b = float64(c.B)/255*ca + b*(1-ca)
				a = ca + a*(1-ca)
			}
			if a > 0 {
				img.SetNRGBA(pxx, py, color.NRGBA{
					R: uint8(math.Round(r / a * 255)), G: uint8(math.Round(g / a * 255)),
					B: uint8(math.Round(b / a * 255)), A: uint8(math.Round(a * 255)),
				})
			}
		}
	}
	return img
}

func encodePNG(img image.Image) []byte {
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		log.Fatal(err)
	}
	return b.Bytes()
}

// encodeICO packs PNG images into an ICO file (PNG entries: Windows Vista and later).
func encodeICO(pngs [][]byte, sizes []int) []byte {
	var b bytes.Buffer
	_ = binary.Write(&b, binary.LittleEndian, [3]uint16{0, 1, uint16(len(pngs))})
	off := 6 + 16*len(pngs)
	for i, p := range pngs {
		dim := uint8(sizes[i])
		if sizes[i] >= 256 {
			dim = 0 // 0 means 256
		}
		_ = binary.Write(&b, binary.LittleEndian, struct {
			W, H, Colors, Reserved uint8
			Planes, BitCount       uint16
			Size, Offset           uint32
		}{dim, dim, 0, 0, 1, 32, uint32(len(p)), uint32(off)})
		off += len(p)
	}
	for _, p := range pngs {
		b.Write(p)
	}
	return b.Bytes()
}

func main() {
	out := flag.String("out", "assets/icons", "folder to write the icons into")
	app := flag.String("app", "assets/app", "folder to write the application icons into (macOS .icns)")
	flag.Parse()
	if err := generate(*out); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("wrote %d icons for linux, windows and darwin into %s\n", len(icons), *out)
	if err := generateAppIcon(*app); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("wrote the macOS application icon into %s\n", *app)
}

// generate writes every icon into out/{linux,windows,darwin}.
func generate(out string) error {
	for _, d := range []string{"linux", "windows", "darwin"} {
		if err := os.MkdirAll(filepath.Join(out, d), 0o755); err != nil {
			return err
		}
	}
	var werr error
	write := func(path string, b []byte) {
		if err := os.WriteFile(filepath.Join(out, path), b, 0o644); err != nil && werr == nil {
			werr = err
		}
	}
	black := color.NRGBA{0, 0, 0, 0xff}
	whiteMono := color.NRGBA{0xff, 0xff, 0xff, 0xff}
	for name, layers := range icons {
		write(filepath.Join("linux", name+".png"), encodePNG(render(layers, 64, nil)))
		sizes := []int{16, 24, 32, 48, 256}
		var pngs [][]byte
		for _, s := range sizes {
			pngs = append(pngs, encodePNG(render(layers, s, nil)))
		}
		write(filepath.Join("windows", name+".ico"), encodeICO(pngs, sizes))
		for _, v := range []struct {
			suffix string
			c      *color.NRGBA
		}{{"light", &black}, {"dark", &whiteMono}} {
			write(filepath.Join("darwin", name+"-"+v.suffix+".png"), encodePNG(render(layers, 16, v.c)))
			write(filepath.Join("darwin", name+"-"+v.suffix+"@2x.png"), encodePNG(render(layers, 32, v.c)))
		}
	}
	return werr
}
