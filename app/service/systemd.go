package service

import (
	"fmt"
	"strings"
)

// The systemd unit is rendered here, once, for both `ghostwire daemon install`
// on Linux and the .deb/.rpm packages (packaging/linux), so the two can never
// drift apart. It is portable code so it is tested on every OS.

// UnitFile is the unit's file name.
const UnitFile = Name + ".service"

// Group is the group whose members may use the daemon (daemon.GroupName:
// the daemon decides who gets in; this package only creates the group).
// On Linux the daemon hands its socket to it (see app/daemon's Listen); on
// Windows it is a local group.
const Group = "ghostwire"

// The first line of the unit says who wrote it, so `ghostwire daemon
// uninstall` removes only its own unit and leaves the package's alone.
const (
	// InstalledByPackageComment heads the unit the .deb and .rpm ship.
	InstalledByPackageComment = "Installed by the ghostwire package; remove the package to remove it."
	installedByCommand        = "Installed by `ghostwire daemon install`; `ghostwire daemon uninstall` removes it."
)

// Capabilities are the only privileges the daemon keeps, although it runs as
// root: CAP_NET_ADMIN for the TUN device, addresses, routes and netlink (and
// SO_MARK), CAP_NET_BIND_SERVICE for the split-DNS forwarder on
// 127.0.0.153:53. Everything else root can do (read any file, load modules,
// trace processes, change owners) is dropped. Talking to systemd-resolved over
// D-Bus and rewriting /etc/resolv.conf (owned by root) need none.
var Capabilities = []string{"CAP_NET_ADMIN", "CAP_NET_BIND_SERVICE"}

// SystemdUnit is the unit that runs s as the ghostwire daemon. installedBy
// names who wrote it (a comment in the file, so `ghostwire daemon uninstall`
// can tell its own unit from the package's).
func SystemdUnit(s Spec, installedBy string) (string, error) {
	if !strings.HasPrefix(s.Executable, "/") {
		return "", fmt.Errorf("the service needs the absolute path of the ghostwire program, not %q", s.Executable)
	}
	args := append([]string{s.Executable}, s.Args...)
	var line []string
	for _, a := range args {
		q, err := unitQuote(a)
		if err != nil {
			return "", err
		}
		line = append(line, q)
	}
	var b strings.Builder
	w := func(lines ...string) {
		for _, l := range lines {
			b.WriteString(l)
			b.WriteByte('\n')
		}
	}
	w("# "+installedBy,
		"[Unit]",
		"Description=Ghostwire VPN daemon (passwordless WireGuard into Kubernetes clusters)",
		"Documentation=https://github.com/ghostwire/ghostwire#readme",
		"After=network-online.target nss-lookup.target",
		"Wants=network-online.target",
		"",
		"[Service]",
		"Type=exec",
		"ExecStart="+strings.Join(line, " "),
		"Restart=on-failure",
		"RestartSec=2s",
		"# On stop the daemon removes this device from every server: give it time.",
		"TimeoutStopSec=30s",
		"# /run/ghostwire holds the socket for the CLI and the menu-bar app;",
		"# /var/lib/ghostwire the profiles (no secrets) and the undo journal.",
		"RuntimeDirectory=ghostwire",
		"RuntimeDirectoryMode=0755",
		"StateDirectory=ghostwire",
		"StateDirectoryMode=0700",
		"UMask=0077",
		"# Being in the group lets the daemon give its socket to the group without CAP_CHOWN.",
		"SupplementaryGroups="+Group,
		"",
		"# Root, but only with what a VPN needs: the tunnel, routes and netlink",
		"# (CAP_NET_ADMIN) and the DNS forwarder on 127.0.0.153:53 (CAP_NET_BIND_SERVICE).",
		"CapabilityBoundingSet="+strings.Join(Capabilities, " "),
		"NoNewPrivileges=yes",
		"# /usr and /boot read-only. Not ProtectSystem=full: without systemd-resolved the",
		"# daemon rewrites /etc/resolv.conf in place and restores it, and a read-write",
		"# bind mount of that one file would keep a stale copy once DHCP replaces it.",
		"ProtectSystem=true",
		"ProtectHome=yes",
		"PrivateTmp=yes",
		"DevicePolicy=closed",
		"DeviceAllow=/dev/net/tun rw",
		"ProtectKernelTunables=yes",
		"ProtectKernelModules=yes",
		"ProtectKernelLogs=yes",
		"ProtectControlGroups=yes",
		"ProtectClock=yes",
		"ProtectHostname=yes",
		"ProtectProc=invisible",
		"RestrictAddressFamilies=AF_UNIX AF_NETLINK AF_INET AF_INET6",
		"RestrictNamespaces=yes",
		"RestrictRealtime=yes",
		"RestrictSUIDSGID=yes",
		"LockPersonality=yes",
		"MemoryDenyWriteExecute=yes",
		"SystemCallArchitectures=native",
		"SystemCallFilter=@system-service",
		"SystemCallErrorNumber=EPERM",
		"",
		"[Install]",
		"WantedBy=multi-user.target",
	)
	return b.String(), nil
}

// unitQuote quotes one ExecStart argument (systemd.service(5), "Command
// lines"): double quotes around anything with a space, quote or backslash,
// with \ and " escaped; % is a specifier and $ a variable, so both are doubled.
// Control characters cannot be written safely and are refused.
func unitQuote(a string) (string, error) {
	for _, r := range a {
		if r < 0x20 || r == 0x7f {
			return "", fmt.Errorf("the path %q holds a control character, which a systemd unit cannot carry: move ghostwire to a plain path such as /usr/local/bin", a)
		}
	}
	a = strings.NewReplacer("%", "%%", "$", "$$").Replace(a)
	if a == "" || strings.ContainsAny(a, " \t\"'\\;") {
		a = `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(a) + `"`
	}
	return a, nil
}
