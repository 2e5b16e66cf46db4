package tunnel

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/netip"
	"os"
	"slices"
	"strings"
)

// dnsState is the DNS mechanism a tunnel uses now.
type dnsState struct {
	mode DNSMode
	file string   // the managed resolv.conf (stub and resolv.conf modes)
	user *dnsUser // our share of it
}

// leaveDNS takes the tunnel out of a managed resolv.conf.
func (t *Tunnel) leaveDNS() error {
	if t.dns.user == nil {
		return nil
	}
	err := leaveResolvConf(t.dns.file, t.dns.user, t.log)
	t.dns.user = nil
	return err
}

func sameDNS(a, b Config) bool {
	return slices.Equal(a.DNS.Servers, b.DNS.Servers) && slices.Equal(a.DNS.Search, b.DNS.Search) &&
		slices.Equal(a.DNS.Match, b.DNS.Match) && a.DNSMode == b.DNSMode
}

// chooseDNSMode picks the mechanism at run time, like Tailscale's net/dns:
// each OS file's autoDNSMode says what that system offers.
func chooseDNSMode(cfg Config, log *slog.Logger) DNSMode {
	if len(cfg.DNS.Servers) == 0 {
		return DNSOff
	}
	if cfg.DNSMode != DNSAuto {
		return cfg.DNSMode
	}
	return autoDNSMode(cfg, log)
}

func (t *Tunnel) applyDNS(ctx context.Context, cfg Config) error {
	mode := chooseDNSMode(cfg, t.log)
	t.dns.mode = mode
	domains := splitDomains(cfg.DNS)
	switch mode {
	case DNSOff:
		return nil
	case DNSResolved:
		return setResolved(ctx, t.j, cfg.DBusAddress, t.name, t.index, cfg.DNS.Servers, domains)
	case DNSScutil, DNSNRPT:
		return t.applyOSDNS(ctx, cfg, mode, domains)
	case DNSResolvConf, DNSStub:
		u := &dnsUser{iface: t.name, j: t.j, stub: mode == DNSStub, servers: cfg.DNS.Servers,
			search: domains.search, domains: domains.all(), stubAddr: cfg.StubAddress}
		err := joinResolvConf(cfg.ResolvConf, u, t.log)
		t.dns.file, t.dns.user = cfg.ResolvConf, u // even on error: Close hands back what joined
		if err != nil && mode == DNSStub && cfg.DNSMode == DNSAuto && !errors.Is(err, errRewritten) {
			// Chosen by us, not asked for: fall back rather than fail.
			t.log.Warn("cannot start the local DNS forwarder; falling back to resolv.conf only",
				"listen", cfg.StubAddress, "err", err)
			cfg.DNSMode = DNSResolvConf
			return t.applyDNS(ctx, cfg)
		}
		if err != nil {
			if mode == DNSStub {
				return fmt.Errorf("cannot set up split DNS through the local forwarder on %s (is another DNS server using it?): %w", cfg.StubAddress, err)
			}
			return err
		}
		if mode == DNSResolvConf {
			t.log.Warn("DNS via resolv.conf only: every DNS query now goes to the cluster's DNS servers "+
				"(it forwards what it does not serve); use systemd-resolved or the stub mode for real split DNS",
				"servers", cfg.DNS.Servers)
		}
		return nil
	}
	return fmt.Errorf("DNS mode %q is not available", mode)
}

// undoDNS reverts the current DNS setup (for Reconfigure).
func (t *Tunnel) undoDNS() error {
	if err := t.leaveDNS(); err != nil {
		return fmt.Errorf("cannot undo the previous DNS setup: %w", err)
	}
	for i := len(t.j.Entries) - 1; i >= 0; i-- {
		e := t.j.Entries[i]
		if !isDNSEntry(e.Kind) {
			continue
		}
		if err := undoEntry(e, t.ops, nil, nil, t.log); err != nil {
			return fmt.Errorf("cannot undo the previous DNS setup: %w", err)
		}
	}
	t.dns.mode = DNSOff
	return t.j.forget(func(e entry) bool { return isDNSEntry(e.Kind) })
}

// isDNSEntry reports the journal kinds that belong to the DNS setup.
func isDNSEntry(kind string) bool {
	return kind == kindResolved || kind == kindResolvConf || slices.Contains(osDNSKinds, kind)
}

