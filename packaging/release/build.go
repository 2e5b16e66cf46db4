package release

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

// Builder makes the artifacts of its targets. A builder writes its files into
// b.Dist and returns one Artifact per file; SBOMs, checksums and the manifest
// are the framework's job (Run).
type Builder interface {
	Build(ctx context.Context, b *Build, targets []Target) ([]Artifact, error)
}

// Unavailable is implemented by a builder that cannot run on every machine
// (the macOS pkg needs a Mac): a non-empty reason lists its targets as not
// built, with that reason, instead of failing the build.
type Unavailable interface {
	Unavailable() string
}

// Build is what every builder gets: the version, the places, and GoBinary.
type Build struct {
	Version Version
	// Root is the repository's root (the ghostwire module).
	Root string
	// Dist receives the artifacts; Work is scratch space for this build.
	Dist, Work string
	Log        *slog.Logger

	bins map[string]Binary
}

// VersionVar is the variable -ldflags -X stamps with the version.
const VersionVar = "github.com/ghostwire/ghostwire/app/daemon.Version"

// GoBinary builds the main package main (relative to Root, e.g. "./app") for
// goos/goarch as name, stamped with the version, static (CGO_ENABLED=0),
// stripped and with -trimpath so the same commit gives the same bytes. extra
// is added to -ldflags (e.g. -H=windowsgui). Builds are reused within a Build.
func (b *Build) GoBinary(ctx context.Context, main, goos, goarch, name string, extraLdflags ...string) (Binary, error) {
	return b.goBinary(ctx, main, goos, goarch, name, []string{"CGO_ENABLED=0"}, extraLdflags)
}

// GoCgoBinary is GoBinary with cgo, for the macOS menu-bar app (Cocoa):
// env adds the C toolchain's settings (CC for the other architecture,
// MACOSX_DEPLOYMENT_TARGET). It builds only where that toolchain is, a Mac.
func (b *Build) GoCgoBinary(ctx context.Context, main, goos, goarch, name string, env []string, extraLdflags ...string) (Binary, error) {
	return b.goBinary(ctx, main, goos, goarch, name, append([]string{"CGO_ENABLED=1"}, env...), extraLdflags)
}

func (b *Build) goBinary(ctx context.Context, main, goos, goarch, name string, env, extraLdflags []string) (Binary, error) {
	key := strings.Join(append(append([]string{main, goos, goarch, name}, env...), extraLdflags...), "|")
	if bin, ok := b.bins[key]; ok {
		return bin, nil
	}
	dir := filepath.Join(b.Work, "bin", goos+"-"+goarch, fmt.Sprint(len(b.bins)))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Binary{}, err
	}
	out := filepath.Join(dir, name)
	ldflags := append([]string{"-s", "-w", "-buildid=", "-X", VersionVar + "=" + b.Version.String()}, extraLdflags...)
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-buildvcs=false", "-ldflags", strings.Join(ldflags, " "), "-o", out, main)
	cmd.Dir = b.Root
	cmd.Env = append(append(os.Environ(), "GOOS="+goos, "GOARCH="+goarch), env...)
	b.Log.Info("go build", "main", main, "goos", goos, "goarch", goarch, "version", b.Version.String())
	if o, err := cmd.CombinedOutput(); err != nil {
		return Binary{}, fmt.Errorf("go build %s for %s/%s: %v\n%s", main, goos, goarch, err, o)
	}
	sum, err := FileSHA256(out)
	if err != nil {
		return Binary{}, err
	}
	bin := Binary{Name: name, Main: main, GOOS: goos, GOARCH: goarch, SHA256: sum, Path: out}
	if b.bins == nil {
		b.bins = map[string]Binary{}
	}
	b.bins[key] = bin
	return bin, nil
}

// Run builds every target of Targets that selected accepts (nil: all) and
// whose builder is in builders, then
// writes an SBOM per artifact, manifest.json (with what was not built and
// why, and the test-build reasons) and SHA256SUMS. dist is emptied of
// earlier artifacts first.
func Run(ctx context.Context, b *Build, builders map[string]Builder, selected func(Target) bool) (Manifest, error) {
	m := Manifest{Version: b.Version.String(), Commit: b.Version.Hash, Release: b.Version.IsRelease()}
	if b.Version.Dirty {
		m.TestBuild = append(m.TestBuild, "built from a tree with uncommitted changes")
	}
	if err := cleanDist(b.Dist); err != nil {
		return m, err
	}
	byBuilder := map[string][]Target{}
	var order []string
	for _, t := range Targets {
		if selected != nil && !selected(t) {
			m.NotBuilt = append(m.NotBuilt, fmt.Sprintf("%s (%s): not selected for this build", t.FileName(b.Version), t))
			continue
		}
		bl, ok := builders[t.Builder]
		if !ok {
			m.NotBuilt = append(m.NotBuilt, fmt.Sprintf("%s (%s): no %q builder in this build", t.FileName(b.Version), t, t.Builder))
			continue
		}
		if u, ok := bl.(Unavailable); ok && u.Unavailable() != "" {
			m.NotBuilt = append(m.NotBuilt, fmt.Sprintf("%s (%s): %s", t.FileName(b.Version), t, u.Unavailable()))
			continue
		}
		if _, seen := byBuilder[t.Builder]; !seen {
			order = append(order, t.Builder)
		}
		byBuilder[t.Builder] = append(byBuilder[t.Builder], t)
	}
	if len(order) == 0 {
		return m, errors.New("nothing to build: no selected target has a builder here")
	}
	var names []string
	for _, name := range order {
		arts, err := builders[name].Build(ctx, b, byBuilder[name])
		if err != nil {
			return m, fmt.Errorf("%s packages: %w", name, err)
		}
		for _, a := range arts {
			if a.SHA256, err = FileSHA256(filepath.Join(b.Dist, a.File)); err != nil {
				return m, fmt.Errorf("%s made no %s: %w", name, a.File, err)
			}
			if a.SBOM, err = writeSBOM(ctx, b, a); err != nil {
				return m, fmt.Errorf("SBOM of %s: %w", a.File, err)
			}
			m.Artifacts = append(m.Artifacts, a)
			names = append(names, a.File, a.SBOM)
		}
	}
	sort.Strings(m.NotBuilt)
	if err := writeManifest(b.Dist, m); err != nil {
		return m, err
	}
	if err := writeSums(b.Dist, append(names, ManifestFile)); err != nil {
		return m, err
	}
	return m, nil
}

// cleanDist creates dist, removing what an earlier run left there (only
// files this framework writes: packages, SBOMs, sums, manifest).
func cleanDist(dist string) error {
	if err := os.MkdirAll(dist, 0o755); err != nil {
		return err
	}
	entries, err := os.ReadDir(dist)
	if err != nil {
		return err
	}
	for _, e := range entries {
		n := e.Name()
		ours := n == ManifestFile || n == SumsFile || n == TestBuildFile || n == TestSigningCAFile || strings.HasSuffix(n, SBOMSuffix)
		for _, ext := range []string{".deb", ".rpm", ".msi", ".pkg"} {
			ours = ours || strings.HasSuffix(n, ext)
		}
		if ours && e.Type().IsRegular() {
			if err := os.Remove(filepath.Join(dist, n)); err != nil {
				return err
			}
		}
	}
	return nil
}
