package tunnel

import (
	"net/netip"
	"testing"
)

// A laptop's table as Windows shows it: Wi-Fi and Ethernet both with a
// default route (Ethernet cheaper), a stale Wi-Fi that went down, the home
// LAN, a ghostwire tunnel (gw1, another profile) and the usual on-link
// host, broadcast and multicast rows.
func laptopTable() []sysRoute {
	r := func(dst, nh, iface string, metric uint32, up bool) sysRoute {
		var a netip.Addr
		if nh != "" {
			a = netip.MustParseAddr(nh)
		}
		return sysRoute{Dst: netip.MustParsePrefix(dst), NextHop: a, Iface: iface, Metric: metric, Up: up}
	}
	return []sysRoute{
		r("0.0.0.0/0", "192.168.1.1", "Wi-Fi", 35+25, true),
		r("0.0.0.0/0", "10.20.0.1", "Ethernet", 0+5, true),
		r("0.0.0.0/0", "172.16.9.1", "Wi-Fi 2", 1, false),
		r("192.168.1.0/24", "0.0.0.0", "Wi-Fi", 256+25, true),
		r("192.168.1.17/32", "0.0.0.0", "Wi-Fi", 256+25, true),
		r("192.168.1.255/32", "0.0.0.0", "Wi-Fi", 256+25, true),
		r("10.20.0.0/16", "0.0.0.0", "Ethernet", 256+5, true),
		r("10.0.0.0/8", "192.0.0.8", "gw1", 0+5, true),
		r("224.0.0.0/4", "0.0.0.0", "Wi-Fi", 256+25, true),
		r("127.0.0.0/8", "0.0.0.0", "Loopback Pseudo-Interface 1", 256+75, true),
		r("::/0", "fe80::1", "Wi-Fi", 256+25, true),
	}
}

func TestBestRoute(t *testing.T) {
	tab := laptopTable()
	ours := func(r sysRoute) bool { return r.Iface == "gw0" || r.Iface == "gw1" }
	for _, tc := range []struct {
		dst       string
		skip      func(sysRoute) bool
		iface, gw string
		ok        bool
	}{
		{"203.0.113.7", ours, "Ethernet", "10.20.0.1", true},        // default route, lowest effective metric
		{"192.168.1.50", ours, "Wi-Fi", "", true},                   // on-link: no gateway
		{"10.20.3.4", ours, "Ethernet", "", true},                   // longest prefix beats metric
		{"10.1.2.3", ours, "Ethernet", "10.20.0.1", true},           // inside another tunnel: never through it
		{"10.1.2.3", nil, "gw1", "192.0.0.8", true},                 // without the skip it would be
		{"2001:db8::1", ours, "Wi-Fi", "fe80::1", true},             // the family of dst only
		{"::ffff:203.0.113.7", ours, "Ethernet", "10.20.0.1", true}, // a mapped address is IPv4
	} {
		r, ok := bestRoute(tab, netip.MustParseAddr(tc.dst), tc.skip)
		gw := ""
		if r.NextHop.IsValid() {
			gw = r.NextHop.String()
		}
		if ok != tc.ok || r.Iface != tc.iface || gw != tc.gw {
			t.Errorf("%s: %s via %q (ok %v), want %s via %q", tc.dst, r.Iface, gw, ok, tc.iface, tc.gw)
		}
	}
	// Only down interfaces, or nothing: no route.
	down := []sysRoute{{Dst: netip.MustParsePrefix("0.0.0.0/0"), NextHop: netip.MustParseAddr("172.16.9.1"), Iface: "Wi-Fi 2"}}
	if _, ok := bestRoute(down, netip.MustParseAddr("203.0.113.7"), nil); ok {
		t.Fatal("a route through a down interface was chosen")
	}
	if _, ok := bestRoute(nil, netip.MustParseAddr("203.0.113.7"), nil); ok {
		t.Fatal("a route out of an empty table")
	}
}

func TestRouteClashes(t *testing.T) {
	tab := laptopTable()
	if r, ok := exactRoute(tab, netip.MustParsePrefix("10.20.0.0/16"), "gw0"); !ok || r.Iface != "Ethernet" {
		t.Fatalf("the LAN's exact range was not found: %v %v", r, ok)
	}
	if _, ok := exactRoute(tab, netip.MustParsePrefix("10.0.0.0/8"), "gw1"); ok {
		t.Fatal("our own route counted as someone else's")
	}
	if _, ok := exactRoute(tab, netip.MustParsePrefix("10.96.0.0/12"), "gw0"); ok {
		t.Fatal("a range nobody routes reported as taken")
	}
	// 10.0.0.0/8 pushed: the Ethernet LAN 10.20.0.0/16 sits inside it; the
	// other tunnel's identical range is exactRoute's business.
	ov := lanOverlaps(tab, netip.MustParsePrefix("10.0.0.0/8"), "gw0")
	if len(ov) != 1 || ov[0].Iface != "Ethernet" {
		t.Fatalf("overlaps of 10.0.0.0/8: %v", ov)
	}
	// 192.168.1.128/25 pushed: it takes half of the home LAN; host,
	// broadcast, default and multicast rows are not networks.
	ov = lanOverlaps(tab, netip.MustParsePrefix("192.168.1.128/25"), "gw0")
	if len(ov) != 1 || ov[0].Dst.String() != "192.168.1.0/24" {
		t.Fatalf("overlaps of 192.168.1.128/25: %v", ov)
	}
	if ov := lanOverlaps(tab, netip.MustParsePrefix("172.20.0.0/16"), "gw0"); len(ov) != 0 {
		t.Fatalf("no overlap expected: %v", ov)
	}
	if tunnelGateway(netip.MustParsePrefix("10.0.0.0/8")) != tunnelGateway4 || tunnelGateway(netip.MustParsePrefix("fd00::/8")) != tunnelGateway6 {
		t.Fatal("the tunnel's next hop must match the range's family")
	}
	for _, g := range []netip.Addr{tunnelGateway4, tunnelGateway6} {
		if g.IsPrivate() || g.IsGlobalUnicast() && g.Is4() && !netip.MustParsePrefix("192.0.0.0/24").Contains(g) {
			t.Errorf("next hop %s is an address someone may use", g)
		}
	}
}
