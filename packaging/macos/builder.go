package macos

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/ghostwire/ghostwire/packaging/release"
)

// Builder makes the pkg target on a Mac: the cgo menu-bar app for arm64 and
// x86_64 in one universal program (lipo), Ghostwire.app signed with the
// hardened runtime, the component package (pkgbuild) and the product
// archive (productbuild), signed, notarized and stapled when the Developer
// ID settings are there:
//
//	GHOSTWIRE_MACOS_APP_IDENTITY        "Developer ID Application: Org (TEAMID)", in the keychain
//	GHOSTWIRE_MACOS_INSTALLER_IDENTITY  "Developer ID Installer: Org (TEAMID)"
//	GHOSTWIRE_MACOS_KEYCHAIN            the keychain holding them (optional)
//	GHOSTWIRE_NOTARY_KEY                App Store Connect API key (.p8 file) for notarytool,
//	GHOSTWIRE_NOTARY_KEY_ID             with its key id
//	GHOSTWIRE_NOTARY_ISSUER             and issuer id
//
// Without them the app is signed ad hoc (it runs on the Mac that installed
// it from a file it did not download; Gatekeeper refuses a downloaded one),
// the pkg is unsigned and not notarized, and the artifact is a test build.
type Builder struct{}

// Unavailable: Apple's tools and the Cocoa headers exist only on macOS.
func (Builder) Unavailable() string {
	if runtime.GOOS != "darwin" {
		return "pkgbuild, productbuild, codesign and the Cocoa toolchain of the menu-bar app exist only on macOS: " +
			"the macos job of .github/workflows/desktop.yml builds it (`make packages` on a Mac)"
	}
	for _, tool := range []string{"pkgbuild", "productbuild", "codesign", "lipo", "xcrun", "clang"} {
		if _, err := exec.LookPath(tool); err != nil {
			return tool + " is missing: install Xcode's command line tools (`xcode-select --install`)"
		}
	}
	return ""
}

// signing is the Developer ID setup from the environment.
type signing struct {
	app, installer, keychain             string
	notaryKey, notaryKeyID, notaryIssuer string
}

func signingFromEnv(getenv func(string) string) signing {
	return signing{
		app: getenv("GHOSTWIRE_MACOS_APP_IDENTITY"), installer: getenv("GHOSTWIRE_MACOS_INSTALLER_IDENTITY"),
		keychain:  getenv("GHOSTWIRE_MACOS_KEYCHAIN"),
		notaryKey: getenv("GHOSTWIRE_NOTARY_KEY"), notaryKeyID: getenv("GHOSTWIRE_NOTARY_KEY_ID"), notaryIssuer: getenv("GHOSTWIRE_NOTARY_ISSUER"),
	}
}

func (s signing) notarize() bool {
	return s.installer != "" && s.notaryKey != "" && s.notaryKeyID != "" && s.notaryIssuer != ""
}

// testBuildReasons say why a pkg signed so must not be published.
func (s signing) testBuildReasons() []string {
	var r []string
	if s.app == "" {
		r = append(r, "the app is signed ad hoc, not with a Developer ID Application certificate: set GHOSTWIRE_MACOS_APP_IDENTITY")
	}
	if s.installer == "" {
		r = append(r, "the pkg is not signed with a Developer ID Installer certificate: set GHOSTWIRE_MACOS_INSTALLER_IDENTITY")
	}
	if !s.notarize() {
		r = append(r, "the pkg is not notarized (Gatekeeper refuses it once downloaded): set GHOSTWIRE_NOTARY_KEY, GHOSTWIRE_NOTARY_KEY_ID and GHOSTWIRE_NOTARY_ISSUER")
	}
	return r
}

// codesignArgs sign the app bundle (and with it its program) with the
// hardened runtime, which notarization requires; ad hoc ("-") without an
// identity.
func codesignArgs(s signing, app string) []string {
	a := []string{"--force", "--options", "runtime", "--identifier", BundleID}
	if s.app == "" {
		a = append(a, "--sign", "-", "--timestamp=none")
	} else {
		a = append(a, "--sign", s.app, "--timestamp")
	}
	if s.keychain != "" {
		a = append(a, "--keychain", s.keychain)
	}
	return append(a, app)
}

func pkgbuildArgs(root, scripts, componentPlist, version, out string) []string {
	return []string{"--root", root, "--scripts", scripts, "--component-plist", componentPlist,
		"--identifier", PkgID, "--version", version, "--install-location", "/", "--ownership", "recommended", out}
}

func productbuildArgs(s signing, distribution, packages, out string) []string {
	a := []string{"--distribution", distribution, "--package-path", packages}
	if s.installer != "" {
		a = append(a, "--sign", s.installer, "--timestamp")
		if s.keychain != "" {
			a = append(a, "--keychain", s.keychain)
		}
	}
	return append(a, out)
}

