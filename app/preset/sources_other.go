//go:build !linux

package preset

// SystemSources are this OS's places for a preset. The Windows and macOS
// sources join here with their installers (issue 13, second half); each only
// reads its store into key/values and hands them to FromValues, which applies
// the same rules as on Linux:
//
//   - Windows: the values ServerURL, Profile (and optionally CAPEM) under
//     HKLM\SOFTWARE\Policies\Ghostwire, written by the MSI's public
//     properties (`msiexec /i ghostwire.msi SERVERURL=https://vpn.corp
//     PROFILE=prod`) or by Intune/GPO; read with
//     golang.org/x/sys/windows/registry in sources_windows.go.
//   - macOS: the same keys in the managed preferences of the domain
//     com.ghostwire (a configuration profile from Jamf, Intune...), i.e.
//     /Library/Managed Preferences/com.ghostwire.plist, read in
//     sources_darwin.go (root-owned: only MDM writes it).
//
// Until then there is no system-wide preset on these systems.
func SystemSources() []Source { return nil }
