package tunnel

import (
	"fmt"
	"net/netip"
)

// This file is the portable half of the macOS routing code: the kernel's
// route table as plain values and the choice of the way to the server when
// the kernel's own answer is our tunnel. tunnel_darwin.go fills the table
// from a routing-socket dump; the choice is tested on every OS.

// BSD route flags (<net/route.h>, the values of macOS), spelled out here so
// that the portable code and its tests need no darwin build.
const (
	rtfUp        = 0x1
	rtfGateway   = 0x2
	rtfHost      = 0x4
	rtfReject    = 0x8
	rtfBlackhole = 0x1000
	rtfStatic    = 0x800
	rtfProto2    = 0x4000
	rtfWasCloned = 0x20000
	rtfLocal     = 0x200000
	rtfIfScope   = 0x1000000
)

// rtfOurs marks every route ghostwire adds on macOS, so that a route of
// ours is told from an equal one of someone else's before it is deleted.
// RTF_PROTO1 is NetBird's mark (it removes every PROTO1 route when it
// starts); RTF_PROTO3 is the kernel's own (RTPRF_OURS for cloned routes).
const rtfOurs = rtfProto2

// kernelRoute is one row of the kernel's route table.
type kernelRoute struct {
	Dst     netip.Prefix
	Gateway netip.Addr // valid when the next hop is a router (RTF_GATEWAY)
	Index   int        // outgoing interface
	Flags   int
}

// linkState is what the choice needs to know about an interface.
type linkState struct {
	Name string
	Up   bool
}

// chooseRoute picks the route the kernel would use for dst if the
// interface exclude (our tunnel) did not exist: the longest matching
// prefix among the usable routes. Scoped routes (RTF_IFSCOPE: macOS keeps a
// default per interface, used only by sockets bound to that interface),
// routes through interfaces that are down or unknown, reject and blackhole
// routes, and routes through exclude do not count. Among equal prefixes the
// table's order wins (the kernel lists its primary first).
func chooseRoute(dst netip.Addr, table []kernelRoute, links map[int]linkState, exclude string) (kernelRoute, linkState, error) {
	var best *kernelRoute
	for i := range table {
		r := &table[i]
		l, known := links[r.Index]
		switch {
		case !r.Dst.IsValid() || !r.Dst.Contains(dst):
		case r.Flags&rtfUp == 0, r.Flags&(rtfReject|rtfBlackhole) != 0, r.Flags&rtfIfScope != 0:
		case !known || !l.Up || l.Name == exclude:
		case best == nil || r.Dst.Bits() > best.Dst.Bits():
			best = r
		}
	}
	if best == nil {
		return kernelRoute{}, linkState{}, fmt.Errorf("no route to %s outside the tunnel (no network?)", dst)
	}
	return *best, links[best.Index], nil
}

// nextHop turns a chosen route into pathTo's answer: the gateway when the
// route goes through a router, none for an on-link destination; ok is false
// for an address of this machine (nothing to pin).
func nextHop(r kernelRoute, l linkState) (gw netip.Addr, dev string, ok bool) {
	if r.Flags&rtfLocal != 0 {
		return netip.Addr{}, "", false
	}
	if r.Flags&rtfGateway != 0 && r.Gateway.IsValid() {
		gw = r.Gateway.Unmap()
	}
	return gw, l.Name, true
}

// overlapsLocal lists the networks of this machine's other interfaces that
// a pushed range overlaps: a range equal to or inside the Wi-Fi's subnet
// loses to the more specific on-link route (the cluster is unreachable
// there), and one containing it sends the rest of the subnet's neighbours
// into the tunnel while they stay reachable on the LAN.
func overlapsLocal(routes []netip.Prefix, local []netip.Prefix) []string {
	var out []string
	for _, r := range routes {
		for _, l := range local {
			if r.Overlaps(l) && l.Bits() > 0 {
				out = append(out, fmt.Sprintf("%s overlaps this machine's network %s", r, l.Masked()))
			}
		}
	}
	return out
}
