package windows

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/ghostwire/ghostwire/packaging/release"
)

// Builder makes the msi target.
type Builder struct {
	// WintunZip is the official wintun zip ("" : $GHOSTWIRE_WINTUN_ZIP;
	// none: a placeholder, and a test build).
	WintunZip string
}

// Build makes the MSI of each target (windows/amd64; wixl makes no arm64
// MSI, which needs WiX on Windows).
func (bl Builder) Build(ctx context.Context, b *release.Build, targets []release.Target) ([]release.Artifact, error) {
	if err := CheckTools(); err != nil {
		return nil, err
	}
	var arts []release.Artifact
	for _, t := range targets {
		if t.Format != "msi" || t.OS != "windows" || t.Arch != "amd64" {
			return nil, fmt.Errorf("the windows builder makes the x64 MSI, not %s (wixl has no arm64: an arm64 MSI needs WiX on Windows)", t)
		}
		a, err := bl.buildMSI(ctx, b, t)
		if err != nil {
			return nil, err
		}
		arts = append(arts, a)
	}
	return arts, nil
}

func (bl Builder) buildMSI(ctx context.Context, b *release.Build, t release.Target) (release.Artifact, error) {
	stage := filepath.Join(b.Work, "msi-"+t.Arch)
	if err := os.MkdirAll(stage, 0o755); err != nil {
		return release.Artifact{}, err
	}
	var reasons []string
	// The release certificate from the environment, else a throwaway one
	// and a test build.
	signer, err := SignerFromEnv(os.Getenv)
	if err != nil {
		return release.Artifact{}, err
	}
	if signer == nil {
		s, err := ThrowawaySigner(stage, time.Now())
		if err != nil {
			return release.Artifact{}, err
		}
		signer = s
		b.Log.Warn("no code-signing certificate given: signing with a throwaway one (a test build); " +
			"set GHOSTWIRE_SIGN_PFX or GHOSTWIRE_SIGN_PKCS11_MODULE for a release")
	}
	reasons = append(reasons, signer.TestBuildReasons()...)
	if signer.ThrowawayCA != nil {
		if err := os.WriteFile(filepath.Join(b.Dist, TestSigningCAFile), signer.ThrowawayCA, 0o644); err != nil {
			return release.Artifact{}, err
		}
	}

	icon, err := AppIcon(filepath.Join(b.Root, "assets", "app", "Ghostwire.icns"))
	if err != nil {
		return release.Artifact{}, fmt.Errorf("the application icon: %w", err)
	}
	ico, err := os.Create(filepath.Join(stage, "ghostwire.ico"))
	if err != nil {
		return release.Artifact{}, err
	}
	if err := icon.SaveICO(ico); err != nil {
		ico.Close()
		return release.Artifact{}, err
	}
	if err := ico.Close(); err != nil {
		return release.Artifact{}, err
	}

	// The programs: built, given their resources, signed, staged.
	var bins []release.Binary
	for _, p := range []struct {
		name, description string
		ldflags           []string
	}{
		{CLIExe, "Ghostwire VPN (command line and service)", nil},
		{TrayExe, "Ghostwire VPN menu", []string{"-H=windowsgui"}},
	} {
		bin, err := b.GoBinary(ctx, "./app", t.OS, t.Arch, p.name, p.ldflags...)
		if err != nil {
			return release.Artifact{}, err
		}
		staged := filepath.Join(stage, p.name)
		if err := copyFile(bin.Path, staged); err != nil {
			return release.Artifact{}, err
		}
		if err := addResources(staged, resourceInfo{File: p.name, Description: p.description}, icon, b.Version, b.Version.Time); err != nil {
			return release.Artifact{}, err
		}
		if err := signer.Sign(ctx, staged, p.description); err != nil {
			return release.Artifact{}, err
		}
		// The SBOM describes the file the MSI installs.
		if bin.SHA256, err = release.FileSHA256(staged); err != nil {
			return release.Artifact{}, err
		}
		bin.Path = staged
		bins = append(bins, bin)
	}

	wintun := filepath.Join(stage, WintunDLL)
	zipPath := bl.WintunZip
	if zipPath == "" {
		zipPath = os.Getenv(WintunZipEnv)
	}
	if zipPath == "" {
		b.Log.Warn("no wintun zip given ($" + WintunZipEnv + "): the MSI holds a placeholder wintun.dll (a test build)")
		reasons = append(reasons, "wintun.dll is a placeholder: set "+WintunZipEnv+" to the official wintun-"+WintunVersion+".zip")
		if err := os.WriteFile(wintun, []byte(wintunPlaceholder), 0o644); err != nil {
			return release.Artifact{}, err
		}
	} else if err := extractWintun(zipPath, WintunZipSHA256, t.Arch, wintun); err != nil {
		return release.Artifact{}, err
	}

	wxs, err := WXS(b.Version)
	if err != nil {
		return release.Artifact{}, err
	}
	name := t.FileName(b.Version)
	unsigned := filepath.Join(stage, name)
	if err := buildMSI(ctx, stage, wxs, unsigned); err != nil {
		return release.Artifact{}, err
	}
	if err := signer.Sign(ctx, unsigned, "Ghostwire "+b.Version.String()+" installer"); err != nil {
		return release.Artifact{}, err
	}
	if err := copyFile(unsigned, filepath.Join(b.Dist, name)); err != nil {
		return release.Artifact{}, err
	}
	b.Log.Info("MSI built", "file", name, "test_build", reasons)
	return release.Artifact{File: name, Format: t.Format, OS: t.OS, Arch: t.Arch, Binaries: bins, TestBuild: reasons}, nil
}

func copyFile(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, b, 0o644)
}

// Unavailable: without wixl, msitools and osslsigncode (a Mac, a machine
// without `make deps`) the MSI is listed as not built, with what to install.
func (Builder) Unavailable() string {
	if err := CheckTools(); err != nil {
		return err.Error()
	}
	return ""
}
