package release

import "fmt"

// Target is one artifact the project ships. Targets is the one list of them:
// `make packages` builds every target whose builder is registered (see
// cmd/packages), names the files with FileName, and the manifest says which
// targets were not built here.
type Target struct {
	// Format is the installer kind: deb, rpm, msi, pkg.
	Format string
	// OS and Arch are GOOS and GOARCH of the programs inside.
	OS, Arch string
	// Builder names the code that makes it: "linux", "windows" or "macos"
	// (the packaging/ folders of those names).
	Builder string
}

// Targets are every artifact of a release.
var Targets = []Target{
	{Format: "deb", OS: "linux", Arch: "amd64", Builder: "linux"},
	{Format: "rpm", OS: "linux", Arch: "amd64", Builder: "linux"},
	{Format: "deb", OS: "linux", Arch: "arm64", Builder: "linux"},
	{Format: "rpm", OS: "linux", Arch: "arm64", Builder: "linux"},
	// The MSI (wixl, x64) and the macOS pkg (payload here, pkgbuild on a Mac).
	{Format: "msi", OS: "windows", Arch: "amd64", Builder: "windows"},
	{Format: "pkg", OS: "darwin", Arch: "universal", Builder: "macos"},
}

// String names the target for messages: deb/linux/amd64.
func (t Target) String() string { return t.Format + "/" + t.OS + "/" + t.Arch }

// Each format's own name for the architecture.
var (
	debArch = map[string]string{"amd64": "amd64", "arm64": "arm64"}
	rpmArch = map[string]string{"amd64": "x86_64", "arm64": "aarch64"}
	msiArch = map[string]string{"amd64": "x64", "arm64": "arm64"}
)

// FormatArch is the target's architecture as its format spells it
// (amd64 → x86_64 for rpm, x64 for msi).
func (t Target) FormatArch() string {
	m := map[string]map[string]string{"deb": debArch, "rpm": rpmArch, "msi": msiArch}[t.Format]
	if a, ok := m[t.Arch]; ok {
		return a
	}
	return t.Arch
}

// FileName is the artifact's file name in dist/, by each format's convention:
// ghostwire_1.4.0_amd64.deb, ghostwire-1.4.0-1.x86_64.rpm,
// ghostwire-1.4.0-x64.msi, Ghostwire-1.4.0.pkg.
func (t Target) FileName(v Version) string {
	switch t.Format {
	case "deb":
		return fmt.Sprintf("%s_%s_%s.deb", PackageName, v.Deb(), t.FormatArch())
	case "rpm":
		ver, rel := v.RPM()
		return fmt.Sprintf("%s-%s-%s.%s.rpm", PackageName, ver, rel, t.FormatArch())
	case "msi":
		return fmt.Sprintf("%s-%s-%s.msi", PackageName, v.String(), t.FormatArch())
	case "pkg":
		return fmt.Sprintf("Ghostwire-%s.pkg", v.String())
	}
	return fmt.Sprintf("%s-%s-%s-%s.%s", PackageName, v.String(), t.OS, t.Arch, t.Format)
}

// Package metadata shared by every installer.
const (
	PackageName = "ghostwire"
	Summary     = "Passwordless WireGuard into your Kubernetes cluster"
	Description = "ghostwire connects this machine to a Kubernetes cluster: sign in\n" +
		"with your organisation's account (Entra ID or any OpenID provider),\n" +
		"and cluster names and addresses work as if you were a pod. No key or\n" +
		"password is stored: both WireGuard key pairs live in memory and die\n" +
		"with the session.\n" +
		"This package holds the ghostwire command, its daemon as a system\n" +
		"service, and the menu-bar app started at login."
	Homepage = "https://github.com/ghostwire/ghostwire"
	Vendor   = "Ghostwire"
	// License: the project has not chosen one yet (no LICENSE file); the
	// packages say so rather than guess.
	License = "UNLICENSED"
)

// Maintainer is who the packages name as their maintainer; a release sets
// GHOSTWIRE_MAINTAINER.
var Maintainer = "Ghostwire maintainers <maintainers@ghostwire.invalid>"
