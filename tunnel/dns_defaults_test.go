package tunnel

import (
	"net/netip"
	"slices"
	"testing"
)

func TestSystemNameservers(t *testing.T) {
	def := []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("::1")}
	for in, want := range map[string][]netip.Addr{
		"":                                   def,
		"# only a comment\nsearch corp\n":    def,
		"nameserver not-an-address\n":        def,
		"nameserver 10.0.0.2\nsearch x\n":    {netip.MustParseAddr("10.0.0.2")},
		"nameserver ::1\nnameserver 1.1.1.1": {netip.MustParseAddr("::1"), netip.MustParseAddr("1.1.1.1")},
	} {
		if got := systemNameservers([]byte(in)); !slices.Equal(got, want) {
			t.Errorf("%q: %v, want %v", in, got, want)
		}
	}
}
