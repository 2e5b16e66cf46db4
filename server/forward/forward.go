// Package forward makes the server Pod a router for its clients: it checks
// (and, where allowed, turns on) IP forwarding, and installs nftables rules
// (through netlink, no iptables binary) that forward client traffic only to
// the pushed routes, never between clients, never new connections towards
// clients, and masquerade what leaves the Pod so the cluster sees the Pod's
// address. Status says why forwarding cannot work, for /readyz.
package forward

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
)

// TableName is the nftables table the server owns (family inet).
const TableName = "ghostwire"

// Options describe the rules.
type Options struct {
	// Interface is the WireGuard interface (wg0).
	Interface string
	// Pool is the clients' address range.
	Pool netip.Prefix
	// Routes are the only destinations clients may reach (plus DNSServers);
	// empty means everything the Pod can reach.
	Routes     []netip.Prefix
	DNSServers []netip.Addr
	Masquerade bool
	// NetNS, when set, is the network namespace (name or path) to work in
	// (system tests); the server itself works in its Pod's namespace.
	NetNS  string
	Logger *slog.Logger
}

// ErrForwardingOff is the /readyz reason when the kernel will not forward.
var ErrForwardingOff = errors.New("IP forwarding is off in the Pod's network namespace, so client traffic cannot reach the cluster: " +
	"set the sysctl net.ipv4.ip_forward=1 for the Pod (securityContext.sysctls, allowed by the kubelet's --allowed-unsafe-sysctls) " +
	"or let the server set it (it tries at start; it needs a writable /proc/sys)")

func (o *Options) check() error {
	if o.Interface == "" {
		return errors.New("forward: no interface")
	}
	if !o.Pool.IsValid() {
		return errors.New("forward: no client address pool")
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	for _, r := range o.Routes {
		if r.Addr().Is4() != o.Pool.Addr().Is4() {
			return fmt.Errorf("route %s is not of the same IP family as the pool %s", r, o.Pool)
		}
	}
	return nil
}
