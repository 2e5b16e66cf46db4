// Package windows builds ghostwire's Windows installer: an x64 MSI made with
// wixl (msitools) from a WiX v3 source generated here, holding the console
// ghostwire.exe (the CLI and the service), the GUI-subsystem
// ghostwire-tray.exe and wintun.dll. The MSI installs the service with the
// values of app/service (LocalSystem, automatic, Nsi/TcpIp/Dnscache first),
// starts the tray at every login (HKLM Run), adds a Start-menu entry and the
// ghostwire:// link handler, upgrades in place (one UpgradeCode, any newer
// or same version replaces the installed one), and on removal stops the
// service (its DNS rules go with it), then `ghostwire daemon purge` removes
// what the daemon kept. Public properties preset the cluster for unattended
// installs (Intune, SCCM, GPO):
//
//	msiexec /i ghostwire-1.4.0-x64.msi /qn SERVERURL=https://vpn.corp PROFILE=prod
//
// Every program is Authenticode-signed with osslsigncode before it goes in,
// and the MSI after (sign.go): with the release certificate given by the
// environment, or with a throwaway one the build makes, which marks the MSI
// as a test build. wintun.dll comes from the official zip, checked against
// its pinned SHA-256 (wintun.go); without it the MSI holds a placeholder
// and is a test build too.
package windows

import (
	"fmt"

	"github.com/google/uuid"

	"github.com/ghostwire/ghostwire/packaging/release"
)

// UpgradeCode identifies ghostwire's MSI across versions: Windows Installer
// finds the installed version by it. It must never change.
const UpgradeCode = "1b1d732a-f8c9-42ea-8fc7-5c946448f2ee"

// The components' GUIDs: fixed, so upgrades and removal follow each
// component. A component whose content changes meaning gets a new GUID.
const (
	guidCLI    = "b9a3c87e-256d-4b02-8b67-caabbfe2176f" // ghostwire.exe, the service, the link handler, the event source
	guidTray   = "bb1d5cca-1c46-4236-8066-70631ed75aca" // ghostwire-tray.exe, HKLM Run, the Start-menu entry
	guidWintun = "90af6753-c24f-466a-80ce-3bd5586fba15" // wintun.dll
	guidPreset = "2900a59c-0f48-424d-9039-99b5877ae991" // the preset policy values (only with SERVERURL)
	guidAccess = "33e1753a-d7a2-4223-9101-aa1e1e30a298" // InteractiveUsers
)

// productNamespace derives each build's ProductCode from its version, so
// the same commit gives the same code and every version a new one (a major
// upgrade).
var productNamespace = uuid.MustParse("582c879e-8bc1-4203-aa98-99525f617e69")

// ProductCode is the MSI ProductCode of version v for arch.
func ProductCode(v release.Version, arch string) string {
	return uuid.NewSHA1(productNamespace, []byte("ghostwire-msi/"+v.String()+"/"+arch)).String()
}

// ProductVersion is v as Windows Installer versions go: MAJOR.MINOR.PATCH
// (major and minor at most 255, patch at most 65535), with the commits past
// the tag as the fourth field, which Add/Remove Programs shows and upgrades
// ignore. Builds of the same MAJOR.MINOR.PATCH replace each other
// (same-version upgrades are allowed: msi.go).
func ProductVersion(v release.Version) (string, error) {
	if v.Major > 255 || v.Minor > 255 || v.Patch > 65535 {
		return "", fmt.Errorf("version %s cannot be an MSI version (major and minor at most 255, patch at most 65535)", v)
	}
	return fmt.Sprintf("%d.%d.%d.%d", v.Major, v.Minor, v.Patch, min(v.Commits, 65535)), nil
}

// The MSI's public properties, for unattended installs.
const (
	// PropServer presets the cluster: the https URL of its ghostwire
	// server, written to HKLM\SOFTWARE\Policies\Ghostwire\ServerURL.
	PropServer = "SERVERURL"
	// PropProfile names the preset's profile (default: from the host).
	PropProfile = "PROFILE"
	// PropInteractive: "1" (the default) lets everyone logged on at the
	// machine use ghostwire; "0" keeps it to administrators, Network
	// Configuration Operators and the local ghostwire group.
	PropInteractive = "INTERACTIVEUSERS"
)

// rememberKey (HKLM) keeps the properties of the last install, so an
// upgrade without them keeps the preset.
const rememberKey = `SOFTWARE\Ghostwire\Installer`

// InstallFolder is where the MSI installs, under Program Files.
const InstallFolder = "Ghostwire"

// The files in InstallFolder.
const (
	CLIExe    = "ghostwire.exe"
	TrayExe   = "ghostwire-tray.exe" // autostart.TrayExe
	WintunDLL = "wintun.dll"
)
