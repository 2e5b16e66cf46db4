package httpapi

import (
	"net/http/httptest"
	"net/netip"
	"testing"
)

func TestRemoteBehindTrustedProxy(t *testing.T) {
	s := &Server{o: Options{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.244.0.0/16")}}}
	for _, tc := range []struct{ remote, xff, want string }{
		{"203.0.113.9:5555", "1.2.3.4", "203.0.113.9:5555"},                                 // not a proxy: header ignored
		{"10.244.1.7:443", "198.51.100.2", "198.51.100.2 (via 10.244.1.7:443)"},             // the Ingress's entry
		{"10.244.1.7:443", "6.6.6.6, 198.51.100.2", "198.51.100.2 (via 10.244.1.7:443)"},    // a forged left entry is ignored
		{"10.244.1.7:443", "198.51.100.2, 10.244.3.3", "198.51.100.2 (via 10.244.1.7:443)"}, // two trusted hops
		{"10.244.1.7:443", "", "10.244.1.7:443"},
		{"10.244.1.7:443", "garbage", "10.244.1.7:443"},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tc.remote
		if tc.xff != "" {
			r.Header.Set("X-Forwarded-For", tc.xff)
		}
		if got := s.remote(r); got != tc.want {
			t.Errorf("%s + %q = %q, want %q", tc.remote, tc.xff, got, tc.want)
		}
	}
}
