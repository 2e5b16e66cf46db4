// Package autostart registers the tray to start when the person logs in, with
// each OS's own mechanism: an XDG autostart entry on Linux, a LaunchAgent on
// macOS, the HKCU Run key on Windows. The file contents are pure functions,
// tested on every OS; Enable/Disable/Enabled live in per-OS files.
package autostart

import (
	"encoding/xml"
	"strings"
)

// Args are the arguments the tray is started with at login.
var Args = []string{"tray"}

// Names used by the registrations.
const (
	desktopFile   = "ghostwire.desktop"
	launchAgentID = "com.ghostwire.tray"
	runValueName  = "Ghostwire"
)

// DesktopEntry is the XDG autostart file that starts exe with Args
// (https://specifications.freedesktop.org/autostart-spec/).
func DesktopEntry(exe string) string {
	var b strings.Builder
	b.WriteString("[Desktop Entry]\n")
	b.WriteString("Type=Application\n")
	b.WriteString("Name=Ghostwire\n")
	b.WriteString("Comment=Ghostwire VPN menu (passwordless WireGuard into your cluster)\n")
	b.WriteString("Exec=" + execLine(append([]string{exe}, Args...)) + "\n")
	b.WriteString("Icon=network-vpn\n")
	b.WriteString("Terminal=false\n")
	b.WriteString("X-GNOME-Autostart-enabled=true\n")
	b.WriteString("Hidden=false\n")
	return b.String()
}

// DisabledEntry is the per-user XDG entry that turns off a system-wide entry
// of the same name (/etc/xdg/autostart/ghostwire.desktop, installed by the
// package) for this person only: Hidden=true means "as if it did not exist".
func DisabledEntry() string {
	return "[Desktop Entry]\n" +
		"Type=Application\n" +
		"Name=Ghostwire\n" +
		"Comment=Start at login turned off in the Ghostwire menu (overrides the system-wide entry)\n" +
		"Hidden=true\n"
}

// DesktopFile is the file name of the autostart entry, per user and system-wide.
const DesktopFile = desktopFile

// execLine quotes args for a desktop entry's Exec key: arguments with reserved
// characters are double-quoted with ", `, $ and \ escaped, % is doubled, and then
// the whole value is escaped as a desktop-entry string (\ → \\).
func execLine(args []string) string {
	parts := make([]string, len(args))
	for i, a := range args {
		a = strings.ReplaceAll(a, "%", "%%")
		if a == "" || strings.ContainsAny(a, " \t\n\"'\\><~|&;$*?#()`") {
			a = `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "`", "\\`", `$`, `\$`).Replace(a) + `"`
		}
		parts[i] = a
	}
	line := strings.Join(parts, " ")
	return strings.NewReplacer(`\`, `\\`, "\n", `\n`, "\t", `\t`).Replace(line)
}

// LaunchAgentPlist is the per-user LaunchAgent that starts exe with Args at
// login on macOS.
func LaunchAgentPlist(exe string) string {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	b.WriteString(`<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">` + "\n")
	b.WriteString(`<plist version="1.0">` + "\n<dict>\n")
	b.WriteString("\t<key>Label</key>\n\t<string>" + launchAgentID + "</string>\n")
	b.WriteString("\t<key>ProgramArguments</key>\n\t<array>\n")
	for _, a := range append([]string{exe}, Args...) {
		b.WriteString("\t\t<string>" + xmlEscape(a) + "</string>\n")
	}
	b.WriteString("\t</array>\n")
	b.WriteString("\t<key>RunAtLoad</key>\n\t<true/>\n")
	b.WriteString("\t<key>ProcessType</key>\n\t<string>Interactive</string>\n")
	b.WriteString("\t<key>LimitLoadToSessionType</key>\n\t<string>Aqua</string>\n")
	b.WriteString("</dict>\n</plist>\n")
	return b.String()
}

// RunValue is the command line stored in HKCU\...\Run on Windows.
func RunValue(exe string) string {
	parts := []string{`"` + exe + `"`}
	for _, a := range Args {
		if strings.ContainsAny(a, " \t\"") {
			a = `"` + strings.ReplaceAll(a, `"`, `\"`) + `"`
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}

func xmlEscape(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}
