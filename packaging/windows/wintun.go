package windows

import (
	"archive/zip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
)

// wintun.dll is the userspace side of the WinTun driver (wintun.net, by the
// WireGuard authors), loaded by golang.zx2c4.com/wireguard/tun from the
// program's folder. Its licence allows shipping it unmodified beside
// software that uses it through its API. The MSI takes it from the official
// release zip, checked against the SHA-256 pinned here, given by
// GHOSTWIRE_WINTUN_ZIP (or `packages -wintun-zip`). The release pipeline
// downloads https://www.wintun.net/builds/wintun-0.14.1.zip; nothing can be
// downloaded on the build machines, so without the zip the MSI holds a
// placeholder and is a test build.
const (
	WintunVersion = "0.14.1"
	// WintunZipSHA256 is the SHA-256 of wintun-0.14.1.zip, as NetBird's
	// release workflow pins it too (PACKAGING.md §1.6).
	WintunZipSHA256 = "07c256185d6ee3652e09fa55c0b673e2624b565e02c4b9091c79ca7d2f24ef51"
	WintunZipEnv    = "GHOSTWIRE_WINTUN_ZIP"
)

// wintunPlaceholder stands in for wintun.dll in a test build: not a DLL,
// so the daemon says wintun.dll cannot be loaded rather than run something.
const wintunPlaceholder = "This is not wintun.dll: this MSI is a test build made without the official wintun " +
	WintunVersion + " zip (see TEST-BUILD.txt). Connecting fails until wintun.dll from https://www.wintun.net is put here.\r\n"

// extractWintun writes the wintun.dll for goarch from the official zip to
// out, after checking the zip's SHA-256 against want.
func extractWintun(zipPath, want, goarch, out string) error {
	f, err := os.Open(zipPath)
	if err != nil {
		return fmt.Errorf("the wintun zip: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return err
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want {
		return fmt.Errorf("%s has SHA-256 %s, not the pinned %s of the official wintun-%s.zip: download it again from https://www.wintun.net/builds/wintun-%s.zip",
			zipPath, got, want, WintunVersion, WintunVersion)
	}
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	zr, err := zip.NewReader(f, fi.Size())
	if err != nil {
		return fmt.Errorf("%s is not a zip: %w", zipPath, err)
	}
	name := "wintun/bin/" + goarch + "/wintun.dll"
	zf, err := zr.Open(name)
	if err != nil {
		return fmt.Errorf("%s has no %s", zipPath, name)
	}
	defer zf.Close()
	b, err := io.ReadAll(io.LimitReader(zf, 16<<20))
	if err != nil {
		return err
	}
	if len(b) < 2 || string(b[:2]) != "MZ" {
		return fmt.Errorf("%s in %s is not a Windows DLL", name, zipPath)
	}
	return os.WriteFile(out, b, 0o644)
}
