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

// candidates are the server groups that may answer name: every profile
// with a domain that name is in, the most specific domain first and, among
// equals, in the order the profiles came up; the upstream alone when no
// profile's domain matches. Two clusters that both use cluster.local are
// then both asked.
func (h *stubHandler) candidates(name string) [][]netip.AddrPort {
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	h.mu.RLock()
	defer h.mu.RUnlock()
	type cand struct {
		match   int
		servers []netip.AddrPort
	}
	var cs []cand
	for _, r := range h.routes {
		best := -1
		for _, d := range r.domains {
			best = max(best, under(name, d))
		}
		if best >= 0 {
			cs = append(cs, cand{best, r.servers})
		}
	}
	if len(cs) == 0 {
		return [][]netip.AddrPort{h.upstream}
	}
	slices.SortStableFunc(cs, func(a, b cand) int { return b.match - a.match })
	out := make([][]netip.AddrPort, len(cs))
	for i, c := range cs {
		out[i] = c.servers
	}
	return out
}

func (h *stubHandler) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {
	groups := [][]netip.AddrPort{h.upstream}
	if len(r.Question) == 1 {
		groups = h.candidates(r.Question[0].Name)
	}
	network := "udp"
	if _, ok := w.LocalAddr().(*net.TCPAddr); ok {
		network = "tcp"
	}
	if resp := h.resolve(r, network, groups); resp != nil {
		_ = w.WriteMsg(resp)
		return
	}
	m := new(dns.Msg)
	m.SetRcode(r, dns.RcodeServerFailure)
	_ = w.WriteMsg(m)
}

// resolve asks every group at once (each tries its servers in turn) and
// returns, in the groups' order, the first answer with records; else the
// first answer of any kind (a name that does not exist, no data); nil when
// no server answered. A name only the second cluster has is answered by it,
// a name both have by the first, and a name none has gets the first one's
// "no such name" without ever going to the upstream nameservers.
func (h *stubHandler) resolve(r *dns.Msg, network string, groups [][]netip.AddrPort) *dns.Msg {
	if len(groups) == 1 { // almost every name: no goroutine, no copy
		return h.exchange(r, network, groups[0])
	}
	answers := make([]chan *dns.Msg, len(groups))
	for i, servers := range groups {
		// Buffered: a late answer is dropped, never blocks. Each query packs
		// its own copy: packing writes to the message (EDNS rcode bits).
		answers[i] = make(chan *dns.Msg, 1)
		q := r.Copy()
		go func() { answers[i] <- h.exchange(q, network, servers) }()
	}
	var fallback *dns.Msg
	for _, ch := range answers {
		resp := <-ch
		if resp == nil {
			continue
		}
		if resp.Rcode == dns.RcodeSuccess && len(resp.Answer) > 0 {
			return resp
		}
		if fallback == nil {
			fallback = resp
		}
	}
	return fallback
}

// exchange asks servers in turn; nil when none answered.
func (h *stubHandler) exchange(r *dns.Msg, network string, servers []netip.AddrPort) *dns.Msg {
	c := &dns.Client{Net: network, Timeout: 3 * time.Second}
	for _, s := range servers {
		resp, _, err := c.Exchange(r, s.String())
		if err == nil {
			return resp
		}
		h.log.Debug("DNS forward failed", "server", s, "err", err)
	}
	return nil
}
