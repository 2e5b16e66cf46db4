package tunnel

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// With an empty or missing resolv.conf the system's resolver asks
// 127.0.0.1:53 (a local dnsmasq or unbound). While connected, the stub must
// send the names outside the cluster's domains there too, not fail them
// for want of an upstream (issue 15 #6).
func TestDNSStubWithoutNameserversUsesTheResolverDefault(t *testing.T) {
	if isChild(t) {
		cfg, _ := dnsClientConfig(t)
		cfg.DNSMode = DNSStub
		before, err := os.ReadFile("/etc/resolv.conf")
		if err != nil || len(before) != 0 {
			t.Fatalf("namespace resolv.conf should be empty: %q %v", before, err)
		}
		tn := up(t, cfg)
		waitHandshake(t, tn)
		if out := getent(t, "www.example.com"); !strings.Contains(out, "192.0.2.1") {
			t.Fatalf("outside name with an empty resolv.conf: %q", out)
		}
		if out := getent(t, "prometheus"); !strings.Contains(out, "10.202.100.7") {
			t.Fatalf("cluster name: %q", out)
		}
		if err := tn.Close(); err != nil {
			t.Fatal(err)
		}
		if after, _ := os.ReadFile("/etc/resolv.conf"); !bytes.Equal(after, before) {
			t.Fatalf("the empty resolv.conf came back as %q", after)
		}

		// No resolv.conf at all: the same, and the file is gone again after.
		missing := filepath.Join(t.TempDir(), "resolv.conf")
		cfg.ResolvConf = missing
		tn = up(t, cfg)
		m := new(dns.Msg)
		m.SetQuestion("www.example.com.", dns.TypeA)
		c := &dns.Client{Timeout: 5 * time.Second}
		r, _, err := c.Exchange(m, cfg.withDefaults().StubAddress.String())
		if err != nil || len(r.Answer) != 1 || !strings.Contains(r.Answer[0].String(), "192.0.2.1") {
			t.Fatalf("the stub with no resolv.conf: %v %v", r, err)
		}
		if err := tn.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(missing); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("a resolv.conf that did not exist must not exist after: %v", err)
		}
		return
	}
	tp := newTopo(t)
	testenvTools(t, "getent")
	dir := filepath.Join("/etc/netns", tp.client)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.WriteFile(filepath.Join(dir, "resolv.conf"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	priv := newKey(t)
	p := tp.startPeer(t, priv.Public())
	serveDNS(t, tp.server, "10.202.100.1:53", "cluster.local.", "10.202.100.7")
	// The laptop's local caching resolver, where glibc goes with no nameserver line.
	serveDNS(t, tp.client, "127.0.0.1:53", ".", "192.0.2.1")
	tp.runChild(t, priv, p, nil)
}
