package tunnel

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
	"github.com/miekg/dns"
)

// dnsServer answers A queries for names under zone with ip (NXDOMAIN for
// others) on a UDP socket opened in namespace ns, and records the names
// it was asked.
type dnsServer struct {
	mu    sync.Mutex
	asked []string
}

func (s *dnsServer) names() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.asked)
}

func serveDNS(t testing.TB, ns, addr, zone, ip string) *dnsServer {
	t.Helper()
	s := &dnsServer{}
	var pc net.PacketConn
	var err error
	inNS(t, ns, func() { pc, err = net.ListenPacket("udp", addr) })
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		q := r.Question[0]
		s.mu.Lock()
		s.asked = append(s.asked, q.Name)
		s.mu.Unlock()
		if zone == "." || strings.HasSuffix(q.Name, "."+zone) {
			if q.Qtype == dns.TypeA {
				rr, _ := dns.NewRR(fmt.Sprintf("%s 5 IN A %s", q.Name, ip))
				m.Answer = append(m.Answer, rr)
			}
		} else {
			m.Rcode = dns.RcodeNameError
		}
		_ = w.WriteMsg(m)
	})}
	go func() { _ = srv.ActivateAndServe() }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	return s
}

const origResolvConf = "# the laptop's own resolver (byte-exact restore test)\n" +
	"nameserver 10.202.9.53\nsearch corp.example\n\noptions timeout:2 attempts:2\n"

func dnsClientConfig(t *testing.T) (Config, *topo) {
	tp, priv, peerPub, jdir := childEnv(t)
	cfg := tp.clientConfig(t, priv, &peer{pub: peerPub}, "10.202.1.2:51820", "100.82.0.0/24", "10.202.100.0/24")
	cfg.JournalDir = jdir
	cfg.DNSMode = DNSAuto
	cfg.DNS = DNS{
		Servers: []netip.Addr{netip.MustParseAddr("10.202.100.1")},
		Search:  []string{"monitoring.svc.cluster.local", "svc.cluster.local"},
		Match:   []string{"cluster.local"},
	}
	return cfg, tp
}

func getent(t *testing.T, name string) string {
	out, err := exec.Command("getent", "hosts", name).CombinedOutput()
	if err != nil {
		t.Fatalf("getent hosts %s: %v %s", name, err, out)
	}
	return string(out)
}

// Split DNS on a system without systemd-resolved: the stub forwarder behind
// /etc/resolv.conf (here the namespace's own, bind-mounted by `ip netns
// exec`). Short names resolve through the search domains at the cluster's
// DNS via the tunnel; other names go to the original nameserver and never
// reach the cluster; the original file comes back byte for byte.
func TestDNSStubSplitThroughResolvConf(t *testing.T) {
	if isChild(t) {
		cfg, _ := dnsClientConfig(t)
		cfg.DNSMode = DNSAuto
		cfg.DBusAddress = "unix:path=" + filepath.Join(t.TempDir(), "no-bus") // no resolved here
		before, err := os.ReadFile("/etc/resolv.conf")
		if err != nil || string(before) != origResolvConf {
			t.Fatalf("namespace resolv.conf not in place: %q %v", before, err)
		}
		tn := up(t, cfg)
		if tn.DNSMode() != DNSStub {
			t.Fatalf("DNS mode %q, want stub", tn.DNSMode())
		}
		during, _ := os.ReadFile("/etc/resolv.conf")
		t.Logf("managed resolv.conf:\n%s", during)
		if !strings.Contains(string(during), "nameserver 127.0.0.153\n") ||
			!strings.Contains(string(during), "search monitoring.svc.cluster.local svc.cluster.local corp.example\n") ||
			!strings.Contains(string(during), "options timeout:2 attempts:2\n") {
			t.Fatal("managed resolv.conf lacks the stub, the search list or the original options")
		}
		waitHandshake(t, tn)
		if out := getent(t, "prometheus"); !strings.Contains(out, "10.202.100.7") || !strings.Contains(out, "prometheus.monitoring.svc.cluster.local") {
			t.Fatalf("short name through the search domains: %q", out)
		}
		if out := getent(t, "api.shop.svc.cluster.local"); !strings.Contains(out, "10.202.100.7") {
			t.Fatalf("full cluster name: %q", out)
		}
		if out := getent(t, "www.example.com"); !strings.Contains(out, "192.0.2.1") {
			t.Fatalf("outside name via the original nameserver: %q", out)
		}
		// (glibc also tries www.example.com.<search domain>, which is the
		// cluster's to answer; www.example.com itself must never go there.)
		if got := childCall(t, "cluster-asked"); slices.Contains(strings.Split(got, ","), "www.example.com.") ||
			!strings.Contains(got, "prometheus.monitoring.svc.cluster.local") {
			t.Fatalf("the cluster's DNS was asked %s", got)
		}
		if err := tn.Close(); err != nil {
			t.Fatal(err)
		}
		after, _ := os.ReadFile("/etc/resolv.conf")
		if !bytes.Equal(after, before) {
			t.Fatalf("resolv.conf not restored byte for byte:\n%q\nwant\n%q", after, before)
		}
		return
	}
	tp := newTopo(t)
	testenvTools(t, "getent")
	run(t, "ip", "-n", tp.client, "addr", "add", "10.202.9.53/32", "dev", "lo")
	dir := filepath.Join("/etc/netns", tp.client)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.WriteFile(filepath.Join(dir, "resolv.conf"), []byte(origResolvConf), 0o644); err != nil {
		t.Fatal(err)
	}
	priv := newKey(t)
	p := tp.startPeer(t, priv.Public())
	cluster := serveDNS(t, tp.server, "10.202.100.1:53", "cluster.local.", "10.202.100.7")
	serveDNS(t, tp.client, "10.202.9.53:53", ".", "192.0.2.1")
	tp.runChild(t, priv, p, func(string) string { return strings.Join(cluster.names(), ",") })
}

