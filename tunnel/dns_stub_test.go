package tunnel

import (
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// loopbackDNS is a DNS server on loopback: answer gives the A record for a
// name, or false for NXDOMAIN; asked counts the questions.
func loopbackDNS(t *testing.T, answer func(name string) (ip string, ok bool)) (addr netip.AddrPort, asked func() int) {
	t.Helper()
	var mu sync.Mutex
	n := 0
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		mu.Lock()
		n++
		mu.Unlock()
		m := new(dns.Msg)
		m.SetReply(r)
		if ip, ok := answer(r.Question[0].Name); ok {
			rr, _ := dns.NewRR(r.Question[0].Name + " 5 IN A " + ip)
			m.Answer = append(m.Answer, rr)
		} else {
			m.Rcode = dns.RcodeNameError
		}
		_ = w.WriteMsg(m)
	})}
	go func() { _ = srv.ActivateAndServe() }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	return netip.MustParseAddrPort(pc.LocalAddr().String()), func() int { mu.Lock(); defer mu.Unlock(); return n }
}

// dnsZone is a cluster DNS that knows only names (name → IPv4).
func dnsZone(t *testing.T, names map[string]string) (netip.AddrPort, func() int) {
	return loopbackDNS(t, func(name string) (string, bool) {
		ip, ok := names[strings.ToLower(name)]
		return ip, ok
	})
}

// Two clusters that both use cluster.local (every AKS cluster does), up at
// once: a name only one of them has is answered by that one, a name both
// have by the profile that came up first, a name neither has is NXDOMAIN
// from the clusters, never a question to the laptop's own nameservers. A
// cluster whose DNS does not answer does not hide the other's names.
func TestStubSharedClusterDomain(t *testing.T) {
	prod, _ := dnsZone(t, map[string]string{
		"prometheus.monitoring.svc.cluster.local.": "10.1.0.10",
		"kubernetes.default.svc.cluster.local.":    "10.1.0.1",
	})
	staging, _ := dnsZone(t, map[string]string{
		"grafana.monitoring.svc.cluster.local.": "10.2.0.20",
		"kubernetes.default.svc.cluster.local.": "10.2.0.1",
	})
	upstream, askedUp := dnsZone(t, map[string]string{"www.example.com.": "192.0.2.1"})
	stub, err := startStub(netip.MustParseAddrPort("127.0.0.1:0"), []netip.AddrPort{upstream}, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	defer stub.close()
	// prod also pushes a more specific search domain: it is asked first for
	// names under it, and staging is still asked.
	stub.setRoutes([]stubRoute{
		{domains: []string{"cluster.local", "svc.cluster.local", "monitoring.svc.cluster.local"}, servers: []netip.AddrPort{prod}},
		{domains: []string{"cluster.local", "svc.cluster.local"}, servers: []netip.AddrPort{staging}},
	})
	c := &dns.Client{Timeout: 5 * time.Second}
	ask := func(name string) *dns.Msg {
		t.Helper()
		m := new(dns.Msg)
		m.SetQuestion(name, dns.TypeA)
		m.SetEdns0(1232, false) // as glibc and systemd send it: packing writes to the OPT record
		r, _, err := c.Exchange(m, stub.addr())
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return r
	}
	for name, want := range map[string]string{
		"prometheus.monitoring.svc.cluster.local.": "10.1.0.10", // prod only
		"grafana.monitoring.svc.cluster.local.":    "10.2.0.20", // staging only
		"kubernetes.default.svc.cluster.local.":    "10.1.0.1",  // both: the first profile
		"www.example.com.":                         "192.0.2.1", // no cluster's
	} {
		r := ask(name)
		if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 || !strings.Contains(r.Answer[0].String(), want) {
			t.Errorf("%s: rcode %s answer %v, want %s", name, dns.RcodeToString[r.Rcode], r.Answer, want)
		}
	}
	if r := ask("nothing.default.svc.cluster.local."); r.Rcode != dns.RcodeNameError {
		t.Errorf("a name no cluster has: rcode %s, want NXDOMAIN", dns.RcodeToString[r.Rcode])
	}
	if n := askedUp(); n != 1 {
		t.Errorf("the laptop's own nameservers were asked %d times, want once (www.example.com only)", n)
	}

	// prod's DNS is gone (nothing listens there): staging still answers.
	dead := netip.MustParseAddrPort("127.0.0.1:1")
	stub.setRoutes([]stubRoute{
		{domains: []string{"cluster.local"}, servers: []netip.AddrPort{dead}},
		{domains: []string{"cluster.local"}, servers: []netip.AddrPort{staging}},
	})
	if r := ask("grafana.monitoring.svc.cluster.local."); len(r.Answer) != 1 || !strings.Contains(r.Answer[0].String(), "10.2.0.20") {
		t.Errorf("with the first cluster's DNS down: %v", r)
	}
}
