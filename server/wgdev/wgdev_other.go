//go:build !linux

package wgdev

import (
	"errors"
	"net/netip"
	"runtime"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// Device is the server's WireGuard interface. The server runs on Linux only.
type Device struct{}

var errOS = errors.New("the ghostwire server's WireGuard device is not supported on " + runtime.GOOS + " yet: run the server on Linux (it runs in a Kubernetes Pod)")

// Open fails: not supported on this OS.
func Open(Options) (*Device, error) { return nil, errOS }

func (d *Device) Kind() string                            { return "" }
func (d *Device) Name() string                            { return "" }
func (d *Device) PublicKey() wgtypes.Key                  { return wgtypes.Key{} }
func (d *Device) AddPeer(wgtypes.Key, netip.Prefix) error { return errOS }
func (d *Device) RemovePeer(wgtypes.Key) error            { return errOS }
func (d *Device) AddPeers([]Allowed) error                { return errOS }
func (d *Device) Peers() ([]wgtypes.Peer, error)          { return nil, errOS }
func (d *Device) Check() error                            { return errOS }
func (d *Device) Close() error                            { return errOS }
