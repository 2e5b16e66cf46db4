package tunnel

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

// scutilTokens splits a line as scutil's getString does (configd,
// scutil.tproj/scutil.c): whitespace separates, a token starting with '"'
// runs to the next unescaped '"', and a backslash before '"' or whitespace
// is dropped. It stands in for scutil, which only runs on a Mac.
func scutilTokens(line string) []string {
	var out []string
	s := line
	for {
		s = strings.TrimLeft(s, " \t\n\v\f\r")
		if s == "" {
			return out
		}
		quoted := s[0] == '"'
		if quoted {
			s = s[1:]
		}
		var tok strings.Builder
		i := 0
		for ; i < len(s); i++ {
			c := s[i]
			if quoted && c == '"' {
				break
			}
			if c == '\\' && i+1 < len(s) && (s[i+1] == '"' || cIsSpace(s[i+1])) {
				tok.WriteByte(s[i+1])
				i++
				continue
			}
			if !quoted && cIsSpace(c) {
				break
			}
			tok.WriteByte(c)
		}
		out = append(out, tok.String())
		if quoted && i < len(s) {
			i++ // the closing quote
		}
		s = s[i:]
	}
}

// cIsSpace is C's isspace in the C locale.
func cIsSpace(c byte) bool { return strings.IndexByte(" \t\n\v\f\r", c) >= 0 }

func TestScutilQuoteRoundTrip(t *testing.T) {
	for _, v := range []string{"cluster.local", "a b", `say "hi"`, "#not-a-comment", "", "tab\there", "10.96.0.10"} {
		q, err := scutilQuote(v)
		if err != nil {
			t.Fatalf("%q: %v", v, err)
		}
		if got := scutilTokens("d.add K * - " + q); len(got) != 5 || got[4] != v {
			t.Errorf("%q quoted as %s reads back as %q", v, q, got)
		}
	}
	for _, v := range []string{`back\slash`, "two\nlines", "nul\x00"} {
		if _, err := scutilQuote(v); err == nil {
			t.Errorf("%q was accepted; it cannot be written to scutil safely", v)
		}
	}
}

func FuzzScutilQuote(f *testing.F) {
	for _, s := range []string{"cluster.local", `a "b" c`, "#x", " ", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		q, err := scutilQuote(v)
		if err != nil {
			return
		}
		if got := scutilTokens("set " + q); len(got) != 2 || got[1] != v {
			t.Fatalf("%q quoted as %s reads back as %q", v, q, got)
		}
	})
}

func TestScutilKeysAndScript(t *testing.T) {
	d := splitDomains(DNS{Search: []string{"monitoring.svc.cluster.local", "svc.cluster.local"}, Match: []string{"cluster.local", "~corp.internal."}})
	keys := scutilKeys(4242, "gw0", []netip.Addr{netip.MustParseAddr("10.96.0.10")}, d)
	script, err := scutilSetScript(keys)
	if err != nil {
		t.Fatal(err)
	}
	want := `d.init
d.add ServerAddresses * - 10.96.0.10
d.add SupplementalMatchDomains * - monitoring.svc.cluster.local svc.cluster.local
d.add SupplementalMatchOrders * # 200000 200001
d.add SupplementalMatchDomainsNoSearch # 0
set State:/Network/Service/ghostwire-4242-gw0-search0/DNS
d.init
d.add ServerAddresses * - 10.96.0.10
d.add SupplementalMatchDomains * - cluster.local corp.internal
d.add SupplementalMatchDomainsNoSearch # 1
set State:/Network/Service/ghostwire-4242-gw0-match0/DNS
quit
`
	if script != want {
		t.Fatalf("script:\n%s\nwant:\n%s", script, want)
	}
	for _, k := range keys {
		pid, iface, ok := scutilKeyOwner(k.Key)
		if !ok || pid != 4242 || iface != "gw0" {
			t.Errorf("owner of %s: %d %q %v", k.Key, pid, iface, ok)
		}
	}
	rm, err := scutilRemoveScript([]string{keys[0].Key, keys[1].Key})
	if err != nil {
		t.Fatal(err)
	}
	if rm != "remove "+keys[0].Key+"\nremove "+keys[1].Key+"\nquit\n" {
		t.Errorf("remove script:\n%s", rm)
	}
	for _, k := range []string{"State:/Network/Service/ghostwire-x-gw0-match0/DNS", "State:/Network/Service/NetBird-Match-0/DNS",
		"State:/Network/Service/ghostwire-12-gw0-match0/DNS/extra"} {
		if _, _, ok := scutilKeyOwner(k); ok {
			t.Errorf("%s was taken for a key of ours", k)
		}
	}
}

// Many domains (a cluster with hundreds of namespaces pushed as search
// domains) are split into keys scutil accepts: every line under 2048 bytes,
// every d.add under 101 arguments, order kept.
func TestScutilBatching(t *testing.T) {
	var search []string
	for i := range 230 {
		search = append(search, fmt.Sprintf("namespace-with-a-rather-long-name-%03d.svc.cluster.local", i))
	}
	keys := scutilKeys(1, "gw1", []netip.Addr{netip.MustParseAddr("10.0.0.10"), netip.MustParseAddr("fd00::a")}, domains{search: search, match: []string{"cluster.local"}})
	var got []string
	for _, k := range keys {
		if len(k.Domains) > maxDomainsPerKey {
			t.Errorf("%s holds %d domains", k.Key, len(k.Domains))
		}
		if !k.NoSearch {
			got = append(got, k.Domains...)
		}
	}
	if !slices.Equal(got, search) {
		t.Fatalf("domains lost or reordered across keys")
	}
	if n := len(keys); n < 5 {
		t.Fatalf("%d keys for 230 long domains", n)
	}
	script, err := scutilSetScript(keys)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(script, "\n") {
		if len(l) >= 2048 || len(scutilTokens(l)) > 102 {
			t.Fatalf("line of %d bytes, %d tokens", len(l), len(scutilTokens(l)))
		}
	}
	if _, err := scutilSetScript([]scutilKey{{Key: "k", Domains: []string{"a"}}}); err == nil {
		t.Error("a key without servers was written")
	}
}

