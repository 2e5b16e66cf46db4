// Package linux builds the .deb and .rpm of ghostwire with nfpm (as a
// library): the static binary, the hardened systemd unit (the same text
// `ghostwire daemon install` writes: app/service), the tray's system-wide
// autostart entry, its application-menu launcher and ghostwire:// link
// handler (app/tray/autostart), the documentation, and maintainer scripts
// that create the ghostwire group, start the service on install, restart it
// on upgrade and stop it on removal. The unit and every desktop entry come
// from the same Go functions the program itself uses, so they cannot drift.
package linux

import (
	"context"
	"embed"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/goreleaser/nfpm/v2"
	"github.com/goreleaser/nfpm/v2/deb"
	"github.com/goreleaser/nfpm/v2/files"
	"github.com/goreleaser/nfpm/v2/rpm"

	"github.com/ghostwire/ghostwire/app/service"
	"github.com/ghostwire/ghostwire/app/tray/autostart"
	"github.com/ghostwire/ghostwire/packaging/release"
)

//go:embed scripts
var scripts embed.FS

// Where the packages put things.
const (
	BinPath              = "/usr/bin/ghostwire"
	DebUnitPath          = "/lib/systemd/system/" + service.UnitFile // Debian 12's systemd path (lintian checks it)
	RPMUnitPath          = "/usr/lib/systemd/system/" + service.UnitFile
	AutostartPath        = "/etc/xdg/autostart/" + autostart.DesktopFile
	LauncherPath         = "/usr/share/applications/" + autostart.LauncherFile
	LinkHandlerPath      = "/usr/share/applications/" + autostart.LinkHandlerFile
	DocDir               = "/usr/share/doc/ghostwire"
	PresetExamplePath    = DocDir + "/preset.json.example"
	LintianOverridesPath = "/usr/share/lintian/overrides/ghostwire"
)

// Builder makes the deb and rpm targets.
type Builder struct{}

// UnitPath is where format's packages put the systemd unit.
func UnitPath(format string) string {
	if format == "rpm" {
		return RPMUnitPath
	}
	return DebUnitPath
}

// Files are the generated text files of a format's package (all but the
// binary, the man pages and the deb's changelog), by destination path.
func Files(format string) (map[string]string, error) {
	unit, err := service.SystemdUnit(service.Spec{Executable: BinPath, Args: []string{"daemon"}}, service.InstalledByPackageComment)
	if err != nil {
		return nil, err
	}
	return map[string]string{
		UnitPath(format):      unit,
		AutostartPath:         autostart.DesktopEntry(BinPath),
		LauncherPath:          autostart.LauncherEntry(BinPath),
		LinkHandlerPath:       autostart.LinkHandlerEntry(BinPath),
		DocDir + "/copyright": copyright(),
		PresetExamplePath:     presetExample,
	}, nil
}

// Build makes one package per target.
func (Builder) Build(ctx context.Context, b *release.Build, targets []release.Target) ([]release.Artifact, error) {
	var arts []release.Artifact
	for _, t := range targets {
		if t.Format != "deb" && t.Format != "rpm" {
			return nil, fmt.Errorf("the linux builder makes deb and rpm, not %s", t)
		}
		bin, err := b.GoBinary(ctx, "./app", "linux", t.Arch, "ghostwire")
		if err != nil {
			return nil, err
		}
		name, err := Package(filepath.Join(b.Work, "linux", t.Format+"-"+t.Arch), b.Dist, b.Version, t, bin.Path)
		if err != nil {
			return nil, err
		}
		b.Log.Info("package built", "file", name)
		arts = append(arts, release.Artifact{File: name, Format: t.Format, OS: t.OS, Arch: t.Arch, Binaries: []release.Binary{bin}})
	}
	return arts, nil
}

// Package writes the t.Format package of binary into dist, staging its
// files under stage, and returns its file name.
func Package(stage, dist string, v release.Version, t release.Target, binary string) (string, error) {
	info, err := packageInfo(stage, v, t, binary)
	if err != nil {
		return "", err
	}
	name := t.FileName(v)
	if err := write(filepath.Join(dist, name), t.Format, info); err != nil {
		return "", fmt.Errorf("%s: %w", name, err)
	}
	return name, nil
}

