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
// # Windows
//
// The interface is a wintun adapter (wintun.dll beside the exe, or in
// System32; a missing DLL is an error naming the file and its folder)
// whose GUID is derived from the interface name and a fixed namespace,
// never from keys: Windows keys the network profile to it, so each
// profile keeps one. Up refuses at once without Administrator rights.
// Addresses, routes and the MTU (NLMTU, with duplicate address detection
// and router discovery off) go through the IP Helper API (winipcfg), only
// once Windows has attached IPv4 to the new adapter. Each route goes
// through a next hop reserved never to be anyone's address (192.0.0.8,
// IANA's IPv4 dummy address; 100::8 in the IPv6 discard prefix) with an
// on-link host route of its own: Windows treats a route with no next hop
// as an on-link subnet and reserves its last address as a broadcast, so
// TCP to 10.0.255.255 through a 10.0.0.0/16 route would fail. A pushed
// range equal to a network this machine is on is refused naming the
// interface; one overlapping it is logged. The endpoint pin takes the best
// route by prefix and route+interface metric among interfaces that are up
// and not ours (bestRoute, portable and tested on Linux); Reconfigure
// re-pins after a network change as on Linux. The routes and addresses are
// flushed before the adapter closes, which Windows' stack needs; wintun
// removes the adapter when the process that made it closes it or ends.
//
// Split DNS is the NRPT: one rule per 50 namespaces (".cluster.local"),
// GenericDNSServers the cluster's DNS, its Comment marking it as ours, the
// key named from the interface, created volatile (gone at the next boot,
// so a power loss cannot leave it). When a Group Policy NRPT table exists
// Windows reads only that one, so the rules go there as well and Windows
// is asked to refresh its policy. A domain another rule already sends
// elsewhere (another VPN, a policy, a second profile on cluster.local) is
// refused naming the rule and how to remove it: Windows would use one of
// the two at random. A catch-all "." is never written. The search domains
// go on our adapter (no nameserver there: the NRPT routes), the resolver
// cache is flushed, and a goroutine checks through the system resolver
// that kubernetes.default.svc.<domain> answers, logging the outcome. Every
// key is journaled before it is written; Close and Recover remove the ones
// marked ours, and Recover also removes rules of ours whose writing process
// (named in the mark) is gone (a crash whose journal is gone). Go's resolver on
// Windows is GetAddrInfoW, which honours the NRPT; nslookup does not, so
// test with Resolve-DnsName. The journal lives in
// %ProgramData%\ghostwire\journal, which the daemon restricts to SYSTEM and
// Administrators. See docs/windows.md for what is verified where.
//
// # Journal
//
// JournalDir (default /var/lib/ghostwire/journal on Linux, /Library/Application
// Support/ghostwire/journal on macOS; mode 0700) holds one JSON
// file per interface listing the changes: interface, UAPI socket, address,
// routes, pinned host route, resolved link, resolv.conf with its original
// content. Each entry is written and fsynced before its change is made;
// undoing is idempotent. Up undoes a leftover journal of its own interface
// first. After kill -9 the kernel removes the TUN with its routes; Recover
// removes the rest (pinned route, resolv.conf, stale socket).
//
// # macOS
//
// The interface is a utun: wireguard-go asks for "utun" and the kernel
// picks the unit, so Config.Interface (gw0) stays the profile's name for
// the journal, the UAPI socket (`sudo wg show gw0`) and the DNS keys, and
// Name() reports the real utunN. A utun exists only while its control
// socket is open: it vanishes with the process, routes through it too. A
// just-closed utun may report "busy" for a moment; Up retries for a second.
//
// Address, MTU and link state go through ifconfig (as wg-quick and
// tailscaled do: the address needs SIOCAIFADDR's in_aliasreq, which
// x/sys does not offer, and it is two commands per connect). Routes go
// through the routing socket with golang.org/x/net/route (as NetBird
// does), not route(8): each RTM_ADD/RTM_DELETE is one write whose errno is
// the kernel's exact answer (EEXIST, ESRCH) instead of text to parse, no
// process is started per route, the table is read with a sysctl dump
// (RTM_GET for the kernel's own choice), and every route we add carries
// RTF_PROTO2, so a route of ours is told from someone else's identical one
// before it is deleted (RTF_PROTO1 is NetBird's mark: it flushes those at
// start). The endpoint pin takes the way the kernel answers for the
// server; when that is our own utun (a re-pin while our routes exist) it
// chooses from the table the longest matching route that is not scoped
// (RTF_IFSCOPE: macOS keeps a default per interface for bound sockets),
// not rejected, and through an interface that is up and running
// (chooseRoute, portable and tested on Linux). A pushed range equal to the
// Wi-Fi's subnet is refused with that explanation; one overlapping it is
// logged.
//
// Split DNS writes our own SystemConfiguration dynamic-store keys through
// scutil(8), never the primary service's settings:
// State:/Network/Service/ghostwire-<pid>-<iface>-search<i>/DNS holds the
// search domains with SupplementalMatchDomainsNoSearch=0, so configd adds
// them to the system's search list after the Wi-Fi's own (SearchOrder
// 200000 and up) and `prometheus` becomes
// prometheus.<ns>.svc.cluster.local, answered by the cluster; ...-match<i>
// holds the other cluster domains with NoSearch=1 (routed, not searched).
// At most 50 domains and 1500 bytes per key (scutil reads 2048-byte lines,
// d.add takes 101 arguments); values are quoted as scutil's tokenizer
// reads them. The caches are flushed after each change (dscacheutil, and
// SIGHUP to mDNSResponder), and Up waits until `scutil --dns` lists our
// resolvers. A domain another resolver already answers with other servers
// (another VPN, a file in /etc/resolver, a second profile on
// cluster.local) is refused with an error naming it: macOS asks one
// resolver per domain, so one side would silently lose. Every key is
// journaled before it is written; Close and Recover remove them, and since
// each key names its daemon's pid, Recover and every Up also remove keys
// of daemons that are gone (a crash whose journal was lost). Keys are
// written with `set` by one scutil run per change, not `add ... temporary`
// from a long-lived scutil: that would drop the DNS silently whenever that
// child dies, and after a crash launchd restarts the daemon within seconds
// anyway, whose Recover removes them. Go programs, curl and Safari use
// the system resolver and see these keys (Go's default resolver on darwin
// calls libSystem even without cgo; never build with -tags netgo); dig and
// nslookup do not: test with `dscacheutil -q host -a name prometheus`.
//
// # Other systems
//
// The package supports Linux, macOS and Windows only; it does not build on
// other systems. Config validation, the journal, the DNS plan, the NRPT
// rules, the scutil scripts and the route choice are portable code, tested
// on all three.
package tunnel
