package tunnel

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func pfx(ss ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range ss {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}

func TestRoutePlanAndLoop(t *testing.T) {
	c := validConfig()
	c.Address = netip.MustParsePrefix("100.82.0.2/24")
	c.Peer.AllowedIPs = pfx("100.82.0.0/24", "10.0.0.5/8", "10.0.0.0/8", "0.0.0.0/0", "fd00:202::/32", "::/0")
	got := routePlan(c)
	want := pfx("10.0.0.0/8", "0.0.0.0/1", "128.0.0.0/1", "fd00:202::/32", "::/1", "8000::/1")
	if !slices.Equal(got, want) {
		t.Fatalf("routePlan = %v, want %v", got, want)
	}
	for _, tc := range []struct {
		endpoint string
		routes   []string
		loop     bool
	}{
		{"203.0.113.7:51820", []string{"10.0.0.0/8"}, false},
		{"10.1.2.3:51820", []string{"10.0.0.0/8"}, true}, // internal load balancer inside the VNet range
		{"203.0.113.7:51820", []string{"0.0.0.0/1", "128.0.0.0/1"}, true},
		{"[fd00:202::9]:51820", []string{"fd00:202::/32"}, true},
		{"100.82.0.1:51820", nil, true}, // inside the tunnel address's own subnet
	} {
		c.Peer.Endpoint = netip.MustParseAddrPort(tc.endpoint)
		if got := endpointCovered(c.Peer.Endpoint.Addr(), c.Address, pfx(tc.routes...)); got != tc.loop {
			t.Errorf("endpoint %s, routes %v: loop %v, want %v", tc.endpoint, tc.routes, got, tc.loop)
		}
	}
	add, remove := diffPrefixes(pfx("10.0.0.0/8", "10.1.0.0/16"), pfx("10.1.0.0/16", "172.16.0.0/12"))
	if !slices.Equal(add, pfx("172.16.0.0/12")) || !slices.Equal(remove, pfx("10.0.0.0/8")) {
		t.Fatalf("diff: add %v remove %v", add, remove)
	}
}

func TestUAPIConfig(t *testing.T) {
	c := validConfig()
	k, pub := c.PrivateKey, c.Peer.PublicKey
	first := uapiConfig(c, nil)
	want := fmt.Sprintf("private_key=%s\nreplace_peers=true\npublic_key=%s\nendpoint=192.0.2.10:51820\n"+
		"persistent_keepalive_interval=25\nreplace_allowed_ips=true\nallowed_ip=10.202.0.0/16\n", k.hex(), hex.EncodeToString(pub[:]))
	if first != want {
		t.Fatalf("first config:\n%s\nwant\n%s", first, want)
	}
	if strings.Contains(first, "listen_port") {
		t.Fatal("listen_port rebinds the socket")
	}
	// Same key and peer: no private_key line (O(peers)), no listen_port.
	same := uapiConfig(c, &c)
	if strings.Contains(same, "private_key") || strings.Contains(same, "replace_peers") || strings.Contains(same, "remove=true") {
		t.Fatalf("unchanged reconfigure:\n%s", same)
	}
	// New key and new peer: key line, old peer removed, new one added.
	n := validConfig()
	rot := uapiConfig(n, &c)
	for _, w := range []string{"private_key=" + n.PrivateKey.hex(), "public_key=" + hex.EncodeToString(pub[:]) + "\nremove=true\n",
		"public_key=" + hex.EncodeToString(n.Peer.PublicKey[:])} {
		if !strings.Contains(rot, w) {
			t.Fatalf("rotation config lacks %q:\n%s", w, rot)
		}
	}
}

func TestParseStats(t *testing.T) {
	c := validConfig()
	other := validConfig().Peer.PublicKey
	text := fmt.Sprintf("private_key=%s\nlisten_port=4242\npublic_key=%s\nrx_bytes=1\ntx_bytes=2\nlast_handshake_time_sec=99\n"+
		"public_key=%s\nendpoint=192.0.2.10:51820\nlast_handshake_time_sec=1700000000\nlast_handshake_time_nsec=5\nrx_bytes=1234\ntx_bytes=5678\nerrno=0\n",
		c.PrivateKey.hex(), hex.EncodeToString(other[:]), hex.EncodeToString(c.Peer.PublicKey[:]))
	s, err := parseStats(text, c.Peer.PublicKey)
	if err != nil || s.RxBytes != 1234 || s.TxBytes != 5678 || !s.LatestHandshake.Equal(time.Unix(1700000000, 5)) {
		t.Fatalf("stats %+v, %v", s, err)
	}
	s, err = parseStats(fmt.Sprintf("public_key=%s\nlast_handshake_time_sec=0\nlast_handshake_time_nsec=0\n", hex.EncodeToString(c.Peer.PublicKey[:])), c.Peer.PublicKey)
	if err != nil || !s.LatestHandshake.IsZero() {
		t.Fatalf("no handshake yet: %+v %v", s, err)
	}
	if _, err := parseStats("", c.Peer.PublicKey); err == nil {
		t.Fatal("missing peer not reported")
	}
}

func TestResolvConfContent(t *testing.T) {
	orig := []byte("# by DHCP\nnameserver 192.0.2.53\nnameserver 192.0.2.54\nnameserver 192.0.2.55\ndomain old.example\nsearch corp.example lab.example\noptions edns0 ndots:2\n")
	got := string(resolvConfContent(orig, "gwt0", []netip.Addr{netip.MustParseAddr("10.0.0.10"), netip.MustParseAddr("192.0.2.53")},
		[]string{"svc.cluster.local.", "Corp.Example"}))
	want := "nameserver 10.0.0.10\nnameserver 192.0.2.53\nsearch svc.cluster.local corp.example lab.example\noptions edns0 ndots:2\n"
	if !strings.HasPrefix(got, "# Managed by ghostwire") || !strings.HasSuffix(got, want) {
		t.Fatalf("got\n%s\nwant (after the header)\n%s", got, want)
	}
	rc := parseResolvConf(orig)
	if len(rc.nameservers) != 3 || !slices.Equal(rc.search, []string{"corp.example", "lab.example"}) {
		t.Fatalf("parse: %+v", rc)
	}
	d := splitDomains(DNS{Search: []string{"svc.cluster.local", "SVC.cluster.local."}, Match: []string{"~cluster.local", "svc.cluster.local"}})
	if !slices.Equal(d.search, []string{"svc.cluster.local"}) || !slices.Equal(d.match, []string{"cluster.local"}) {
		t.Fatalf("splitDomains: %+v", d)
	}
}

func quietLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

// resolv.conf is restored byte for byte, also when it did not exist, and a
// version another program wrote meanwhile is left alone.
func TestResolvConfRestore(t *testing.T) {
	dir := t.TempDir()
	orig := []byte("nameserver 192.0.2.53\n\n# odd   spacing kept\t\n")
	for _, tc := range []struct {
		name     string
		exists   bool
		meddle   []byte
		wantFile []byte
		wantGone bool
	}{
		{"restored", true, nil, orig, false},
		{"created then removed", false, nil, nil, true},
		{"rewritten by another program", true, []byte("nameserver 198.51.100.1\n"), []byte("nameserver 198.51.100.1\n"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-"))
			if tc.exists {
				if err := os.WriteFile(path, orig, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			j, err := newJournal(filepath.Join(dir, "j-"+filepath.Base(path)), "gwt0")
			if err != nil {
				t.Fatal(err)
			}
			u := &dnsUser{iface: "gwt0", j: j, servers: []netip.Addr{netip.MustParseAddr("10.0.0.10")}}
			if err := joinResolvConf(path, u, quietLog()); err != nil {
				t.Fatal(err)
			}
			// The process dies: its in-memory share of the file is gone.
			resolvConfs.Lock()
			delete(resolvConfs.files, path)
			resolvConfs.Unlock()
			if b, _ := os.ReadFile(path); !bytes.Contains(b, []byte("nameserver 10.0.0.10")) {
				t.Fatalf("not written: %q", b)
			}
			if tc.meddle != nil {
				_ = os.WriteFile(path, tc.meddle, 0o644)
			}
			// Recovery, as after a crash: from the journal on disk alone.
			if err := Recover(filepath.Dir(j.path), quietLog()); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(path)
			if tc.wantGone {
				if !errors.Is(err, fs.ErrNotExist) {
					t.Fatalf("file should be gone: %q %v", b, err)
				}
				return
			}
			if !bytes.Equal(b, tc.wantFile) {
				t.Fatalf("got %q, want %q", b, tc.wantFile)
			}
		})
	}
}

// recordingOps records what would be undone (the real one needs root:
// see the system tests); it fails where told to.
type recordingOps struct {
	netOps
	done []string
	fail string
}

func (r *recordingOps) do(s string) error {
	if s == r.fail {
		return errors.New("device busy")
	}
	r.done = append(r.done, s)
	return nil
}
func (r *recordingOps) delLink(n string) error { return r.do("link " + n) }
func (r *recordingOps) delAddr(l string, p netip.Prefix) error {
	return r.do("addr " + p.String())
}
func (r *recordingOps) delRoute(l string, p netip.Prefix) error {
	return r.do("route " + p.String())
}
func (r *recordingOps) delHostRoute(p netip.Prefix, gw netip.Addr, dev string) error {
	return r.do("host " + p.String())
}

// The journal undoes newest first, keeps what failed for the next try,
// survives reloading, and refuses a second journal for the same interface.
func TestJournalRollback(t *testing.T) {
	dir := t.TempDir()
	j, err := newJournal(dir, "gwt0")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := newJournal(dir, "gwt0"); err == nil {
		t.Fatal("second journal for the same interface accepted")
	}
	for _, e := range []entry{
		{Kind: kindLink, Link: "gwt0"},
		{Kind: kindAddr, Link: "gwt0", Prefix: netip.MustParsePrefix("100.82.0.2/32")},
		{Kind: kindRoute, Link: "gwt0", Prefix: netip.MustParsePrefix("10.202.0.0/16")},
		{Kind: kindHostRoute, Link: "eth0", Prefix: netip.MustParsePrefix("10.202.50.1/32"), Gateway: netip.MustParseAddr("192.0.2.1")},
	} {
		if err := j.record(e); err != nil {
			t.Fatal(err)
		}
	}
	loaded, err := loadJournal(j.path)
	if err != nil || len(loaded.Entries) != 4 || loaded.Entries[3].Gateway.String() != "192.0.2.1" {
		t.Fatalf("reloaded %+v %v", loaded, err)
	}
	ops := &recordingOps{fail: "route 10.202.0.0/16"}
	undo := func(e entry) error { return undoEntry(e, ops, nil, nil, quietLog()) }
	if err := loaded.rollback(undo, quietLog()); err == nil || !strings.Contains(err.Error(), "device busy") {
		t.Fatalf("rollback error %v", err)
	}
	if want := []string{"host 10.202.50.1/32", "addr 100.82.0.2/32", "link gwt0"}; !slices.Equal(ops.done, want) {
		t.Fatalf("undone %v, want %v", ops.done, want)
	}
	left, _ := loadJournal(j.path)
	if len(left.Entries) != 1 || left.Entries[0].Kind != kindRoute {
		t.Fatalf("journal after a partial rollback: %+v", left.Entries)
	}
	ops.fail = ""
	if err := left.rollback(undo, quietLog()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(j.path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal("journal not removed after a full rollback")
	}
	if err := Recover(filepath.Join(dir, "none"), quietLog()); err != nil {
		t.Fatalf("Recover of a missing dir: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "gwt1"+journalSuffix), []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Recover(dir, quietLog()); err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Fatalf("damaged journal: %v", err)
	}
}

// dnsAnswerer answers every name with one A record, on loopback.
func dnsAnswerer(t *testing.T, ip string) (netip.AddrPort, func() int) {
	return loopbackDNS(t, func(string) (string, bool) { return ip, true })
}

// The stub forwarder sends each profile's domains to that cluster's DNS
// (every cluster whose domain matches is asked; the most specific one's
// answer wins) and every other name to the original nameservers; loopback
// servers stand in for all three.
func TestStubSplits(t *testing.T) {
	clusterA, askedA := dnsAnswerer(t, "10.202.100.7")
	clusterB, askedB := dnsAnswerer(t, "10.202.200.7")
	upstream, askedUp := dnsAnswerer(t, "192.0.2.1")
	stub, err := startStub(netip.MustParseAddrPort("127.0.0.1:0"), []netip.AddrPort{upstream}, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	defer stub.close()
	stub.setRoutes([]stubRoute{
		{domains: []string{"svc.cluster.local", "cluster.local"}, servers: []netip.AddrPort{clusterA}},
		{domains: []string{"corp.internal", "b.svc.cluster.local"}, servers: []netip.AddrPort{clusterB}},
	})
	c := &dns.Client{Timeout: 3 * time.Second}
	for name, want := range map[string]string{
		"prometheus.monitoring.svc.cluster.local.": "10.202.100.7",
		"CLUSTER.LOCAL.":           "10.202.100.7",
		"db.corp.internal.":        "10.202.200.7",
		"api.b.svc.cluster.local.": "10.202.200.7", // longest match
		"www.example.com.":         "192.0.2.1",
		"notcluster.local.":        "192.0.2.1",
	} {
		m := new(dns.Msg)
		m.SetQuestion(name, dns.TypeA)
		r, _, err := c.Exchange(m, stub.addr())
		if err != nil || len(r.Answer) != 1 || !strings.Contains(r.Answer[0].String(), want) {
			t.Fatalf("%s: %v %v, want %s", name, r, err, want)
		}
	}
	// api.b.svc.cluster.local is under both clusters' domains: both asked.
	// Cluster B's answer may come back before cluster A has even been
	// reached (the forwarder does not wait for it), so wait for A's count.
	for deadline := time.Now().Add(5 * time.Second); askedA() < 3 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	if a, b, u := askedA(), askedB(), askedUp(); a != 3 || b != 2 || u != 2 {
		t.Fatalf("asked: cluster A %d, cluster B %d, upstream %d; want 3, 2, 2", a, b, u)
	}
	// No upstream at all: SERVFAIL, not a hang.
	lone, err := startStub(netip.MustParseAddrPort("127.0.0.1:0"), nil, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	defer lone.close()
	m := new(dns.Msg)
	m.SetQuestion("www.example.com.", dns.TypeA)
	if r, _, err := c.Exchange(m, lone.addr()); err != nil || r.Rcode != dns.RcodeServerFailure {
		t.Fatalf("no upstream: %v %v", r, err)
	}
}

// Two profiles share one resolv.conf and go down in any order: the file
// always lists both while both are up, and the original comes back at the
// end, byte for byte.
func TestSharedResolvConf(t *testing.T) {
	for _, tc := range []struct {
		order [2]int
		crash bool
	}{{[2]int{0, 1}, false}, {[2]int{1, 0}, false}, {[2]int{}, true}} {
		order := tc.order
		dir := t.TempDir()
		path := filepath.Join(dir, "resolv.conf")
		orig := []byte("nameserver 192.0.2.53\nsearch corp.example\n")
		if err := os.WriteFile(path, orig, 0o644); err != nil {
			t.Fatal(err)
		}
		var users []*dnsUser
		for i, iface := range []string{"gwt0", "gwt1"} {
			j, err := newJournal(filepath.Join(dir, iface), iface)
			if err != nil {
				t.Fatal(err)
			}
			u := &dnsUser{iface: iface, j: j, servers: []netip.Addr{netip.AddrFrom4([4]byte{10, 202, byte(i), 10})},
				search: []string{fmt.Sprintf("svc.c%d.local", i)}}
			if err := joinResolvConf(path, u, quietLog()); err != nil {
				t.Fatal(err)
			}
			users = append(users, u)
		}
		both, _ := os.ReadFile(path)
		if !bytes.Contains(both, []byte("nameserver 10.202.0.10\nnameserver 10.202.1.10\nnameserver 192.0.2.53\n")) ||
			!bytes.Contains(both, []byte("search svc.c0.local svc.c1.local corp.example\n")) {
			t.Fatalf("both profiles:\n%s", both)
		}
		// Every journal knows what the file holds now (for Recover).
		for _, u := range users {
			j, _ := loadJournal(u.j.path)
			if !bytes.Equal(j.Entries[0].Written, both) || !bytes.Equal(j.Entries[0].Original, orig) {
				t.Fatalf("journal of %s out of date", u.iface)
			}
		}
		if tc.crash {
			// A crash instead: Recover from both journals in one directory.
			crashDir := filepath.Join(dir, "crash")
			_ = os.MkdirAll(crashDir, 0o700)
			for _, u := range users {
				_ = os.Rename(u.j.path, journalPath(crashDir, u.iface))
			}
			resolvConfs.Lock()
			delete(resolvConfs.files, path)
			resolvConfs.Unlock()
			if err := Recover(crashDir, quietLog()); err != nil {
				t.Fatal(err)
			}
			if b, _ := os.ReadFile(path); !bytes.Equal(b, orig) {
				t.Fatalf("Recover of two shared journals: %q", b)
			}
			continue
		}
		first, second := users[order[0]], users[order[1]]
		if err := leaveResolvConf(path, first, quietLog()); err != nil {
			t.Fatal(err)
		}
		one, _ := os.ReadFile(path)
		if bytes.Contains(one, []byte(first.search[0])) || !bytes.Contains(one, []byte(second.search[0])) {
			t.Fatalf("after %s left:\n%s", first.iface, one)
		}
		if err := leaveResolvConf(path, second, quietLog()); err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(path); !bytes.Equal(b, orig) {
			t.Fatalf("order %v: not restored: %q", order, b)
		}
	}
}

func TestUpRefusesFullTunnelUnlessAsked(t *testing.T) {
	cfg := validConfig()
	cfg.Peer.AllowedIPs = []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")}
	if _, err := Up(t.Context(), cfg, nil); !errors.Is(err, ErrFullTunnel) {
		t.Fatalf("Up with 0.0.0.0/0: %v, want ErrFullTunnel", err)
	}
}
