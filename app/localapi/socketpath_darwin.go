package localapi

// macOS has no /run: /var/run (a link to /private/var/run) is where
// daemons keep their sockets, and is emptied at boot.
const defaultSocketPath = "/var/run/ghostwire/ghostwire.sock"