func write(path, format string, info *nfpm.Info) error {
	var p nfpm.Packager = deb.Default
	if format == "rpm" {
		p = rpm.DefaultRPM
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := p.Package(info, f); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	return f.Close()
}

// packageInfo stages the generated files under stage and describes the package.
func packageInfo(stage string, v release.Version, t release.Target, binary string) (*nfpm.Info, error) {
	gen, err := Files(t.Format)
	if err != nil {
		return nil, err
	}
	if t.Format == "deb" {
		cl, err := debChangelog(v)
		if err != nil {
			return nil, err
		}
		gen[DocDir+"/changelog.gz"] = string(cl)
	}
	if err := os.MkdirAll(stage, 0o755); err != nil {
		return nil, err
	}
	man, err := manPages(v, filepath.Join(stage, "man"))
	if err != nil {
		return nil, fmt.Errorf("manual pages: %w", err)
	}
	for dst, gz := range man {
		gen[dst] = string(gz)
	}
	// Go programs are static by design (CGO_ENABLED=0: one package for every
	// distribution, no libc version to match); lintian cannot know that
	// without a Debian source package that build-depends on golang-go.
	if t.Format == "deb" {
		gen[LintianOverridesPath] = lintianOverrides
	}
	mtime := v.Time
	if mtime.IsZero() {
		mtime = time.Unix(0, 0)
	}
	contents := files.Contents{{
		Source: binary, Destination: BinPath,
		FileInfo: &files.ContentFileInfo{Mode: 0o755, MTime: mtime, Owner: "root", Group: "root"},
	}}
	for dst, text := range gen {
		src := filepath.Join(stage, "root", dst)
		if err := os.MkdirAll(filepath.Dir(src), 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(src, []byte(text), 0o644); err != nil {
			return nil, err
		}
		c := &files.Content{Source: src, Destination: dst,
			FileInfo: &files.ContentFileInfo{Mode: 0o644, MTime: mtime, Owner: "root", Group: "root"}}
		if dst == AutostartPath {
			// Files in /etc are configuration: an administrator's edit survives upgrades.
			c.Type = files.TypeConfig
			if t.Format == "rpm" {
				c.Type = files.TypeConfigNoReplace
			}
		}
		contents = append(contents, c)
	}
	// nfpm's hooks are preinst/postinst/prerm/postrm for a deb and
	// %pre/%post/%preun/%postun for an rpm; ghostwire needs no pre-install step.
	names := map[string][3]string{"deb": {"postinst", "prerm", "postrm"}, "rpm": {"post", "preun", "postun"}}[t.Format]
	var hooks [3]string
	for i, name := range names {
		text, err := scripts.ReadFile("scripts/" + t.Format + "/" + name)
		if err != nil {
			return nil, err
		}
		hooks[i] = filepath.Join(stage, "script-"+name)
		if err := os.WriteFile(hooks[i], text, 0o755); err != nil {
			return nil, err
		}
	}
	s := nfpm.Scripts{PostInstall: hooks[0], PreRemove: hooks[1], PostRemove: hooks[2]}

	version := v.Deb()
	rel := ""
	if t.Format == "rpm" {
		version, rel = v.RPM()
	}
	info := &nfpm.Info{
		Name:          release.PackageName,
		Arch:          t.Arch,
		Platform:      "linux",
		Version:       version,
		VersionSchema: "none", // the version is final; nfpm must not re-parse it
		Release:       rel,
		Section:       "net",
		Priority:      "optional",
		Maintainer:    release.Maintainer,
		Description:   release.Summary + "\n" + release.Description,
		Vendor:        release.Vendor,
		Homepage:      release.Homepage,
		License:       release.License,
		MTime:         mtime,
		Overridables: nfpm.Overridables{
			Contents: contents,
			Scripts:  s,
			RPM: nfpm.RPM{
				Summary:   release.Summary,
				Group:     "Applications/Internet",
				BuildHost: "ghostwire-build",
				Packager:  release.Maintainer,
			},
			Deb: nfpm.Deb{Compression: "xz"},
		},
	}
	if t.Format == "deb" {
		// The scripts need deb-systemd-helper/-invoke and groupadd.
		info.Depends = []string{"init-system-helpers (>= 1.54~)", "passwd"}
		// zenity or kdialog show "Add cluster…" and link confirmations.
		info.Suggests = []string{"zenity | kdialog"}
	} else {
		info.RPM.Requires.Post = []string{"shadow-utils"}
		info.Suggests = []string{"(zenity or kdialog)"}
		info.Description = release.Description
	}
	return info, nil
}

// debChangelog is the native package's changelog.gz: one entry for this
// version (Debian policy 12.7), compressed with no name or time in the header
// so the package is reproducible.
func debChangelog(v release.Version) ([]byte, error) {
	t := v.Time
	if t.IsZero() {
		t = time.Unix(0, 0).UTC()
	}
	text := fmt.Sprintf("%s (%s) stable; urgency=medium\n\n  * Built from commit %s.\n\n -- %s  %s\n",
		release.PackageName, v.Deb(), v.Hash, release.Maintainer, t.Format("Mon, 02 Jan 2006 15:04:05 -0700"))
	return gzipNoName([]byte(text))
}

func copyright() string {
	return "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n" +
		"Upstream-Name: ghostwire\n" +
		"Source: " + release.Homepage + "\n\n" +
		"Files: *\n" +
		"Copyright: 2025-2026 the ghostwire authors\n" +
		"License: " + release.License + "\n" +
		" The authors of ghostwire have not chosen a license yet: all rights are reserved.\n"
}

// lintianOverrides: Go programs are static by design (CGO_ENABLED=0: one
// package for every distribution, no libc version to match); lintian cannot
// know that without a Debian source package that build-depends on golang-go.
const lintianOverrides = "# Go binary, built with CGO_ENABLED=0 on purpose: one package for every distribution.\n" +
	release.PackageName + ": statically-linked-binary [usr/bin/ghostwire]\n"

// presetExample documents the system-wide preset (app/preset): a cluster the
// menu offers on first start.
const presetExample = `{
  "server": "https://vpn.example.com",
  "profile": "prod"
}
`
