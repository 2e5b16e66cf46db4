package tunnel

import (
	"encoding/binary"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"testing"

	"github.com/miekg/dns"
)

// packetWriter records what the forwarder answers a local program.
type packetWriter struct {
	msgs []*dns.Msg
}

func (w *packetWriter) LocalAddr() net.Addr {
	return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 153), Port: 53}
}
func (w *packetWriter) RemoteAddr() net.Addr {
	return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}
}
func (w *packetWriter) WriteMsg(m *dns.Msg) error   { w.msgs = append(w.msgs, m); return nil }
func (w *packetWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *packetWriter) Close() error                { return nil }
func (w *packetWriter) TsigStatus() error           { return nil }
func (w *packetWriter) TsigTimersOnly(bool)         {}
func (w *packetWriter) Hijack()                     {}
func (w *packetWriter) Network() string             { return "udp" }

// rawUpstream answers every query on loopback with the bytes it is given
// (the query's id put in front, so the forwarder reads the rest).
type rawUpstream struct {
	pc     net.PacketConn
	mu     sync.Mutex
	answer []byte
}

func startRawUpstream(tb testing.TB) *rawUpstream {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	u := &rawUpstream{pc: pc}
	tb.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 65535)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			u.mu.Lock()
			a := append([]byte(nil), u.answer...)
			u.mu.Unlock()
			if len(a) >= 2 && n >= 2 {
				copy(a[:2], buf[:2])
			}
			_, _ = pc.WriteTo(a, from)
		}
	}()
	return u
}

func (u *rawUpstream) addr() netip.AddrPort {
	return netip.MustParseAddrPort(u.pc.LocalAddr().String())
}

// FuzzStubForward: any query a local program sends the forwarder (it
// listens for every process of the machine, as root, on 127.0.0.153:53) and
// any answer a cluster's DNS or the upstream nameserver sends back. Never
// a panic; exactly one answer for every query, with the query's id. `make
// fuzz` runs it for a while; `go test` runs the seeds.
func FuzzStubForward(f *testing.F) {
	q := new(dns.Msg)
	q.SetQuestion("prometheus.monitoring.svc.cluster.local.", dns.TypeA)
	qb, _ := q.Pack()
	a := new(dns.Msg)
	a.SetReply(q)
	a.Answer = append(a.Answer, &dns.A{Hdr: dns.RR_Header{Name: q.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 5}, A: net.IPv4(10, 0, 0, 7)})
	ab, _ := a.Pack()
	f.Add(qb, ab)
	q2 := new(dns.Msg)
	q2.SetQuestion("example.com.", dns.TypeAAAA)
	q2.SetEdns0(4096, true)
	q2b, _ := q2.Pack()
	f.Add(q2b, []byte{0, 0, 0x81, 0x83, 0, 0, 0, 0, 0, 0, 0, 0})
	q3 := new(dns.Msg)
	q3.Question = []dns.Question{{Name: "a.cluster.local.", Qtype: dns.TypeA, Qclass: dns.ClassINET}, {Name: "b.", Qtype: dns.TypeTXT, Qclass: dns.ClassINET}}
	q3b, _ := q3.Pack()
	f.Add(q3b, []byte{0xff})
	f.Add([]byte{}, []byte{})

	cluster1, cluster2, upstream := startRawUpstream(f), startRawUpstream(f), startRawUpstream(f)
	h := &stubHandler{upstream: []netip.AddrPort{upstream.addr()}, log: slog.New(slog.DiscardHandler),
		routes: []stubRoute{
			{domains: []string{"cluster.local", "svc.cluster.local"}, servers: []netip.AddrPort{cluster1.addr()}},
			{domains: []string{"cluster.local"}, servers: []netip.AddrPort{cluster2.addr()}},
		}}
	f.Fuzz(func(t *testing.T, query, answer []byte) {
		var r dns.Msg
		if r.Unpack(query) != nil {
			return // the DNS server never hands such a packet to the handler
		}
		for _, u := range []*rawUpstream{cluster1, cluster2, upstream} {
			u.mu.Lock()
			u.answer = answer
			u.mu.Unlock()
		}
		w := &packetWriter{}
		h.ServeDNS(w, &r)
		if len(w.msgs) != 1 {
			t.Fatalf("%d answers to one query", len(w.msgs))
		}
		if m := w.msgs[0]; m.Id != r.Id && !(len(answer) >= 2 && m.Id == binary.BigEndian.Uint16(answer)) {
			t.Fatalf("answer id %d for query %d", m.Id, r.Id)
		}
		if _, err := w.msgs[0].Pack(); err != nil && len(answer) == 0 {
			t.Fatalf("our own answer cannot be packed: %v", err)
		}
	})
}

// The listening forwarder shrugs off packets that are not DNS (truncated,
// oversized, random) and answers the next real query.
func TestStubSurvivesGarbage(t *testing.T) {
	up := startRawUpstream(t)
	q := new(dns.Msg)
	q.SetQuestion("example.com.", dns.TypeA)
	a := new(dns.Msg)
	a.SetReply(q)
	ab, _ := a.Pack()
	up.mu.Lock()
	up.answer = ab
	up.mu.Unlock()
	s, err := startStub(netip.MustParseAddrPort("127.0.0.1:0"), []netip.AddrPort{up.addr()}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	c, err := net.Dial("udp", s.addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, p := range [][]byte{{}, {0}, {0, 1, 2}, make([]byte, 12), make([]byte, 65000), []byte("GET / HTTP/1.1\r\n\r\n"),
		{0, 1, 0x01, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 0x0c, 0, 1, 0, 1}} { // a name pointing at itself
		_, _ = c.Write(p)
	}
	resp, err := dns.Exchange(q, s.addr())
	if err != nil || resp.Id != q.Id {
		t.Fatalf("after garbage: %v %v", resp, err)
	}
}
