// Package tunnel is the client's OS layer: an embedded WireGuard device
// (wireguard-go on its own TUN), the tunnel address, MTU, routes for the
// cluster's ranges, and split DNS for the cluster's domains. Every change it
// makes to the system is journaled on disk first, so that it is undone on
// Close, and at the next start (Recover) after a crash or kill -9.
//
// # Use
//
//	tunnel.Recover("", log)              // once at daemon start: undo leftovers
//	ep, _ := tunnel.ResolveEndpoint(ctx, "vpn.example.com:51820")
//	t, err := tunnel.Up(ctx, tunnel.Config{
//		Interface:  "gw0",
//		PrivateKey: tunnel.PrivateKey(key), // from wgtypes.GeneratePrivateKey, in memory only
//		Address:    netip.MustParsePrefix("100.64.0.7/32"),
//		Peer: tunnel.Peer{PublicKey: serverKey, Endpoint: ep,
//			AllowedIPs: routes, Keepalive: 25 * time.Second},
//		DNS: tunnel.DNS{Servers: dns, Search: search, Match: match},
//	}, log)
//	s, _ := t.Stats()                    // LatestHandshake, RxBytes, TxBytes
//	t.Kick()                             // handshake now, not on first traffic
//	t.Rehandshake()                      // new handshake now, even with a live session
//	<-t.Outgoing()                       // wait for the next packet sent into the tunnel
//	t.Reconfigure(ctx, next)             // new key / peer / address / routes / DNS, interface kept
//	t.Close()                            // interface, routes, DNS restored
//
// Up, Reconfigure, Stats, Kick, Rehandshake and Close act in the calling thread's network
// namespace (the daemon's).
//
// # Secrets
//
// The private key is held by the WireGuard device in memory. PrivateKey
// formats, logs and marshals as "[redacted]"; the journal never holds it.
// The UAPI socket /var/run/wireguard/<iface>.sock (mode 0600 in a 0755 dir,
// root only) is exposed so that `wg show <iface>` works for debugging; like
// the kernel's WireGuard netlink API, a root caller can read the key there.
//
// # Routes and the routing loop
//
// Each pushed range gets a route through the interface; a /0 is refused
// (ErrFullTunnel) unless Config.AllowFullTunnel, and then installed as two
// /1 halves so the system's default route stays untouched. When the server
// endpoint falls inside a pushed range (an internal load balancer at 10.x
// with 10.0.0.0/8 pushed, or a full tunnel), the tunnel pins a host route to
// the endpoint through the gateway and interface that reach it now. We chose
// the host route over SO_MARK plus a policy rule (wg-quick's way) because it
// is one visible route (`ip route`), needs no rule table shared with other
// software, and the same approach works on macOS and Windows. Its cost: after
// a network change (new Wi-Fi, new gateway) the pin is stale; Reconfigure
// re-pins, so the engine calls it (with the same config) on a network change.
//
// # Split DNS
//
// One mechanism per system, chosen at run time (DNSMode, like Tailscale's
// net/dns):
//   - systemd-resolved, when it owns org.freedesktop.resolve1 on the system
//     bus: SetLinkDNS, SetLinkDomains (search domains as plain entries, match
//     domains as routing-only ~entries), SetLinkDefaultRoute(false); RevertLink
//     on undo. Real split DNS, nothing else changes.
//   - otherwise the stub: a small forwarder on Config.StubAddress (default
//     127.0.0.153:53; github.com/miekg/dns)
//     sends the match and search domains to the cluster's DNS and every other
//     name to the nameservers resolv.conf had (with none, empty or missing,
//     where the resolver goes then: 127.0.0.1:53, then [::1]:53); resolv.conf is rewritten to
//     point at it with the search domains added. Real split DNS on
//     resolv.conf systems.
//   - DNSResolvConf (only when asked): cluster DNS first in resolv.conf, then
//     the original nameservers, plus the search domains. glibc asks the first
//     server for every name, so ALL queries go to the cluster's DNS (CoreDNS
//     forwards what it does not serve); logged as a warning when chosen.
//
// Tunnels of one process (one per profile) that use the stub or resolv.conf
// modes share the file and one forwarder: the file lists every profile's
// search domains, the forwarder asks every profile whose domains match a
// name (two clusters on cluster.local are both asked) and takes the first
// answer with records, most specific domain first and then in the order
// the profiles came up; profiles may go down in any order. Each
// profile's journal holds the original and the current content, so Recover
// works from any one of them.
//
// resolv.conf is rewritten in place (not renamed over: under `ip netns exec`
// and in containers it is a bind mount) and restored byte for byte, unless
// another program rewrote it meanwhile (then its newer version stays).
//
// # Journal
//
// JournalDir (default /var/lib/ghostwire/journal, mode 0700) holds one JSON
// file per interface listing the changes: interface, UAPI socket, address,
// routes, pinned host route, resolved link, resolv.conf with its original
// content. Each entry is written and fsynced before its change is made;
// undoing is idempotent. Up undoes a leftover journal of its own interface
// first. After kill -9 the kernel removes the TUN with its routes; Recover
// removes the rest (pinned route, resolv.conf, stale socket).
//
// # Other systems
//
// Linux is implemented. On macOS and Windows, Up returns "the ghostwire
// tunnel is not supported on <os> yet"; config validation, the journal, the
// DNS plan and the routing-loop logic are portable and tested everywhere.
package tunnel
