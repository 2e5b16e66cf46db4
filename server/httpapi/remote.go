package httpapi

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// remote is the caller's address for the audit log. Behind an Ingress the
// connection comes from the Ingress controller; when it is one of
// TrustedProxies, the address it appended to X-Forwarded-For is used (the
// rightmost entry that is not itself a trusted proxy). Anything a client
// writes into the header itself is to the left of that and ignored.
func (s *Server) remote(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil || len(s.o.TrustedProxies) == 0 {
		return r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil || !s.trusted(peer) {
		return r.RemoteAddr
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break
		}
		if !s.trusted(a.Unmap()) {
			return a.Unmap().String() + " (via " + r.RemoteAddr + ")"
		}
	}
	return r.RemoteAddr
}

func (s *Server) trusted(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range s.o.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