// resolv.conf-only mode, here reached the way it happens in the field: no
// systemd-resolved, and the stub's address is taken by another DNS server,
// so auto mode falls back. The cluster's DNS first, the search domains, the
// original nameserver kept as a fallback; restored byte for byte.
func TestDNSResolvConfMode(t *testing.T) {
	if isChild(t) {
		cfg, _ := dnsClientConfig(t)
		cfg.DBusAddress = "unix:path=" + filepath.Join(t.TempDir(), "no-bus")
		cfg.ResolvConf = filepath.Join(t.TempDir(), "resolv.conf")
		if err := os.WriteFile(cfg.ResolvConf, []byte(origResolvConf), 0o644); err != nil {
			t.Fatal(err)
		}
		other, err := net.ListenPacket("udp", "127.0.0.153:53")
		if err != nil {
			t.Fatal(err)
		}
		defer other.Close()
		tn := up(t, cfg)
		if tn.DNSMode() != DNSResolvConf {
			t.Fatalf("DNS mode %q, want the resolv.conf fallback", tn.DNSMode())
		}
		during, _ := os.ReadFile(cfg.ResolvConf)
		want := "nameserver 10.202.100.1\nnameserver 10.202.9.53\nsearch monitoring.svc.cluster.local svc.cluster.local corp.example\noptions timeout:2 attempts:2\n"
		if !strings.HasSuffix(string(during), want) {
			t.Fatalf("managed resolv.conf:\n%s\nwant it to end with\n%s", during, want)
		}
		waitHandshake(t, tn)
		if err := tn.Close(); err != nil {
			t.Fatal(err)
		}
		if after, _ := os.ReadFile(cfg.ResolvConf); string(after) != origResolvConf {
			t.Fatalf("not restored byte for byte: %q", after)
		}
		return
	}
	tp := newTopo(t)
	priv := newKey(t)
	tp.runChild(t, priv, tp.startPeer(t, priv.Public()), nil)
}

func testenvTools(t *testing.T, tools ...string) {
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("system test needs %q on PATH: run `make deps`: %v", tool, err)
		}
	}
}

