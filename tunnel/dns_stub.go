package tunnel

import (
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// stubServer is the local DNS forwarder that gives real split DNS on systems
// without systemd-resolved: resolv.conf points at it, it sends each
// profile's match and search domains to that cluster's DNS and every other
// name to the nameservers resolv.conf had before, so nothing outside the
// clusters' domains changes. It lives in the daemon's memory: after a crash,
// Recover restores resolv.conf and nothing points at it any more.
type stubServer struct {
	udp, tcp *dns.Server
	h        *stubHandler
}

// stubRoute sends names under domains to servers.
type stubRoute struct {
	domains []string
	servers []netip.AddrPort
}

func startStub(listen netip.AddrPort, upstream []netip.AddrPort, log *slog.Logger) (*stubServer, error) {
	// Never forward to ourselves (a resolv.conf left by an older stub).
	upstream = slices.DeleteFunc(slices.Clone(upstream), func(a netip.AddrPort) bool { return a == listen })
	h := &stubHandler{upstream: upstream, log: log}
	// Listen here, not in the servers' goroutines: errors are reported now,
	// and the sockets belong to the caller's network namespace.
	pc, err := net.ListenPacket("udp", listen.String())
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", listen.String())
	if err != nil {
		pc.Close()
		return nil, err
	}
	s := &stubServer{udp: &dns.Server{PacketConn: pc, Handler: h}, tcp: &dns.Server{Listener: ln, Handler: h}, h: h}
	go func() { _ = s.udp.ActivateAndServe() }()
	go func() { _ = s.tcp.ActivateAndServe() }()
	log.Info("split DNS through the local forwarder", "listen", listen, "others_to", upstream)
	return s, nil
}

func (s *stubServer) setRoutes(rs []stubRoute) {
	s.h.mu.Lock()
	defer s.h.mu.Unlock()
	s.h.routes = rs
}

// addr is where the stub answers over UDP.
func (s *stubServer) addr() string { return s.udp.PacketConn.LocalAddr().String() }

// port53 gives DNS servers their port (resolv.conf has none).
func port53(as []netip.Addr) []netip.AddrPort {
	var out []netip.AddrPort
	for _, a := range as {
		out = append(out, netip.AddrPortFrom(a, 53))
	}
	return out
}

func (s *stubServer) close() {
	_ = s.udp.Shutdown()
	_ = s.tcp.Shutdown()
}

type stubHandler struct {
	mu       sync.RWMutex
	routes   []stubRoute
	upstream []netip.AddrPort
	log      *slog.Logger
}

// under reports how many characters of d match name when name is d or below
// it, else -1.
func under(name, d string) int {
	if name == d || strings.HasSuffix(name, "."+d) {
		return len(d)
	}
	return -1
}

// serversFor picks the servers for name: the route with the longest
// matching domain, else the upstream.
func (h *stubHandler) serversFor(name string) []netip.AddrPort {
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	h.mu.RLock()
	defer h.mu.RUnlock()
	best, servers := -1, h.upstream
	for _, r := range h.routes {
		for _, d := range r.domains {
			if n := under(name, d); n > best {
				best, servers = n, r.servers
			}
		}
	}
	return servers
}

func (h *stubHandler) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {
	servers := h.upstream
	if len(r.Question) == 1 {
		servers = h.serversFor(r.Question[0].Name)
	}
	network := "udp"
	if _, ok := w.LocalAddr().(*net.TCPAddr); ok {
		network = "tcp"
	}
	c := &dns.Client{Net: network, Timeout: 3 * time.Second}
	for _, s := range servers {
		resp, _, err := c.Exchange(r, s.String())
		if err == nil {
			_ = w.WriteMsg(resp)
			return
		}
		h.log.Debug("DNS forward failed", "server", s, "err", err)
	}
	m := new(dns.Msg)
	m.SetRcode(r, dns.RcodeServerFailure)
	_ = w.WriteMsg(m)
}
