// Package dnsconf works out what DNS clients get: by default the nameservers
// and search list of the Pod's own /etc/resolv.conf (the cluster's CoreDNS),
// and match domains (the only names sent to that DNS) made of the cluster
// domain plus every search domain, without redundant subdomains.
package dnsconf

import (
	"bufio"
	"fmt"
	"net/netip"
	"os"
	"strings"
)

// ResolvConf is what the server takes from a resolv.conf.
type ResolvConf struct {
	Nameservers []string
	Search      []string
}

// Read parses path (nameserver and search/domain lines; the last search or
// domain line wins, as in resolv.conf(5)).
func Read(path string) (ResolvConf, error) {
	f, err := os.Open(path)
	if err != nil {
		return ResolvConf{}, fmt.Errorf("reading %s for the cluster DNS: %w (set --dns-servers and --search-domains instead)", path, err)
	}
	defer f.Close()
	var rc ResolvConf
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if i := strings.IndexAny(line, "#;"); i >= 0 {
			line = line[:i]
		}
		fields := strings.Fields(line)
		if len(fields) < 2 {
			continue
		}
		switch fields[0] {
		case "nameserver":
			if a, err := netip.ParseAddr(fields[1]); err == nil && !a.IsLoopback() {
				rc.Nameservers = append(rc.Nameservers, a.String())
			}
		case "search", "domain":
			rc.Search = Merge(nil, fields[1:])
		}
	}
	if err := sc.Err(); err != nil {
		return ResolvConf{}, fmt.Errorf("reading %s: %w", path, err)
	}
	return rc, nil
}

func norm(d string) string { return strings.ToLower(strings.TrimSuffix(strings.TrimSpace(d), ".")) }

// Merge appends b to a, normalised (lower case, no trailing dot), without
// duplicates, keeping order.
func Merge(a, b []string) []string {
	out := make([]string, 0, len(a)+len(b))
	seen := make(map[string]bool, len(a)+len(b))
	for _, list := range [][]string{a, b} {
		for _, d := range list {
			d = norm(d)
			if d == "" || seen[d] {
				continue
			}
			seen[d] = true
			out = append(out, d)
		}
	}
	return out
}

// MatchDomains is base plus search, minus every domain already covered by
// another one (default.svc.cluster.local is inside cluster.local), so the
// list stays short however many namespaces there are.
func MatchDomains(base, search []string) []string {
	all := Merge(base, search)
	out := make([]string, 0, len(all))
	set := make(map[string]bool, len(all))
	for _, d := range all {
		set[d] = true
	}
	for _, d := range all {
		covered := false
		for p := d; ; {
			i := strings.IndexByte(p, '.')
			if i < 0 {
				break
			}
			p = p[i+1:]
			if set[p] {
				covered = true
				break
			}
		}
		if !covered {
			out = append(out, d)
		}
	}
	return out
}