// privateBus starts a dbus-daemon of our own (this machine has no
// systemd-resolved and no system bus) and returns its address.
func privateBus(t *testing.T) string {
	testenvTools(t, "dbus-daemon")
	dir := t.TempDir()
	conf := filepath.Join(dir, "bus.conf")
	sock := filepath.Join(dir, "bus")
	err := os.WriteFile(conf, []byte(`<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig><type>custom</type><listen>unix:path=`+sock+`</listen><auth>EXTERNAL</auth>
<policy context="default"><allow own="*"/><allow send_destination="*"/>
<allow send_type="method_call"/><allow send_type="method_return"/><allow send_type="error"/><allow send_type="signal"/>
<allow receive_type="method_call"/><allow receive_type="method_return"/><allow receive_type="error"/><allow receive_type="signal"/></policy></busconfig>`), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("dbus-daemon", "--config-file="+conf, "--nofork", "--nopidfile")
	cmd.Stderr = testWriter{t}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	for i := 0; i < 100; i++ {
		if _, err := os.Stat(sock); err == nil {
			return "unix:path=" + sock
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("dbus-daemon did not start")
	return ""
}

// resolvedStandIn implements the org.freedesktop.resolve1.Manager methods
// the tunnel calls. It stands in for systemd-resolved, which does not run
// here; it records the calls so the test can check them.
type resolvedStandIn struct {
	mu    sync.Mutex
	calls []string
}

func (r *resolvedStandIn) rec(s string) *dbus.Error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, s)
	return nil
}

func (r *resolvedStandIn) SetLinkDNS(idx int32, addrs []resolvedDNS) *dbus.Error {
	var s []string
	for _, a := range addrs {
		ip, _ := netip.AddrFromSlice(a.Address)
		s = append(s, fmt.Sprintf("%d:%s", a.Family, ip))
	}
	return r.rec(fmt.Sprintf("SetLinkDNS %d %s", idx, strings.Join(s, " ")))
}

func (r *resolvedStandIn) SetLinkDomains(idx int32, doms []resolvedDomain) *dbus.Error {
	var s []string
	for _, d := range doms {
		if d.RoutingOnly {
			s = append(s, "~"+d.Domain)
		} else {
			s = append(s, d.Domain)
		}
	}
	return r.rec(fmt.Sprintf("SetLinkDomains %d %s", idx, strings.Join(s, " ")))
}

func (r *resolvedStandIn) SetLinkDefaultRoute(idx int32, on bool) *dbus.Error {
	return r.rec(fmt.Sprintf("SetLinkDefaultRoute %d %v", idx, on))
}

func (r *resolvedStandIn) RevertLink(idx int32) *dbus.Error {
	return r.rec(fmt.Sprintf("RevertLink %d", idx))
}

func (r *resolvedStandIn) got() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.calls)
}

// With systemd-resolved on the bus, the tunnel sets per-link DNS, search
// domains, routing-only ~match domains and no default route, and reverts
// the link on Close; without it on the bus, it is not chosen.
func TestDNSResolvedOverDBus(t *testing.T) {
	if isChild(t) {
		bus := privateBus(t)
		if ok, err := resolvedRunning(bus); ok || err != nil {
			t.Fatalf("resolved seen on an empty bus: %v %v", ok, err)
		}
		conn, err := dbus.Connect(bus)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		standIn := &resolvedStandIn{}
		if err := conn.Export(standIn, resolvedPath, resolvedIface); err != nil {
			t.Fatal(err)
		}
		if reply, err := conn.RequestName(resolvedName, dbus.NameFlagDoNotQueue); err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
			t.Fatalf("RequestName: %v %v", reply, err)
		}
		cfg, _ := dnsClientConfig(t)
		cfg.DBusAddress = bus
		cfg.ResolvConf = filepath.Join(t.TempDir(), "untouched")
		tn := up(t, cfg)
		if tn.DNSMode() != DNSResolved {
			t.Fatalf("DNS mode %q, want resolved", tn.DNSMode())
		}
		idx, _ := linkIndexByName(cfg.Interface)
		want := []string{
			fmt.Sprintf("SetLinkDNS %d 2:10.202.100.1", idx),
			fmt.Sprintf("SetLinkDomains %d monitoring.svc.cluster.local svc.cluster.local ~cluster.local", idx),
			fmt.Sprintf("SetLinkDefaultRoute %d false", idx),
		}
		if got := standIn.got(); !slices.Equal(got, want) {
			t.Fatalf("resolved calls:\n%q\nwant\n%q", got, want)
		}
		if _, err := os.Stat(cfg.ResolvConf); err == nil {
			t.Fatal("resolv.conf written although resolved runs")
		}
		if err := tn.Close(); err != nil {
			t.Fatal(err)
		}
		want = append(want, fmt.Sprintf("RevertLink %d", idx))
		if got := standIn.got(); !slices.Equal(got, want) {
			t.Fatalf("resolved calls after Close:\n%q\nwant\n%q", got, want)
		}
		return
	}
	tp := newTopo(t)
	priv := newKey(t)
	tp.runChild(t, priv, tp.startPeer(t, priv.Public()), nil)
}

