//go:build !windows && !darwin

package localapi

const defaultSocketPath = "/run/ghostwire/ghostwire.sock"
