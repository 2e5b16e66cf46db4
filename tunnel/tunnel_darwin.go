package tunnel

import (
	"errors"
	"net"

	"golang.zx2c4.com/wireguard/tun"
)

// The darwin implementation (TUN, routes, DNS) is a later issue. Until then
// every entry point says so instead of doing nothing.
var errNotSupported = errors.New("the ghostwire tunnel is not supported on darwin yet")

func newNetOps() (netOps, error)                { return nil, errNotSupported }
func createTUN(string, int) (tun.Device, error) { return nil, errNotSupported }
func uapiListen(string) (net.Listener, error)   { return nil, errNotSupported }
func uapiSocketPath(name string) string         { return "" }
func linkIndexByName(string) (int, error)       { return 0, errNotSupported }
