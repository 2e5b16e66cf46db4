package tunnel

import (
	"net/netip"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// validConfig is a config that passes Validate (keys are made fresh).
func validConfig() Config {
	priv, _ := wgtypes.GeneratePrivateKey()
	srv, _ := wgtypes.GeneratePrivateKey()
	return Config{
		Interface:  "gwt0",
		PrivateKey: PrivateKey(priv),
		Address:    netip.MustParsePrefix("100.82.0.2/32"),
		Peer: Peer{
			PublicKey:  srv.PublicKey(),
			Endpoint:   netip.MustParseAddrPort("192.0.2.10:51820"),
			AllowedIPs: []netip.Prefix{netip.MustParsePrefix("10.202.0.0/16")},
			Keepalive:  25 * time.Second,
		},
		DNS: DNS{
			Servers: []netip.Addr{netip.MustParseAddr("10.202.0.10")},
			Search:  []string{"svc.cluster.local"},
			Match:   []string{"cluster.local"},
		},
	}
}
