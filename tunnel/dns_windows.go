package tunnel

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/windows"
	"golang.zx2c4.com/wireguard/windows/tunnel/winipcfg"
)

// DefaultJournalDir is where tunnels journal their changes unless told.
var DefaultJournalDir = filepath.Join(os.Getenv("ProgramData"), "ghostwire", "journal")

// osDNSKinds are journal kinds of this OS's own DNS mechanism.
var osDNSKinds = []string{kindNRPT, kindSearchList}

// autoDNSMode: the NRPT, which every Windows since 7 has.
func autoDNSMode(Config, *slog.Logger) DNSMode { return DNSNRPT }

// osEntryString reads this OS's own journal kinds.
func osEntryString(e entry) (string, bool) {
	switch e.Kind {
	case kindNRPT:
		return "DNS rule (NRPT) " + e.Path, true
	case kindSearchList:
		return "DNS search list on " + e.Link, true
	}
	return "", false
}

// osRecover, run by Recover, sweeps the NRPT rules no journal covers.
func osRecover(log *slog.Logger) error { return sweepNRPT(log) }

// sweepNRPT removes the NRPT rules of ours that no tunnel of this process
// holds: left by a crash, a kill or a power loss without volatile keys
// (a policy refresh can copy them), even when the journal is gone.
func sweepNRPT(log *slog.Logger) error {
	removed, err := nrptTable{reg: hklm{}}.sweep(nrptInUse)
	for _, r := range removed {
		log.Info("removed a DNS rule (NRPT) a ghostwire tunnel left behind", "rule", r.path, "interface", r.owner)
	}
	if len(removed) > 0 {
		flushDNSCache(log)
	}
	return err
}

// nrptInUse reports whether a rule of ours belongs to a tunnel that is up:
// one of this process, or one of another ghostwire process still running
// (a test binary, a second daemon being refused), whose own Close removes it.
func nrptInUse(r nrptRule) bool {
	if r.pid == os.Getpid() {
		return liveInterface(r.owner)
	}
	return processRunning(r.pid)
}

// processRunning reports whether pid is a running process. One we may not
// open exists (it is another user's).
func processRunning(pid int) bool {
	if pid <= 0 {
		return false
	}
	h, err := windows.OpenProcess(windows.PROCESS_QUERY_LIMITED_INFORMATION, false, uint32(pid))
	if err != nil {
		return errors.Is(err, windows.ERROR_ACCESS_DENIED)
	}
	defer windows.CloseHandle(h)
	var code uint32
	const stillActive = 259
	return windows.GetExitCodeProcess(h, &code) == nil && code == stillActive
}

// applyOSDNS sends the cluster's domains to its DNS servers with NRPT rules
// (volatile keys, marked as ours, journaled), puts the search domains on
// our adapter so that short names work, flushes the resolver cache, and
// checks with a real lookup that the system resolver answers.
func (t *Tunnel) applyOSDNS(_ context.Context, cfg Config, mode DNSMode, d domains) error {
	if mode != DNSNRPT {
		return fmt.Errorf("DNS mode %q is not available on Windows: use nrpt (the default) or off", mode)
	}
	names, err := nrptNames(d.all())
	if err != nil {
		return err
	}
	tb := nrptTable{reg: hklm{}}
	// Rules of an earlier session on this interface whose journal is gone.
	removed, err := tb.sweep(func(r nrptRule) bool {
		return r.owner != t.name || (r.pid != os.Getpid() && processRunning(r.pid))
	})
	if err != nil {
		return err
	}
	for _, r := range removed {
		t.log.Info("removed a DNS rule (NRPT) an earlier tunnel left behind", "rule", r.path, "of", r.owner)
	}
	rules, err := tb.rules()
	if err != nil {
		return err
	}
	if err := nrptConflict(rules, t.name, names, nrptInUse); err != nil {
		return err
	}
	policy, err := tb.apply(t.name, os.Getpid(), names, cfg.DNS.Servers, func(p string) error {
		return t.j.record(entry{Kind: kindNRPT, Link: t.name, Path: p})
	})
	if err != nil {
		return err
	}
	if len(d.search) > 0 {
		if err := t.j.record(entry{Kind: kindSearchList, Link: t.name}); err != nil {
			return err
		}
		if err := setSearchList(t.name, d.search); err != nil {
			return fmt.Errorf("cannot set the DNS search domains on %s (short names like `prometheus` would not work): %w", t.name, err)
		}
	}
	if policy {
		// Windows reads the NRPT from Group Policy only: tell it.
		if err := refreshPolicy(); err != nil {
			t.log.Warn("could not ask Windows to re-read the DNS policy; the cluster's names may resolve only after the next policy refresh", "err", err)
		}
	}
	flushDNSCache(t.log)
	t.log.Info("split DNS through NRPT rules", "domains", names, "servers", cfg.DNS.Servers,
		"search", d.search, "group_policy", policy)
	if probe := dnsProbeName(d); probe != "" {
		go dnsVerify(t.name, probe, t.log)
	}
	return nil
}

