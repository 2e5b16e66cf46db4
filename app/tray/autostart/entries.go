package autostart

import (
	"strings"

	"github.com/ghostwire/ghostwire/app/addcluster"
	"github.com/ghostwire/ghostwire/app/preset"
)

// The menu-bar app's other XDG desktop entries, installed by the Linux
// packages next to the system-wide autostart entry (DesktopEntry): the
// application-menu launcher and the ghostwire:// link handler. They live here
// with DesktopEntry so the three share one quoting of Exec.

// LauncherFile and LinkHandlerFile are their names in /usr/share/applications.
const (
	LauncherFile    = "ghostwire.desktop"
	LinkHandlerFile = "ghostwire-link.desktop"
)

// LinkScheme is the URL scheme of connect links (ghostwire://connect?server=…).
const LinkScheme = addcluster.Scheme

// BundleID is the macOS app's bundle identifier (Ghostwire.app,
// packaging/macos), which LaunchServices starts for a ghostwire:// link and
// which names the managed-preferences domain (app/preset).
const BundleID = preset.PreferenceDomain

// OpenLinkArgs is the command the OS runs for a link, before the link itself.
var OpenLinkArgs = []string{"open-link"}

// LauncherEntry puts "Ghostwire" in the desktop's application menu; it starts
// the menu-bar app (a second start just says it is already running).
func LauncherEntry(exe string) string {
	var b strings.Builder
	b.WriteString("[Desktop Entry]\n")
	b.WriteString("Type=Application\n")
	b.WriteString("Name=Ghostwire\n")
	b.WriteString("GenericName=VPN into Kubernetes\n")
	b.WriteString("Comment=Connect this computer to your Kubernetes cluster\n")
	b.WriteString("Exec=" + execLine(append([]string{exe}, Args...)) + "\n")
	b.WriteString("Icon=network-vpn\n")
	b.WriteString("Terminal=false\n")
	b.WriteString("Categories=Network;\n")
	b.WriteString("Keywords=VPN;WireGuard;Kubernetes;cluster;\n")
	b.WriteString("StartupNotify=false\n")
	return b.String()
}

// LinkHandlerEntry registers exe as the handler of ghostwire:// links (the
// desktop passes the link as %u). It is hidden from menus.
func LinkHandlerEntry(exe string) string {
	var b strings.Builder
	b.WriteString("[Desktop Entry]\n")
	b.WriteString("Type=Application\n")
	b.WriteString("Name=Ghostwire link handler\n")
	b.WriteString("Comment=Adds a cluster from a ghostwire:// link, after asking you\n")
	b.WriteString("Exec=" + execLine(append([]string{exe}, OpenLinkArgs...)) + " %u\n")
	b.WriteString("Icon=network-vpn\n")
	b.WriteString("Terminal=false\n")
	b.WriteString("NoDisplay=true\n")
	b.WriteString("MimeType=x-scheme-handler/" + LinkScheme + ";\n")
	return b.String()
}
