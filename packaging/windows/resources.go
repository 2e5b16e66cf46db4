package windows

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/png"
	"os"
	"time"

	"github.com/tc-hib/winres"
	"github.com/tc-hib/winres/version"

	"github.com/ghostwire/ghostwire/packaging/release"
)

// The programs get a version resource (what Explorer's Details tab, Task
// Manager and antivirus engines read: a Go binary without one looks like
// every packed dropper) and the application icon, patched into the built
// PE files with github.com/tc-hib/winres, a pure-Go resource library (no
// windres or .syso file in the tree, so `go build` stays plain): it adds a
// .rsrc section to an unsigned executable. Signing comes after.

// appIconSizes are the icon's sizes: Explorer and the Start menu pick from
// these (16 to 256 px).
var appIconSizes = []int{16, 24, 32, 48, 64, 128, 256}

// AppIcon reads the largest PNG of the macOS .icns (assets/app), the one
// source of the application icon, for the Windows .ico.
func AppIcon(icns string) (*winres.Icon, error) {
	b, err := os.ReadFile(icns)
	if err != nil {
		return nil, err
	}
	if len(b) < 8 || string(b[:4]) != "icns" {
		return nil, fmt.Errorf("%s is not an .icns file", icns)
	}
	var best image.Image
	for off := 8; off+8 <= len(b); {
		n := int(binary.BigEndian.Uint32(b[off+4:]))
		if n < 8 || off+n > len(b) {
			return nil, fmt.Errorf("%s is damaged", icns)
		}
		if img, err := png.Decode(bytes.NewReader(b[off+8 : off+n])); err == nil {
			if best == nil || img.Bounds().Dx() > best.Bounds().Dx() {
				best = img
			}
		}
		off += n
	}
	if best == nil {
		return nil, fmt.Errorf("%s holds no PNG image", icns)
	}
	return winres.NewIconFromResizedImage(best, appIconSizes)
}

// resourceInfo is what a program's version resource says.
type resourceInfo struct {
	File, Description string
}

// addResources writes exe's version information and icon into the file.
func addResources(path string, info resourceInfo, icon *winres.Icon, v release.Version, t time.Time) error {
	src, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if signed, err := winres.IsSignedEXE(bytes.NewReader(src)); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	} else if signed {
		return errors.New("resources go in before the signature")
	}
	rs := &winres.ResourceSet{}
	if err := rs.SetIcon(winres.ID(1), icon); err != nil {
		return err
	}
	pv, err := ProductVersion(v)
	if err != nil {
		return err
	}
	vi := version.Info{Timestamp: t}
	vi.SetFileVersion(pv)
	vi.SetProductVersion(pv)
	vi.Flags.Prerelease = v.Pre != ""
	for k, val := range map[string]string{
		version.CompanyName:      release.Vendor,
		version.ProductName:      "Ghostwire",
		version.FileDescription:  info.Description,
		version.OriginalFilename: info.File,
		version.InternalName:     info.File,
		version.ProductVersion:   v.String(),
		version.FileVersion:      v.String(),
		version.LegalCopyright:   "Ghostwire maintainers",
		version.Comments:         release.Summary + " (" + release.Homepage + ")",
	} {
		if err := vi.Set(version.LangDefault, k, val); err != nil {
			return err
		}
	}
	rs.SetVersionInfo(vi)
	var out bytes.Buffer
	if err := rs.WriteToEXE(&out, bytes.NewReader(src), winres.ForceCheckSum()); err != nil {
		return fmt.Errorf("cannot add the version resource to %s: %w", path, err)
	}
	return os.WriteFile(path, out.Bytes(), 0o755)
}
