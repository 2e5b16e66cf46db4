package localapi

// macOS has no /run: /var/run (a link to /private/var/run) is where
// daemons keep their sockets, and is emptied at boot.
const defaultSocketPath = "/var/run/ghostwire/ghostwire.sock"

// startDaemonHint: the daemon is a launchd job (docs/macos.md).
const startDaemonHint = "start it with `sudo launchctl bootstrap system /Library/LaunchDaemons/com.ghostwire.daemon.plist`, " +
	"or install it with `sudo ghostwire daemon install`"
