package tunnel

import (
	"bufio"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// The portable half of macOS split DNS: which SystemConfiguration
// dynamic-store keys a tunnel writes, the scutil(8) scripts that write and
// remove them, and parsers for what scutil prints. dns_darwin.go runs them.
//
// Each tunnel writes its own keys, never the primary service's:
//
//	State:/Network/Service/ghostwire-<pid>-<iface>-search<i>/DNS
//	  ServerAddresses                  the cluster's DNS servers
//	  SupplementalMatchDomains         <ns>.svc.cluster.local svc.cluster.local ...
//	  SupplementalMatchOrders          200000 200001 ... (after the Wi-Fi's own search domains)
//	  SupplementalMatchDomainsNoSearch 0   (configd appends them to the search list)
//	State:/Network/Service/ghostwire-<pid>-<iface>-match<i>/DNS
//	  ServerAddresses                  the cluster's DNS servers
//	  SupplementalMatchDomains         cluster.local ...
//	  SupplementalMatchDomainsNoSearch 1   (routed, not searched)
//
// The daemon's pid in the name tells a leftover of a dead daemon from a
// key of a running one (sweepScutilKeys).

const (
	scutilKeyPrefix = "State:/Network/Service/ghostwire-"
	scutilKeySuffix = "/DNS"
	// scutil reads lines of at most 2048 bytes and d.add takes at most 101
	// arguments; these keep every line well inside both.
	maxDomainsPerKey     = 50
	maxDomainBytesPerKey = 1500
	// searchOrderBase puts our search domains after the primary
	// service's own (configd's default order is 100000), so a short name
	// the Wi-Fi's search domain answers still resolves as before.
	searchOrderBase = 200000
)

// scutilKeyPattern matches every key ghostwire writes (a regex, as
// scutil's list takes).
const scutilKeyPattern = `State:/Network/Service/ghostwire-[0-9]+-.*/DNS`

var scutilKeyRe = regexp.MustCompile(`^State:/Network/Service/ghostwire-([0-9]+)-([A-Za-z0-9_.-]+)-(search|match)([0-9]+)/DNS$`)

// scutilKey is one dynamic-store DNS dictionary of ours.
type scutilKey struct {
	Key      string
	Servers  []netip.Addr
	Domains  []string
	NoSearch bool
}

// scutilKeyOwner parses a key of ours: the daemon's pid and the tunnel's
// interface name.
func scutilKeyOwner(key string) (pid int, iface string, ok bool) {
	m := scutilKeyRe.FindStringSubmatch(key)
	if m == nil {
		return 0, "", false
	}
	pid, err := strconv.Atoi(m[1])
	if err != nil {
		return 0, "", false
	}
	return pid, m[2], true
}

// batchDomains splits domains into groups within scutil's limits, in order.
func batchDomains(ds []string) [][]string {
	var out [][]string
	var cur []string
	size := 0
	for _, d := range ds {
		if len(cur) > 0 && (len(cur) == maxDomainsPerKey || size+len(d)+1 > maxDomainBytesPerKey) {
			out = append(out, cur)
			cur, size = nil, 0
		}
		cur = append(cur, d)
		size += len(d) + 1
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// scutilKeys is the set of keys a tunnel writes for its DNS plan.
func scutilKeys(pid int, iface string, servers []netip.Addr, d domains) []scutilKey {
	var keys []scutilKey
	add := func(role string, ds []string, noSearch bool) {
		for i, batch := range batchDomains(ds) {
			keys = append(keys, scutilKey{
				Key:     fmt.Sprintf("%s%d-%s-%s%d%s", scutilKeyPrefix, pid, iface, role, i, scutilKeySuffix),
				Servers: slices.Clone(servers), Domains: batch, NoSearch: noSearch,
			})
		}
	}
	add("search", d.search, false)
	add("match", d.match, true)
	return keys
}

// scutilQuote writes one argument so that scutil's tokenizer reads it back
// unchanged: plain when it has no space, quote or leading '#', else in
// double quotes with '"' escaped. Backslashes and line breaks cannot be
// written safely, and none of our values (domains, addresses, keys) has
// them: they are refused.
func scutilQuote(s string) (string, error) {
	if strings.ContainsAny(s, "\\\n\r\x00") {
		return "", fmt.Errorf("scutil: %q cannot be written safely", s)
	}
	if s != "" && !strings.ContainsAny(s, " \t\v\f\"") && s[0] != '#' {
		return s, nil
	}
	return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"`, nil
}

// scriptWriter builds a scutil script; the first error sticks.
type scriptWriter struct {
	b   strings.Builder
	err error
}

// raw writes a line: prefix as it is (a command and scutil's flags like
// "*", "#", "-"), then each value quoted.
func (w *scriptWriter) raw(prefix string, values ...string) {
	if w.err != nil {
		return
	}
	for _, v := range values {
		q, err := scutilQuote(v)
		if err != nil {
			w.err = err
			return
		}
		prefix += " " + q
	}
	if len(prefix) >= 2000 {
		w.err = fmt.Errorf("scutil: a line of %d bytes is too long for scutil (2048 at most)", len(prefix))
		return
	}
	w.b.WriteString(prefix + "\n")
}

func (w *scriptWriter) done() (string, error) {
	if w.err != nil {
		return "", w.err
	}
	w.b.WriteString("quit\n")
	return w.b.String(), nil
}

// scutilSetScript writes keys (replacing what they held).
func scutilSetScript(keys []scutilKey) (string, error) {
	var w scriptWriter
	for _, k := range keys {
		if len(k.Servers) == 0 || len(k.Domains) == 0 {
			return "", errors.New("scutil: a DNS key needs servers and domains")
		}
		w.raw("d.init")
		servers := make([]string, len(k.Servers))
		for i, s := range k.Servers {
			servers[i] = s.String()
		}
		// "*" makes an array, "-" says only string values follow.
		w.raw("d.add ServerAddresses * -", servers...)
		w.raw("d.add SupplementalMatchDomains * -", k.Domains...)
		if k.NoSearch {
			w.raw("d.add SupplementalMatchDomainsNoSearch # 1")
		} else {
			orders := make([]string, len(k.Domains))
			for i := range orders {
				orders[i] = strconv.Itoa(searchOrderBase + i)
			}
			w.raw("d.add SupplementalMatchOrders * #", orders...)
			w.raw("d.add SupplementalMatchDomainsNoSearch # 0")
		}
		w.raw("set", k.Key)
	}
	return w.done()
}

// scutilRemoveScript removes keys; a key already gone is fine.
func scutilRemoveScript(keys []string) (string, error) {
	var w scriptWriter
	for _, k := range keys {
		w.raw("remove", k)
	}
	return w.done()
}

// scutilListScript lists the keys matching pattern (a regex).
func scutilListScript(pattern string) (string, error) {
	var w scriptWriter
	w.raw("list", pattern)
	return w.done()
}

// scutilProblems returns what scutil printed besides answers it is fine
// to get (it reports a failed command as an indented message on stdout
// and carries on). ok lists messages to ignore, such as "No such key" when
// removing.
func scutilProblems(out string, ok ...string) []string {
	var bad []string
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if l == "" || slices.Contains(ok, l) {
			continue
		}
		bad = append(bad, l)
	}
	return bad
}

// parseScutilList reads the keys out of `list`'s answer ("  subKey [0] = key").
func parseScutilList(out string) []string {
	var keys []string
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(l, "subKey [") {
			continue
		}
		if _, k, ok := strings.Cut(l, "] = "); ok && k != "" {
			keys = append(keys, k)
		}
	}
	return keys
}

// dnsResolver is one resolver of `scutil --dns`.
type dnsResolver struct {
	Scoped      bool // from the "for scoped queries" or "service-specific" sections
	Domain      string
	Search      []string
	Nameservers []string
	Options     string
	Order       int
}

// parseScutilDNS reads `scutil --dns`. It never fails: lines it does not
// understand are skipped, so a change in the format loses detail, not the
// daemon.
func parseScutilDNS(out string) []dnsResolver {
	var rs []dnsResolver
	var cur *dnsResolver
	scoped := false
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		t := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(t, "DNS configuration"):
			scoped = strings.Contains(t, "scoped") || strings.Contains(t, "service-specific")
			cur = nil
			continue
		case strings.HasPrefix(t, "resolver #"):
			rs = append(rs, dnsResolver{Scoped: scoped})
			cur = &rs[len(rs)-1]
			continue
		}
		if cur == nil {
			continue
		}
		k, v, ok := strings.Cut(t, ":")
		if !ok {
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		switch {
		case k == "domain":
			cur.Domain = normDomain(v)
		case strings.HasPrefix(k, "search domain["):
			cur.Search = append(cur.Search, normDomain(v))
		case strings.HasPrefix(k, "nameserver["):
			cur.Nameservers = append(cur.Nameservers, v)
		case k == "options":
			cur.Options = v
		case k == "order":
			if n, err := strconv.Atoi(v); err == nil {
				cur.Order = n
			}
		}
	}
	return rs
}

