package tunnel

import (
	"net/netip"
	"slices"
)

// sysRoute is one row of the system's routing table as the OS files read it
// where the OS answers no "how is X reached" question that can leave our
// own interface out (Windows: GetIpForwardTable2 joined with the adapters).
type sysRoute struct {
	Dst     netip.Prefix
	NextHop netip.Addr // invalid or unspecified: on-link
	Iface   string     // the interface's name (Windows: its alias)
	// Metric is what Windows compares: the route's metric plus its
	// interface's (wireguard-windows tunnel/pitfalls.go).
	Metric uint32
	Up     bool // the interface is operational
}

// bestRoute picks the row that carries dst: the longest prefix that
// contains it, then the lowest metric, among rows on interfaces that are
// up and that skip does not reject (our own tunnels). A Wi-Fi that went
// down keeps its routes for a while on Windows (firezone/firezone#6802):
// pinning through it would send the handshake nowhere.
func bestRoute(table []sysRoute, dst netip.Addr, skip func(sysRoute) bool) (sysRoute, bool) {
	dst = dst.Unmap()
	var best sysRoute
	found := false
	for _, r := range table {
		if !r.Up || !r.Dst.IsValid() || r.Dst.Addr().Is4() != dst.Is4() || !r.Dst.Contains(dst) {
			continue
		}
		if skip != nil && skip(r) {
			continue
		}
		if !found || r.Dst.Bits() > best.Dst.Bits() || (r.Dst.Bits() == best.Dst.Bits() && r.Metric < best.Metric) {
			best, found = r, true
		}
	}
	if found && (!best.NextHop.IsValid() || best.NextHop.IsUnspecified()) {
		best.NextHop = netip.Addr{} // on-link: no gateway
	}
	return best, found
}

// exactRoute finds a route for exactly p on another interface than ours:
// adding ours beside it would leave the choice to metrics, so the tunnel
// refuses it as Linux's kernel does (EEXIST).
func exactRoute(table []sysRoute, p netip.Prefix, ours string) (sysRoute, bool) {
	p = p.Masked()
	i := slices.IndexFunc(table, func(r sysRoute) bool { return r.Iface != ours && r.Dst.Masked() == p })
	if i < 0 {
		return sysRoute{}, false
	}
	return table[i], true
}

// lanOverlaps lists the networks on other interfaces that partly overlap
// p: a LAN inside a pushed range keeps its own part (the more specific route
// wins), and a pushed range inside a LAN takes that part of the LAN away.
// Either way some addresses go where the person may not expect, so the
// tunnel says so. Host routes, default routes, link-local, loopback and
// multicast rows are not networks anyone chose.
func lanOverlaps(table []sysRoute, p netip.Prefix, ours string) []sysRoute {
	p = p.Masked()
	var out []sysRoute
	for _, r := range table {
		d := r.Dst.Masked()
		if r.Iface == ours || !d.IsValid() || d == p || !d.Overlaps(p) || d.Bits() == 0 || d.IsSingleIP() {
			continue
		}
		if a := d.Addr(); a.IsLoopback() || a.IsMulticast() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() {
			continue
		}
		if slices.ContainsFunc(out, func(o sysRoute) bool { return o.Dst == r.Dst && o.Iface == r.Iface }) {
			continue
		}
		out = append(out, r)
	}
	return out
}

// Windows counts a route whose next hop is unspecified (or our own address)
// as an on-link subnet route and reserves its last address as a broadcast:
// TCP to 10.0.255.255 through a 10.0.0.0/16 tunnel route then fails with
// WSAEADDRNOTAVAIL (tailscale wgengine/router/osrouter/ifconfig_windows.go,
// tailscale/tailscale#959). The tunnel's routes therefore go through a
// next hop that means nothing on a point-to-point link, reached by an
// on-link host route of its own. These addresses are reserved never to be
// anyone's: 192.0.0.8 is IANA's IPv4 dummy address (RFC 7600) and 100::/64
// is the IPv6 discard-only prefix (RFC 6666).
var (
	tunnelGateway4 = netip.MustParseAddr("192.0.0.8")
	tunnelGateway6 = netip.MustParseAddr("100::8")
)

// tunnelGateway is the next hop the tunnel's routes of p's family use.
func tunnelGateway(p netip.Prefix) netip.Addr {
	if p.Addr().Is4() {
		return tunnelGateway4
	}
	return tunnelGateway6
}