// domains is the split DNS plan: search domains (also matched) and
// routing-only match domains.
type domains struct {
	search, match []string
}

func (d domains) all() []string { return append(slices.Clone(d.search), d.match...) }

func normDomain(d string) string {
	return strings.ToLower(strings.TrimSuffix(strings.TrimPrefix(d, "~"), "."))
}

func splitDomains(d DNS) domains {
	var out domains
	for _, s := range d.Search {
		if s = normDomain(s); !slices.Contains(out.search, s) {
			out.search = append(out.search, s)
		}
	}
	for _, m := range d.Match {
		if m = normDomain(m); !slices.Contains(out.search, m) && !slices.Contains(out.match, m) {
			out.match = append(out.match, m)
		}
	}
	return out
}

type resolvConf struct {
	nameservers []netip.Addr
	search      []string
	other       []string // options, sortlist...: kept as they are
}

func parseResolvConf(b []byte) resolvConf {
	var rc resolvConf
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		f := strings.Fields(line)
		if len(f) == 0 || line[0] == '#' || line[0] == ';' {
			continue
		}
		switch f[0] {
		case "nameserver":
			if len(f) > 1 {
				if a, err := netip.ParseAddr(f[1]); err == nil {
					rc.nameservers = append(rc.nameservers, a)
				}
			}
		case "search", "domain": // the last one wins in glibc
			rc.search = slices.Clone(f[1:])
		default:
			rc.other = append(rc.other, line)
		}
	}
	return rc
}

// resolverDefaults is where the system's resolver sends queries when
// resolv.conf is empty, missing or names no nameserver: glibc (2.36, checked
// by listening on both while `getent hosts` ran) asks 127.0.0.1:53 only;
// Go's own resolver asks 127.0.0.1:53 and then [::1]:53. A local caching
// resolver (dnsmasq, unbound) is typically there.
var resolverDefaults = []netip.Addr{netip.AddrFrom4([4]byte{127, 0, 0, 1}), netip.IPv6Loopback()}

// systemNameservers are the nameservers the system's resolver uses with
// the resolv.conf orig: those it names, else resolverDefaults.
func systemNameservers(orig []byte) []netip.Addr {
	if ns := parseResolvConf(orig).nameservers; len(ns) > 0 {
		return ns
	}
	return slices.Clone(resolverDefaults)
}

// resolvConfContent is the managed resolv.conf: our nameservers first (glibc
// reads at most 3), our search domains before the original ones, the
// original options kept.
func resolvConfContent(orig []byte, iface string, ns []netip.Addr, search []string) []byte {
	rc := parseResolvConf(orig)
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Managed by ghostwire while the tunnel %s is up; the original is restored when it goes down.\n", iface)
	var seen []netip.Addr
	for _, a := range ns {
		if len(seen) < 3 && !slices.Contains(seen, a) {
			seen = append(seen, a)
			fmt.Fprintf(&b, "nameserver %s\n", a)
		}
	}
	var s []string
	for _, d := range append(slices.Clone(search), rc.search...) {
		if d = normDomain(d); d != "" && !slices.Contains(s, d) {
			s = append(s, d)
		}
	}
	if len(s) > 0 {
		fmt.Fprintf(&b, "search %s\n", strings.Join(s, " "))
	}
	for _, o := range rc.other {
		fmt.Fprintln(&b, o)
	}
	return b.Bytes()
}

// restoreResolvConf puts the original back, byte for byte, unless another
// program rewrote the file since (then its version is newer than ours and
// is left in place).
func restoreResolvConf(e entry, log *slog.Logger) error {
	cur, err := os.ReadFile(e.Path)
	switch {
	case errors.Is(err, fs.ErrNotExist) && e.Created:
		return nil
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return err
	case err == nil && bytes.Equal(cur, e.Original) && !e.Created:
		return nil
	case err == nil && !bytes.Equal(cur, e.Written):
		log.Warn("another program rewrote the DNS file while the tunnel was up; leaving its version", "path", e.Path)
		return nil
	case e.Created:
		return os.Remove(e.Path)
	}
	return os.WriteFile(e.Path, e.Original, 0o644)
}