// scutil --dns of a Mac on Wi-Fi with another VPN on corp.example and an
// /etc/resolver file, abridged from real output.
const scutilDNSSample = `DNS configuration

resolver #1
  search domain[0] : home
  search domain[1] : monitoring.svc.cluster.local
  nameserver[0] : 192.168.1.1
  if_index : 6 (en0)
  flags    : Request A records
  reach    : 0x00020002 (Reachable,Directly Reachable Address)

resolver #2
  domain   : local
  options  : mdns
  timeout  : 5
  flags    : Request A records
  reach    : 0x00000000 (Not Reachable)
  order    : 300000

resolver #3
  domain   : corp.example.
  nameserver[0] : 10.8.0.1
  nameserver[1] : 10.8.0.2
  flags    : Request A records
  reach    : 0x00000003 (Reachable,Transient Connection)
  order    : 50000

resolver #4
  domain   : cluster.local
  nameserver[0] : 10.96.0.10
  flags    : Supplemental, Request A records
  reach    : 0x00000003 (Reachable,Transient Connection)
  order    : 200000

DNS configuration (for scoped queries)

resolver #1
  search domain[0] : home
  nameserver[0] : 192.168.1.1
  if_index : 6 (en0)
  flags    : Scoped, Request A records
  reach    : 0x00020002 (Reachable,Directly Reachable Address)
`

func TestParseScutilDNS(t *testing.T) {
	rs := parseScutilDNS(scutilDNSSample)
	if len(rs) != 5 {
		t.Fatalf("%d resolvers: %+v", len(rs), rs)
	}
	if !slices.Equal(rs[0].Search, []string{"home", "monitoring.svc.cluster.local"}) || rs[0].Nameservers[0] != "192.168.1.1" {
		t.Errorf("primary: %+v", rs[0])
	}
	if rs[1].Domain != "local" || rs[1].Options != "mdns" || rs[1].Order != 300000 {
		t.Errorf("mdns: %+v", rs[1])
	}
	if rs[2].Domain != "corp.example" || !slices.Equal(rs[2].Nameservers, []string{"10.8.0.1", "10.8.0.2"}) {
		t.Errorf("vpn: %+v", rs[2])
	}
	if !rs[4].Scoped || rs[3].Scoped {
		t.Errorf("scoped flags: %+v", rs)
	}

	ours := []string{"monitoring.svc.cluster.local", "svc.cluster.local", "cluster.local", "corp.example"}
	cluster := []netip.Addr{netip.MustParseAddr("10.96.0.10")}
	// Our own resolver (same servers) is no conflict; another VPN's domain is.
	got := dnsConflicts(rs, ours, cluster)
	if len(got) != 1 || !slices.Equal(got["corp.example"], []string{"10.8.0.1", "10.8.0.2"}) {
		t.Errorf("conflicts: %v", got)
	}
	// A second cluster on cluster.local (other servers) collides.
	if got := dnsConflicts(rs, []string{"cluster.local"}, []netip.Addr{netip.MustParseAddr("10.0.0.10")}); len(got["cluster.local"]) != 1 {
		t.Errorf("second cluster on cluster.local: %v", got)
	}
	if !dnsApplied(rs, []string{"cluster.local"}, cluster) || dnsApplied(rs, []string{"cluster.local", "svc.cluster.local"}, cluster) {
		t.Error("dnsApplied does not tell applied from missing")
	}
}

func TestParseScutilList(t *testing.T) {
	out := "  subKey [0] = State:/Network/Service/ghostwire-12-gw0-match0/DNS\n  subKey [1] = State:/Network/Service/ghostwire-12-gw0-search0/DNS\n"
	if got := parseScutilList(out); len(got) != 2 || got[1] != "State:/Network/Service/ghostwire-12-gw0-search0/DNS" {
		t.Errorf("list: %q", got)
	}
	if got := parseScutilList("  no keys.\n"); len(got) != 0 {
		t.Errorf("no keys: %q", got)
	}
	if bad := scutilProblems("\n  No such key\n", "No such key"); len(bad) != 0 {
		t.Errorf("an ignorable message counted: %q", bad)
	}
	if bad := scutilProblems("  Permission denied\n"); len(bad) != 1 {
		t.Errorf("a failure went unnoticed: %q", bad)
	}
}

func FuzzParseScutilDNS(f *testing.F) {
	f.Add(scutilDNSSample)
	f.Add("resolver #1\n  nameserver[0] :\n  order : x\n")
	f.Add("DNS configuration\n\nresolver #\n:::\n  domain :")
	f.Fuzz(func(t *testing.T, out string) {
		rs := parseScutilDNS(out)
		_ = dnsConflicts(rs, []string{"cluster.local"}, []netip.Addr{netip.MustParseAddr("10.96.0.10")})
		_ = parseScutilList(out)
		_ = scutilProblems(out)
	})
}
