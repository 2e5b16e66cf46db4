// Package macos builds what ghostwire installs on a Mac: the menu-bar app
// bundle (Ghostwire.app with its Info.plist, icon, ghostwire:// URL scheme
// and uninstall script), the payload root of the installer package with the
// LaunchDaemon and the all-users LaunchAgent, the installer's scripts, its
// Distribution and component property lists, and an example configuration
// profile that presets the cluster. All of that is plain file layout,
// portable and tested on Linux. The Builder (pkg.go) then runs Apple's
// tools, which exist only on macOS: the cgo menu-bar app for both
// architectures and lipo, codesign with the hardened runtime, pkgbuild,
// productbuild, notarytool and stapler (the macos job of
// .github/workflows/desktop.yml).
package macos

import (
	"embed"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"

	"howett.net/plist"

	"github.com/ghostwire/ghostwire/app/service"
	"github.com/ghostwire/ghostwire/app/tray/autostart"
)

const (
	// BundleID identifies the menu-bar app (and names the managed
	// preferences' domain, app/preset).
	BundleID = autostart.BundleID
	// AppName is the bundle's folder name without .app, as Finder shows it.
	AppName = "Ghostwire"
	// Executable is the program inside Contents/MacOS: the one ghostwire
	// binary (without a command it runs the menu-bar app).
	Executable = "ghostwire"
	// MinimumMacOS is the oldest macOS the Go toolchain supports.
	MinimumMacOS = "12.0"
	// AppPath is where the installer puts the bundle.
	AppPath = "/Applications/" + AppName + ".app"
	// TrayAgentPath starts the menu-bar app at every user's login.
	TrayAgentPath = autostart.SystemLaunchAgentPath
)

// infoPlist is the bundle's Info.plist.
type infoPlist struct {
	CFBundleDevelopmentRegion     string `plist:"CFBundleDevelopmentRegion"`
	CFBundleDisplayName           string `plist:"CFBundleDisplayName"`
	CFBundleExecutable            string `plist:"CFBundleExecutable"`
	CFBundleIconFile              string `plist:"CFBundleIconFile"`
	CFBundleIdentifier            string `plist:"CFBundleIdentifier"`
	CFBundleInfoDictionaryVersion string `plist:"CFBundleInfoDictionaryVersion"`
	CFBundleName                  string `plist:"CFBundleName"`
	CFBundlePackageType           string `plist:"CFBundlePackageType"`
	CFBundleShortVersionString    string `plist:"CFBundleShortVersionString"`
	CFBundleVersion               string `plist:"CFBundleVersion"`
	LSApplicationCategoryType     string `plist:"LSApplicationCategoryType"`
	LSMinimumSystemVersion        string `plist:"LSMinimumSystemVersion"`
	// LSUIElement: a menu-bar app, no Dock icon and no menu bar of its own.
	LSUIElement              bool   `plist:"LSUIElement"`
	NSHighResolutionCapable  bool   `plist:"NSHighResolutionCapable"`
	NSHumanReadableCopyright string `plist:"NSHumanReadableCopyright"`
	// CFBundleURLTypes registers the ghostwire:// scheme with
	// LaunchServices: a clicked link reaches the app as an Apple event
	// (app/tray/links_darwin.go), which hands it to `ghostwire open-link`.
	CFBundleURLTypes []urlType `plist:"CFBundleURLTypes"`
}

type urlType struct {
	CFBundleURLName    string   `plist:"CFBundleURLName"`
	CFBundleURLSchemes []string `plist:"CFBundleURLSchemes"`
	CFBundleTypeRole   string   `plist:"CFBundleTypeRole"`
}

var bundleVersionRe = regexp.MustCompile(`[0-9]+(\.[0-9]+){0,2}`)

// BundleVersion turns a release version (v1.2.3, 1.2.3-rc.1, dev) into what
// CFBundleShortVersionString accepts: up to three numbers.
func BundleVersion(v string) string {
	m := bundleVersionRe.FindString(v)
	if m == "" {
		return "0.0.0"
	}
	return m
}

