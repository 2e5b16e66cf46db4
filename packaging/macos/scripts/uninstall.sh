#!/bin/sh
# Removes Ghostwire from this Mac: stops the daemon (its tunnels come down,
# routes and DNS settings restored) and the menu-bar apps, undoes what a
# crashed daemon may have left, and deletes everything the package
# installed, the daemon's state and logs, and each person's Ghostwire
# settings and logs. A configuration profile (managed preferences) is the
# MDM's: remove it there.
#
#   sudo /Applications/Ghostwire.app/Contents/Resources/uninstall.sh
set -u
# This script lives in <root>/Applications/Ghostwire.app/Contents/Resources.
ROOT=$(cd "$(dirname "$0")/../../../.." && pwd)
[ "$ROOT" = / ] && ROOT=
DAEMON=com.ghostwire.daemon
TRAY=com.ghostwire.tray
APP_ID=com.ghostwire.Ghostwire
PKG_ID=com.ghostwire.Ghostwire.pkg
APP="$ROOT/Applications/Ghostwire.app"
STATE="$ROOT/Library/Application Support/ghostwire"

if [ "$(id -u)" -ne 0 ]; then
	echo "Run it as root: sudo \"$0\"" >&2
	exit 1
fi

# The menu-bar app of everyone logged in, then the daemon.
for uid in $(ps -axo uid=,comm= | awk -v exe="$APP/Contents/MacOS/ghostwire" '$2 == exe { print $1 }' | sort -u); do
	launchctl bootout "gui/$uid/$TRAY" >/dev/null 2>&1 || true
	launchctl asuser "$uid" osascript -e "tell application id \"$APP_ID\" to quit" >/dev/null 2>&1 || true
done
console_uid=$(stat -f %u /dev/console)
if [ "$console_uid" -ne 0 ]; then
	launchctl bootout "gui/$console_uid/$TRAY" >/dev/null 2>&1 || true
fi
if launchctl print "system/$DAEMON" >/dev/null 2>&1; then
	launchctl bootout "system/$DAEMON" || echo "ghostwire: the daemon did not stop cleanly; the purge below undoes what it left" >&2
fi
launchctl disable "system/$DAEMON" >/dev/null 2>&1 || true

# What a crashed daemon left (DNS keys, routes), then its state and logs.
if [ -x "$APP/Contents/MacOS/ghostwire" ]; then
	"$APP/Contents/MacOS/ghostwire" daemon purge --state-dir "$STATE" ||
		echo "ghostwire: the purge reported problems (above); the files are removed anyway" >&2
fi
rm -rf "$STATE" "$ROOT/Library/Logs/ghostwire"

rm -f "$ROOT/Library/LaunchDaemons/$DAEMON.plist" "$ROOT/Library/LaunchAgents/$TRAY.plist"
rm -rf "$ROOT/usr/local/libexec/ghostwire"
for home in "$ROOT"/Users/*; do
	[ -d "$home/Library" ] || continue
	rm -f "$home/Library/LaunchAgents/$TRAY.plist"
	rm -rf "$home/Library/Application Support/Ghostwire" "$home/Library/Caches/ghostwire"
done
pkgutil --volume "${ROOT:-/}" --forget "$PKG_ID" >/dev/null 2>&1 || true
rm -rf "$APP"
echo "Ghostwire is removed."
