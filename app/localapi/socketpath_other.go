//go:build !windows && !darwin

package localapi

const defaultSocketPath = "/run/ghostwire/ghostwire.sock"

const startDaemonHint = "start it with `sudo systemctl start ghostwire` or `sudo ghostwire daemon`"