// undoOSEntry removes a rule of ours, or the search list on our adapter.
func undoOSEntry(e entry, log *slog.Logger) (handled bool, err error) {
	switch e.Kind {
	case kindNRPT:
		err := nrptTable{reg: hklm{}}.removeOurs(e.Path)
		flushDNSCache(log)
		return true, err
	case kindSearchList:
		if luid, ok := ourLUID(e.Link); ok {
			for _, fam := range []winipcfg.AddressFamily{windows.AF_INET, windows.AF_INET6} {
				_ = luid.FlushDNS(fam) // a family the adapter lacks fails, and has nothing
			}
		}
		return true, nil
	}
	return false, nil
}

// setSearchList gives our adapter the search domains and no nameserver
// (the NRPT does the routing; a nameserver here would take part in every
// lookup), keeps it out of dynamic DNS registration, and turns LLMNR off on
// it: single-label names (`prometheus`) would otherwise also wait on a
// multicast query through the tunnel (about 2.3 s, tailscale/tailscale#1659).
func setSearchList(iface string, search []string) error {
	luid, ok := ourLUID(iface)
	if !ok {
		return fmt.Errorf("the adapter %s is gone", iface)
	}
	guid, err := luid.GUID()
	if err != nil {
		return err
	}
	list, err := windows.UTF16PtrFromString(strings.Join(search, ","))
	if err != nil {
		return err
	}
	empty, _ := windows.UTF16PtrFromString("")
	for _, fam := range []winipcfg.AddressFamily{windows.AF_INET, windows.AF_INET6} {
		if _, err := luid.IPInterface(fam); err != nil {
			continue // the family is off on this adapter
		}
		s := &winipcfg.DnsInterfaceSettings{
			Version: winipcfg.DnsInterfaceSettingsVersion1,
			Flags: winipcfg.DnsInterfaceSettingsFlagNameserver | winipcfg.DnsInterfaceSettingsFlagSearchList |
				winipcfg.DnsInterfaceSettingsFlagRegistrationEnabled | winipcfg.DnsInterfaceSettingsFlagRegisterAdapterName |
				winipcfg.DnsInterfaceSettingsFlagEnableLLMNR,
			NameServer: empty,
			SearchList: list,
		}
		if fam == windows.AF_INET6 {
			s.Flags |= winipcfg.DnsInterfaceSettingsFlagIPv6
		}
		err := winipcfg.SetInterfaceDnsSettings(*guid, s)
		if errors.Is(err, windows.ERROR_PROC_NOT_FOUND) { // before Windows 10 1809
			err = luid.SetDNS(fam, nil, search)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

var (
	dnsapi                    = windows.NewLazySystemDLL("dnsapi.dll")
	procDnsFlushResolverCache = dnsapi.NewProc("DnsFlushResolverCache")
	userenv                   = windows.NewLazySystemDLL("userenv.dll")
	procRefreshPolicyEx       = userenv.NewProc("RefreshPolicyEx")
)

// flushDNSCache empties the DNS Client's cache, so that answers (and
// "no such name") from before the change are not served from it.
func flushDNSCache(log *slog.Logger) {
	if err := procDnsFlushResolverCache.Find(); err != nil {
		log.Debug("cannot flush the DNS cache", "err", err)
		return
	}
	if r, _, err := procDnsFlushResolverCache.Call(); r == 0 {
		log.Debug("flushing the DNS cache failed", "err", err)
	}
}

// refreshPolicy asks Windows to apply the machine's Group Policy now
// (RefreshPolicyEx with RP_FORCE), which makes Dnscache re-read the policy NRPT.
func refreshPolicy() error {
	if err := procRefreshPolicyEx.Find(); err != nil {
		return err
	}
	const rpForce = 1
	if r, _, err := procRefreshPolicyEx.Call(1, rpForce); r == 0 {
		return err
	}
	return nil
}

// dnsVerify is verifyDNS; tests that must not send a query off the
// machine replace it.
var dnsVerify = verifyDNS

// verifyDNS looks probe up through the system resolver (GetAddrInfoW, as
// every program on the machine does) until it answers, and logs the
// outcome: Dnscache is known to keep serving old rules now and then
// (netbirdio/netbird#4347), and a person should find that in the log.
func verifyDNS(iface, probe string, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start := time.Now()
	flushed := false
	for liveInterface(iface) {
		addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", probe)
		if err == nil && len(addrs) > 0 {
			log.Info("split DNS checked: the system resolver answers the cluster's names", "name", probe,
				"answer", addrs[0], "after", time.Since(start).Round(time.Millisecond))
			return
		}
		if !flushed && time.Since(start) > 3*time.Second {
			flushDNSCache(log) // a negative answer cached before the rule
			flushed = true
		}
		select {
		case <-ctx.Done():
			log.Warn("the system resolver does not answer the cluster's names yet: names may fail until Windows "+
				"picks up the DNS rules (if it lasts, restart the DNS Client service or sign out and in)",
				"name", probe, "err", err)
			return
		case <-time.After(500 * time.Millisecond):
		}
	}
}
