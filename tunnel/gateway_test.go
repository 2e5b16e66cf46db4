package tunnel

import (
	"net/netip"
	"strings"
	"testing"
)

// A Mac on Wi-Fi (en0) with Ethernet unplugged (en7, up but not running),
// our tunnel utun5, and the scoped defaults macOS keeps per interface.
func macTable() ([]kernelRoute, map[int]linkState) {
	r := func(dst, gw string, idx, flags int) kernelRoute {
		k := kernelRoute{Dst: netip.MustParsePrefix(dst), Index: idx, Flags: flags}
		if gw != "" {
			k.Gateway = netip.MustParseAddr(gw)
		}
		return k
	}
	links := map[int]linkState{
		1:  {Name: "lo0", Up: true},
		6:  {Name: "en0", Up: true},
		7:  {Name: "en7", Up: false},
		20: {Name: "utun5", Up: true},
		21: {Name: "utun3", Up: true},
	}
	table := []kernelRoute{
		r("0.0.0.0/0", "192.168.1.1", 6, rtfUp|rtfGateway|rtfStatic),
		r("0.0.0.0/0", "10.9.0.1", 7, rtfUp|rtfGateway|rtfStatic|rtfIfScope), // scoped default of en7
		r("0.0.0.0/0", "192.168.1.1", 6, rtfUp|rtfGateway|rtfStatic|rtfIfScope),
		r("0.0.0.0/1", "", 20, rtfUp|rtfStatic|rtfOurs), // our full tunnel
		r("128.0.0.0/1", "", 20, rtfUp|rtfStatic|rtfOurs),
		r("10.0.0.0/8", "", 20, rtfUp|rtfStatic|rtfOurs),
		r("10.9.0.0/16", "", 7, rtfUp),             // the unplugged Ethernet's subnet
		r("10.20.0.0/16", "", 21, rtfUp|rtfReject), // rejected by another VPN
		r("192.168.1.0/24", "", 6, rtfUp),
		r("192.168.1.7/32", "", 6, rtfUp|rtfHost|rtfWasCloned), // a neighbour (ARP)
		r("192.168.1.50/32", "", 1, rtfUp|rtfHost|rtfLocal),    // this Mac
		r("127.0.0.0/8", "127.0.0.1", 1, rtfUp|rtfGateway),
	}
	return table, links
}

func TestChooseRoute(t *testing.T) {
	table, links := macTable()
	for _, tc := range []struct {
		dst, exclude string
		gw, dev      string
		ok           bool
		err          string
	}{
		// An internal load balancer inside the pushed 10/8: through the Wi-Fi's router.
		{dst: "10.1.2.3", exclude: "utun5", gw: "192.168.1.1", dev: "en0", ok: true},
		// Inside the unplugged Ethernet's subnet: that interface is down, so the default route.
		{dst: "10.9.3.4", exclude: "utun5", gw: "192.168.1.1", dev: "en0", ok: true},
		// A rejected range of another interface does not count.
		{dst: "10.20.1.1", exclude: "utun5", gw: "192.168.1.1", dev: "en0", ok: true},
		// A server on the LAN: on-link, no gateway.
		{dst: "192.168.1.9", exclude: "utun5", dev: "en0", ok: true},
		{dst: "192.168.1.7", exclude: "utun5", dev: "en0", ok: true},
		// This Mac's own address: nothing to pin.
		{dst: "192.168.1.50", exclude: "utun5", ok: false},
		// Public server under a full tunnel.
		{dst: "203.0.113.7", exclude: "utun5", gw: "192.168.1.1", dev: "en0", ok: true},
	} {
		r, l, err := chooseRoute(netip.MustParseAddr(tc.dst), table, links, tc.exclude)
		if err != nil {
			t.Errorf("%s: %v", tc.dst, err)
			continue
		}
		gw, dev, ok := nextHop(r, l)
		if ok != tc.ok || (ok && (dev != tc.dev || gw.String() != orInvalid(tc.gw))) {
			t.Errorf("%s: got %v via %s on %s, want %v via %s on %s", tc.dst, ok, gw, dev, tc.ok, tc.gw, tc.dev)
		}
	}
}

func orInvalid(s string) string {
	if s == "" {
		return netip.Addr{}.String()
	}
	return s
}

// Only scoped defaults and the tunnel's own routes: no way out, said plainly.
func TestChooseRouteNoNetwork(t *testing.T) {
	table := []kernelRoute{
		{Dst: netip.MustParsePrefix("0.0.0.0/0"), Gateway: netip.MustParseAddr("192.168.1.1"), Index: 6, Flags: rtfUp | rtfGateway | rtfIfScope},
		{Dst: netip.MustParsePrefix("0.0.0.0/1"), Index: 20, Flags: rtfUp | rtfOurs},
		{Dst: netip.MustParsePrefix("10.0.0.0/8"), Index: 7, Flags: rtfUp},
	}
	links := map[int]linkState{6: {Name: "en0", Up: true}, 7: {Name: "en7"}, 20: {Name: "utun5", Up: true}}
	_, _, err := chooseRoute(netip.MustParseAddr("10.1.2.3"), table, links, "utun5")
	if err == nil || !strings.Contains(err.Error(), "no route to 10.1.2.3 outside the tunnel") {
		t.Fatalf("err = %v", err)
	}
}

// The Wi-Fi's subnet against pushed ranges: inside, containing, equal,
// disjoint.
func TestOverlapsLocal(t *testing.T) {
	local := pfx("192.168.1.0/24", "10.9.0.0/16")
	got := overlapsLocal(pfx("192.168.0.0/16", "192.168.1.128/25", "10.77.0.0/24", "10.9.0.0/16"), local)
	want := []string{
		"192.168.0.0/16 overlaps this machine's network 192.168.1.0/24",
		"192.168.1.128/25 overlaps this machine's network 192.168.1.0/24",
		"10.9.0.0/16 overlaps this machine's network 10.9.0.0/16",
	}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("overlaps:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestOwnedInterfaces(t *testing.T) {
	ownInterface("utun42")
	if !OwnsInterface("utun42") || OwnsInterface("utun43") {
		t.Fatal("ownership not recorded")
	}
	ownInterface("utun42") // a new tunnel got the name of one closing
	disownInterface("utun42")
	disownInterface("utun42")
	if !OwnsInterface("utun42") {
		t.Fatal("a closed tunnel's interface stopped being ours at once; its removal messages would count as network changes")
	}
}