// InfoPlist renders the bundle's Info.plist for version.
func InfoPlist(version string) ([]byte, error) {
	v := BundleVersion(version)
	b, err := plist.MarshalIndent(infoPlist{
		CFBundleDevelopmentRegion:     "en",
		CFBundleDisplayName:           AppName,
		CFBundleExecutable:            Executable,
		CFBundleIconFile:              AppName,
		CFBundleIdentifier:            BundleID,
		CFBundleInfoDictionaryVersion: "6.0",
		CFBundleName:                  AppName,
		CFBundlePackageType:           "APPL",
		CFBundleShortVersionString:    v,
		CFBundleVersion:               v,
		LSApplicationCategoryType:     "public.app-category.developer-tools",
		LSMinimumSystemVersion:        MinimumMacOS,
		LSUIElement:                   true,
		NSHighResolutionCapable:       true,
		NSHumanReadableCopyright:      "ghostwire: passwordless WireGuard into your cluster",
		CFBundleURLTypes: []urlType{{
			CFBundleURLName:    BundleID + ".link",
			CFBundleURLSchemes: []string{autostart.LinkScheme},
			CFBundleTypeRole:   "Viewer",
		}},
	}, plist.XMLFormat, "\t")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// BundleOptions say what goes into the bundle.
type BundleOptions struct {
	// Executable is the built ghostwire program (cgo on a Mac, for the tray).
	Executable string
	// Icon is the .icns file (assets/app/Ghostwire.icns).
	Icon string
	// Version is the release version.
	Version string
}

// Bundle writes dir/Ghostwire.app and returns its path:
//
//	Ghostwire.app/Contents/Info.plist
//	Ghostwire.app/Contents/PkgInfo
//	Ghostwire.app/Contents/MacOS/ghostwire
//	Ghostwire.app/Contents/Resources/Ghostwire.icns
//	Ghostwire.app/Contents/Resources/uninstall.sh
func Bundle(dir string, o BundleOptions) (string, error) {
	if o.Executable == "" || o.Icon == "" {
		return "", errors.New("the bundle needs the built program and the icon")
	}
	exe, err := os.ReadFile(o.Executable)
	if err != nil {
		return "", fmt.Errorf("cannot read the program for the bundle: %w", err)
	}
	icon, err := os.ReadFile(o.Icon)
	if err != nil {
		return "", fmt.Errorf("cannot read the icon for the bundle: %w", err)
	}
	if len(icon) < 8 || string(icon[:4]) != "icns" {
		return "", fmt.Errorf("%s is not an .icns file", o.Icon)
	}
	info, err := InfoPlist(o.Version)
	if err != nil {
		return "", err
	}
	uninstall, err := scripts.ReadFile("scripts/" + UninstallScript)
	if err != nil {
		return "", err
	}
	app := filepath.Join(dir, AppName+".app")
	if err := os.RemoveAll(app); err != nil {
		return "", err
	}
	for _, f := range []struct {
		path string
		data []byte
		mode os.FileMode
	}{
		{"Contents/Info.plist", info, 0o644},
		{"Contents/PkgInfo", []byte("APPL????"), 0o644},
		{"Contents/MacOS/" + Executable, exe, 0o755},
		{"Contents/Resources/" + AppName + ".icns", icon, 0o644},
		{"Contents/Resources/" + UninstallScript, uninstall, 0o755},
	} {
		if err := writeFile(filepath.Join(app, f.path), f.data, f.mode); err != nil {
			return "", err
		}
	}
	return app, nil
}

// PkgRoot lays out the installer's payload under root, as it lands on the
// Mac: the app in /Applications, the daemon's LaunchDaemon running the
// app's own program, and the LaunchAgent that starts the menu-bar app at
// every user's login. pkgbuild --root root --install-location / packs it;
// its postinstall runs `launchctl bootstrap system` on the LaunchDaemon.
func PkgRoot(root string, o BundleOptions) error {
	apps := filepath.Join(root, "Applications")
	if err := os.MkdirAll(apps, 0o755); err != nil {
		return err
	}
	if _, err := Bundle(apps, o); err != nil {
		return err
	}
	exe := AppPath + "/Contents/MacOS/" + Executable
	daemon, err := service.LaunchDaemonPlist(service.Spec{Executable: exe, Args: []string{"daemon"}})
	if err != nil {
		return err
	}
	if err := writeFile(filepath.Join(root, service.LaunchDaemonPath), daemon, 0o644); err != nil {
		return err
	}
	return writeFile(filepath.Join(root, TrayAgentPath), []byte(autostart.SystemLaunchAgentPlist(exe)), 0o644)
}

// UninstallScript is in the app's Resources:
// sudo /Applications/Ghostwire.app/Contents/Resources/uninstall.sh
const UninstallScript = "uninstall.sh"

//go:embed scripts
var scripts embed.FS

// Scripts writes the installer's scripts (pkgbuild --scripts dir):
// preinstall stops the running daemon and menu-bar app, postinstall starts
// them (scripts/).
func Scripts(dir string) error {
	for _, name := range []string{"preinstall", "postinstall"} {
		b, err := scripts.ReadFile("scripts/" + name)
		if err != nil {
			return err
		}
		if err := writeFile(filepath.Join(dir, name), b, 0o755); err != nil {
			return err
		}
	}
	return nil
}

func writeFile(path string, b []byte, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(path, b, mode); err != nil {
		return err
	}
	return os.Chmod(path, mode) // whatever the umask
}
