// Package wgdev runs the server's WireGuard interface: the kernel's wg0 when
// the kernel has WireGuard, otherwise an embedded wireguard-go device with its
// UAPI socket in /var/run/wireguard. Both are then programmed the same way,
// through wgctrl, one peer at a time (never ReplacePeers: it is O(n) and would
// drop every session for one change).
package wgdev

import (
	"fmt"
	"log/slog"
	"net"
	"net/netip"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// Allowed is one peer and its only allowed IP, for AddPeers.
type Allowed struct {
	Key    wgtypes.Key
	Prefix netip.Prefix
}

// Kinds of device.
const (
	KindKernel    = "kernel"
	KindUserspace = "userspace"
)

// Modes (as config.ModeAuto etc.).
const (
	ModeAuto      = "auto"
	ModeKernel    = "kernel"
	ModeUserspace = "userspace"
)

// UAPIDir is where wireguard-go's UAPI socket lives. It is fixed: wgctrl (and
// `wg`) look only there, so a Pod mounts an emptyDir at this path.
const UAPIDir = "/var/run/wireguard"

// Options describe the device to create.
type Options struct {
	Name       string
	Mode       string
	ListenPort int
	PrivateKey wgtypes.Key
	// Address is the server's tunnel address with the pool's prefix length
	// (e.g. 100.64.0.1/16), so the pool's range routes into the device.
	Address netip.Prefix
	MTU     int
	Logger  *slog.Logger
	// NetNS, when set, names the network namespace (as `ip netns` knows it,
	// or a path) the device is created in. The server runs in its Pod's
	// namespace and leaves it empty; system tests use it.
	NetNS string
}

func peerConfig(key wgtypes.Key, allowed netip.Prefix) wgtypes.PeerConfig {
	return wgtypes.PeerConfig{
		PublicKey:         key,
		ReplaceAllowedIPs: true,
		AllowedIPs:        []net.IPNet{{IP: allowed.Addr().AsSlice(), Mask: net.CIDRMask(allowed.Bits(), allowed.Addr().BitLen())}},
	}
}

func (o *Options) check() error {
	if o.Name == "" || len(o.Name) > 15 {
		return fmt.Errorf("interface name %q must be 1–15 characters", o.Name)
	}
	if !o.Address.IsValid() {
		return fmt.Errorf("interface %s needs a tunnel address", o.Name)
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	switch o.Mode {
	case "", ModeAuto:
		o.Mode = ModeAuto
	case ModeKernel, ModeUserspace:
	default:
		return fmt.Errorf("device mode %q must be auto, kernel or userspace", o.Mode)
	}
	return nil
}