func notaryArgs(s signing, pkg string) []string {
	return []string{"notarytool", "submit", pkg, "--key", s.notaryKey, "--key-id", s.notaryKeyID, "--issuer", s.notaryIssuer, "--wait"}
}

// Build makes Ghostwire-<version>.pkg.
func (bl Builder) Build(ctx context.Context, b *release.Build, targets []release.Target) ([]release.Artifact, error) {
	if why := bl.Unavailable(); why != "" {
		return nil, fmt.Errorf("the macOS pkg cannot be built here: %s", why)
	}
	var arts []release.Artifact
	for _, t := range targets {
		if t.Format != "pkg" || t.OS != "darwin" || t.Arch != "universal" {
			return nil, fmt.Errorf("the macos builder makes the universal pkg, not %s", t)
		}
		a, err := buildPkg(ctx, b, t)
		if err != nil {
			return nil, err
		}
		arts = append(arts, a)
	}
	return arts, nil
}

func buildPkg(ctx context.Context, b *release.Build, t release.Target) (release.Artifact, error) {
	work := filepath.Join(b.Work, "macos")
	run := func(name string, args ...string) error {
		cmd := exec.CommandContext(ctx, name, args...)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
		return nil
	}
	s := signingFromEnv(os.Getenv)
	env := []string{"MACOSX_DEPLOYMENT_TARGET=" + MinimumMacOS}
	arm, err := b.GoCgoBinary(ctx, "./app", "darwin", "arm64", "ghostwire", append(env, "CC=clang -arch arm64"))
	if err != nil {
		return release.Artifact{}, err
	}
	amd, err := b.GoCgoBinary(ctx, "./app", "darwin", "amd64", "ghostwire", append(env, "CC=clang -arch x86_64"))
	if err != nil {
		return release.Artifact{}, err
	}
	if err := os.MkdirAll(work, 0o755); err != nil {
		return release.Artifact{}, err
	}
	universal := filepath.Join(work, "ghostwire")
	if err := run("lipo", "-create", "-output", universal, arm.Path, amd.Path); err != nil {
		return release.Artifact{}, err
	}
	root := filepath.Join(work, "root")
	if err := os.RemoveAll(root); err != nil {
		return release.Artifact{}, err
	}
	o := BundleOptions{Executable: universal, Icon: filepath.Join(b.Root, "assets", "app", AppName+".icns"), Version: b.Version.String()}
	if err := PkgRoot(root, o); err != nil {
		return release.Artifact{}, err
	}
	app := filepath.Join(root, "Applications", AppName+".app")
	if err := run("codesign", codesignArgs(s, app)...); err != nil {
		return release.Artifact{}, err
	}
	if err := run("codesign", "--verify", "--strict", "--deep", "--verbose=2", app); err != nil {
		return release.Artifact{}, err
	}
	scriptsDir := filepath.Join(work, "scripts")
	if err := Scripts(scriptsDir); err != nil {
		return release.Artifact{}, err
	}
	comp, err := ComponentPlist()
	if err != nil {
		return release.Artifact{}, err
	}
	compPath := filepath.Join(work, "component.plist")
	if err := os.WriteFile(compPath, comp, 0o644); err != nil {
		return release.Artifact{}, err
	}
	pkgs := filepath.Join(work, "packages")
	if err := os.MkdirAll(pkgs, 0o755); err != nil {
		return release.Artifact{}, err
	}
	version := pkgVersion(b.Version)
	if err := run("pkgbuild", pkgbuildArgs(root, scriptsDir, compPath, version, filepath.Join(pkgs, ComponentPkg))...); err != nil {
		return release.Artifact{}, err
	}
	dist, err := Distribution(version)
	if err != nil {
		return release.Artifact{}, err
	}
	distPath := filepath.Join(work, "Distribution.xml")
	if err := os.WriteFile(distPath, dist, 0o644); err != nil {
		return release.Artifact{}, err
	}
	name := t.FileName(b.Version)
	out := filepath.Join(b.Dist, name)
	if err := run("productbuild", productbuildArgs(s, distPath, pkgs, out)...); err != nil {
		return release.Artifact{}, err
	}
	if s.notarize() {
		b.Log.Info("notarizing (Apple's service; usually a few minutes)", "file", name)
		if err := run("xcrun", notaryArgs(s, out)...); err != nil {
			return release.Artifact{}, err
		}
		if err := run("xcrun", "stapler", "staple", out); err != nil {
			return release.Artifact{}, err
		}
	}
	reasons := s.testBuildReasons()
	b.Log.Info("pkg built", "file", name, "test_build", reasons)
	arm.Name, amd.Name = "ghostwire (arm64)", "ghostwire (x86_64)"
	return release.Artifact{File: name, Format: t.Format, OS: t.OS, Arch: t.Arch, Binaries: []release.Binary{arm, amd}, TestBuild: reasons}, nil
}