// dnsConflicts names the domains of ours that another resolver of the
// system already answers with other servers: another VPN, a file in
// /etc/resolver, or a second profile of ours on the same cluster domain.
// macOS asks one resolver per domain, so one of the two would silently
// lose. Resolvers with exactly our servers (ours, applied again) are no
// conflict.
func dnsConflicts(rs []dnsResolver, ours []string, servers []netip.Addr) map[string][]string {
	want := make([]string, len(servers))
	for i, s := range servers {
		want[i] = s.String()
	}
	slices.Sort(want)
	out := map[string][]string{}
	for _, r := range rs {
		if r.Scoped || r.Domain == "" || !slices.Contains(ours, r.Domain) {
			continue
		}
		have := slices.Clone(r.Nameservers)
		slices.Sort(have)
		if slices.Equal(have, want) {
			continue
		}
		for _, n := range r.Nameservers {
			if !slices.Contains(out[r.Domain], n) {
				out[r.Domain] = append(out[r.Domain], n)
			}
		}
		if len(r.Nameservers) == 0 && r.Options != "" {
			out[r.Domain] = append(out[r.Domain], "("+r.Options+")")
		}
	}
	return out
}

// dnsApplied reports whether every domain of ours has a resolver with our
// servers in the system's DNS configuration.
func dnsApplied(rs []dnsResolver, ours []string, servers []netip.Addr) bool {
	for _, d := range ours {
		found := false
		for _, r := range rs {
			if r.Scoped || r.Domain != d {
				continue
			}
			for _, s := range servers {
				if slices.Contains(r.Nameservers, s.String()) {
					found = true
				}
			}
		}
		if !found {
			return false
		}
	}
	return true
}
