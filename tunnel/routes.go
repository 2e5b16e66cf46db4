package tunnel

import (
	"net/netip"
	"slices"
)

// routePlan is the routes a config needs: the pushed ranges, deduplicated and
// masked, with a /0 split into two /1 halves (they win over the existing
// default route by being more specific, and leave it in place to be restored
// untouched). The range the kernel already routes for the interface address
// is left out.
func routePlan(c Config) []netip.Prefix {
	var out []netip.Prefix
	add := func(p netip.Prefix) {
		p = p.Masked()
		if p == c.Address.Masked() || slices.Contains(out, p) {
			return
		}
		out = append(out, p)
	}
	for _, p := range c.Peer.AllowedIPs {
		if p.Bits() == 0 {
			if p.Addr().Is4() {
				add(netip.MustParsePrefix("0.0.0.0/1"))
				add(netip.MustParsePrefix("128.0.0.0/1"))
			} else {
				add(netip.MustParsePrefix("::/1"))
				add(netip.MustParsePrefix("8000::/1"))
			}
			continue
		}
		add(p)
	}
	return out
}

// endpointCovered reports whether sending to the server endpoint ep would
// itself be routed into the tunnel (with the tunnel address addr and the
// routes): the routing loop. Then the tunnel pins a host route to the
// endpoint through the way it is reached now (see doc.go).
func endpointCovered(ep netip.Addr, addr netip.Prefix, routes []netip.Prefix) bool {
	ep = ep.Unmap()
	if addr.Masked().Contains(ep) {
		return true
	}
	for _, p := range routes {
		if p.Contains(ep) {
			return true
		}
	}
	return false
}

// coveredEndpoints is every endpoint (the active peer's, then each
// standby's, once each) that a pushed range would route into the tunnel:
// each gets a pinned host route, so a standby is reachable before it is
// ever needed.
func coveredEndpoints(c Config, routes []netip.Prefix) []netip.Addr {
	var out []netip.Addr
	for _, p := range append([]Peer{c.Peer}, c.Standby...) {
		ep := p.Endpoint.Addr().Unmap()
		if endpointCovered(ep, c.Address, routes) && !slices.Contains(out, ep) {
			out = append(out, ep)
		}
	}
	return out
}

// diffPrefixes returns what is in next but not in prev (add) and what is in
// prev but not in next (remove).
func diffPrefixes(prev, next []netip.Prefix) (add, remove []netip.Prefix) {
	for _, p := range next {
		if !slices.Contains(prev, p) {
			add = append(add, p)
		}
	}
	for _, p := range prev {
		if !slices.Contains(next, p) {
			remove = append(remove, p)
		}
	}
	return add, remove
}
