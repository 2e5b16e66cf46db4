package tunnel

import (
	"net/netip"
	"testing"

	"golang.org/x/net/route"
	"golang.org/x/sys/unix"
)

// What we write is what the kernel's format reads back: destination, mask,
// next hop and flags survive Marshal and the parser.
func TestRouteMessageRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		dst   string
		gw    string
		index int
		flags int
	}{
		{"10.77.0.0/24", "", 21, rtfUp | rtfStatic | rtfOurs},
		{"203.0.113.7/32", "192.168.1.1", 6, rtfUp | rtfHost | rtfGateway | rtfStatic | rtfOurs},
		{"fd00:202::/32", "", 21, rtfUp | rtfStatic | rtfOurs},
	} {
		var gw netip.Addr
		if tc.gw != "" {
			gw = netip.MustParseAddr(tc.gw)
		}
		dst := netip.MustParsePrefix(tc.dst)
		b, err := routeMessage(unix.RTM_ADD, dst, gw, tc.index, "utun9", tc.flags).Marshal()
		if err != nil {
			t.Fatal(err)
		}
		msgs, err := parseRoutingMessages(b)
		if err != nil || len(msgs) != 1 {
			t.Fatalf("%s: %v %v", tc.dst, msgs, err)
		}
		kr, _ := convertRoute(msgs[0].(*route.RouteMessage))
		if kr.Dst != dst || kr.Gateway != gw || kr.Flags != tc.flags || kr.Index != tc.index {
			t.Errorf("%s: read back %+v", tc.dst, kr)
		}
	}
}

// The live table has routes with interfaces, and the kernel answers
// RTM_GET for loopback through lo0 (no root needed to read).
func TestLiveRouteTable(t *testing.T) {
	table, links, err := ribSnapshot(false)
	if err != nil {
		t.Fatal(err)
	}
	if len(table) == 0 || len(links) == 0 {
		t.Fatalf("empty snapshot: %d routes, %d links", len(table), len(links))
	}
	r, name, err := rtGet(netip.MustParseAddr("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	if name != "lo0" {
		t.Errorf("127.0.0.1 through %q (%+v), want lo0", name, r)
	}
	if gw, dev, ok, err := (darwinOps{}).pathTo(netip.MustParseAddr("1.1.1.1"), "utun-none"); err == nil {
		t.Logf("the way to 1.1.1.1 now: %v via %s on %s", ok, gw, dev)
	}
}

func FuzzParseRoutingMessages(f *testing.F) {
	if b, err := route.FetchRIB(unix.AF_UNSPEC, route.RIBTypeRoute, 0); err == nil && len(b) > 0 {
		f.Add(b[:min(len(b), 4096)])
	}
	f.Add([]byte{0x5c, 0, 5, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		msgs, _ := parseRoutingMessages(b)
		for _, m := range msgs {
			if rm, ok := m.(*route.RouteMessage); ok {
				_, _ = convertRoute(rm)
			}
		}
	})
}