// Two profiles (two clusters, two tunnels) on a system without resolved:
// one stub forwarder serves both clusters' domains, and the first profile
// can go down before the second without breaking the second's DNS; the
// original resolv.conf comes back when both are down.
func TestDNSTwoProfilesShareTheStub(t *testing.T) {
	if isChild(t) {
		cfgA, tp := dnsClientConfig(t)
		cfgA.DBusAddress = "unix:path=" + filepath.Join(t.TempDir(), "no-bus")
		cfgB := cfgA
		cfgB.Interface = "gwt" + tp.id + "u"
		cfgB.Address = netip.MustParsePrefix("100.82.1.2/24")
		b, _ := hex.DecodeString(os.Getenv("GWT_PEER2"))
		copy(cfgB.Peer.PublicKey[:], b)
		cfgB.Peer.Endpoint = netip.MustParseAddrPort("10.202.1.2:51821")
		cfgB.Peer.AllowedIPs = []netip.Prefix{netip.MustParsePrefix("100.82.1.0/24"), netip.MustParsePrefix("10.202.101.0/24")}
		cfgB.DNS = DNS{Servers: []netip.Addr{netip.MustParseAddr("10.202.101.1")}, Search: []string{"corp.internal"}}
		cfgB.StubAddress = netip.MustParseAddrPort("127.0.0.154:53")
		before, _ := os.ReadFile("/etc/resolv.conf")
		tnA := up(t, cfgA)
		tnB := up(t, cfgB)
		waitHandshake(t, tnA)
		waitHandshake(t, tnB)
		check := func(name, want string) {
			if out := getent(t, name); !strings.Contains(out, want) {
				t.Fatalf("%s: %q, want %s", name, out, want)
			}
		}
		check("prometheus", "10.202.100.7")
		check("db.corp.internal", "10.202.101.7")
		check("www.example.com", "192.0.2.1")
		if err := tnA.Close(); err != nil {
			t.Fatal(err)
		}
		check("db.corp.internal", "10.202.101.7")
		check("www.example.com", "192.0.2.1")
		if rc, _ := os.ReadFile("/etc/resolv.conf"); strings.Contains(string(rc), "cluster.local") || !strings.Contains(string(rc), "corp.internal") {
			t.Fatalf("after the first profile went down:\n%s", rc)
		}
		if err := tnB.Close(); err != nil {
			t.Fatal(err)
		}
		if after, _ := os.ReadFile("/etc/resolv.conf"); !bytes.Equal(after, before) {
			t.Fatalf("resolv.conf not restored byte for byte: %q", after)
		}
		return
	}
	tp := newTopo(t)
	testenvTools(t, "getent")
	run(t, "ip", "-n", tp.client, "addr", "add", "10.202.9.53/32", "dev", "lo")
	dir := filepath.Join("/etc/netns", tp.client)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.WriteFile(filepath.Join(dir, "resolv.conf"), []byte(origResolvConf), 0o644); err != nil {
		t.Fatal(err)
	}
	priv := newKey(t)
	p := tp.startPeer(t, priv.Public())
	p2 := tp.startPeerN(t, priv.Public(), 1)
	serveDNS(t, tp.server, "10.202.100.1:53", "cluster.local.", "10.202.100.7")
	serveDNS(t, tp.server, "10.202.101.1:53", "corp.internal.", "10.202.101.7")
	serveDNS(t, tp.client, "10.202.9.53:53", ".", "192.0.2.1")
	tp.runChild(t, priv, p, nil, "GWT_PEER2="+hex.EncodeToString(p2.pub[:]))
}
