package engine

import (
	"encoding/json"
	"net/netip"
	"testing"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/ghostwire/ghostwire/server/api"
	"github.com/ghostwire/ghostwire/tunnel"
)

// FuzzServerPeer: any answer to POST /v1/peers, decoded as serverclient
// does, turned into the tunnel's configuration as the engine and the
// daemon do, then checked by the tunnel as before it touches the system.
// Never a panic; whatever passes the tunnel's check has only well-formed
// routes, DNS servers and domains. `make fuzz` runs it for a while.
func FuzzServerPeer(f *testing.F) {
	f.Add([]byte(`{"address":"100.64.0.2/32","server_public_key":"xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=","endpoint":"10.0.0.1:51820",
		"routes":["10.0.0.0/8","fd00::/8"],"dns_servers":["10.0.0.10"],"search_domains":["svc.cluster.local"],"match_domains":["cluster.local"],"mtu":1420,"keepalive_seconds":25}`))
	f.Add([]byte(`{"address":"100.64.0.2/33","routes":["0.0.0.0/0"],"mtu":-1,"keepalive_seconds":-5}`))
	f.Add([]byte(`{"address":"::/0","server_public_key":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","endpoint":"x","search_domains":["a\nnameserver 1.2.3.4"],"match_domains":[".",""]}`))
	f.Add([]byte(`{"address":"100.64.0.2/32","server_public_key":"xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=","endpoint":"[::1]:1","mtu":99999999999}`))
	key, _ := wgtypes.GeneratePrivateKey()
	f.Fuzz(func(t *testing.T, body []byte) {
		var p api.Peer
		if json.Unmarshal(body, &p) != nil {
			return // serverclient refuses it
		}
		c, err := tunnelConfig("gwf0", key, p)
		if err != nil {
			return
		}
		ep, err := netip.ParseAddrPort(c.Endpoint)
		if err != nil {
			return // the daemon resolves names; not here
		}
		tc := tunnel.Config{Interface: c.Interface, PrivateKey: tunnel.PrivateKey(c.PrivateKey), Address: c.Address, MTU: c.MTU,
			Peer: tunnel.Peer{PublicKey: c.PeerPublicKey, Endpoint: ep, AllowedIPs: c.Routes, Keepalive: c.Keepalive},
			DNS:  tunnel.DNS{Servers: c.DNSServers, Search: c.SearchDomains, Match: c.MatchDomains}}
		if tc.Validate() != nil {
			return
		}
		for _, d := range append(append([]string{}, c.SearchDomains...), c.MatchDomains...) {
			for _, r := range d {
				if r <= ' ' || r == 0x7f {
					t.Fatalf("domain %q passed the tunnel's check", d)
				}
			}
		}
		if c.MTU != 0 && (c.MTU < 576 || c.MTU > 9000) {
			t.Fatalf("MTU %d passed", c.MTU)
		}
	})
}
