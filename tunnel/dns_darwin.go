package tunnel

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// DefaultJournalDir is where tunnels journal their changes unless told.
const DefaultJournalDir = "/Library/Application Support/ghostwire/journal"

const (
	scutilPath      = "/usr/sbin/scutil"
	dscacheutilPath = "/usr/bin/dscacheutil"
	killallPath     = "/usr/bin/killall"
	// kindScutil is one SystemConfiguration dynamic-store key of ours; Path
	// holds the key.
	kindScutil = "scutil"
)

// osDNSKinds are journal kinds of this OS's own DNS mechanism.
var osDNSKinds = []string{kindScutil}

// osEntryString reads this OS's own journal kinds.
func osEntryString(e entry) (string, bool) {
	if e.Kind == kindScutil {
		return "macOS DNS settings " + e.Path, true
	}
	return "", false
}

// osRecover, run by Recover, sweeps the dynamic-store keys no journal covers.
func osRecover(log *slog.Logger) error { return sweepScutilKeys(log) }

// autoDNSMode: the dynamic store is always there on macOS.
func autoDNSMode(Config, *slog.Logger) DNSMode { return DNSScutil }

// scutilDomains tracks the domains of the tunnels of this process, to name
// the profile a second one on the same domain collides with.
var scutilDomains = struct {
	sync.Mutex
	byIface map[string][]string
}{byIface: map[string][]string{}}

func (t *Tunnel) applyOSDNS(ctx context.Context, cfg Config, mode DNSMode, d domains) error {
	if mode != DNSScutil {
		return fmt.Errorf("DNS mode %q is not available on macOS: use scutil (the default) or off", mode)
	}
	if err := sweepScutilKeys(t.log); err != nil {
		t.log.Warn("could not remove DNS settings left by an earlier daemon", "err", err)
	}
	all := d.all()
	if err := checkDNSConflicts(ctx, cfg.Interface, all, cfg); err != nil {
		return err
	}
	keys := scutilKeys(os.Getpid(), cfg.Interface, cfg.DNS.Servers, d)
	script, err := scutilSetScript(keys)
	if err != nil {
		return fmt.Errorf("cannot write the cluster's DNS settings: %w", err)
	}
	for _, k := range keys {
		if err := t.j.record(entry{Kind: kindScutil, Link: cfg.Interface, Path: k.Key}); err != nil {
			return err
		}
	}
	out, err := runScutil(ctx, script)
	if err != nil {
		return fmt.Errorf("cannot give macOS the cluster's DNS settings: %w", err)
	}
	if bad := scutilProblems(out); len(bad) > 0 {
		return fmt.Errorf("macOS refused the cluster's DNS settings: %s", strings.Join(bad, "; "))
	}
	scutilDomains.Lock()
	scutilDomains.byIface[cfg.Interface] = all
	scutilDomains.Unlock()
	flushDNSCaches(t.log)
	if !waitDNSApplied(ctx, all, cfg) {
		t.log.Warn("macOS does not list the cluster's DNS resolver yet (`scutil --dns`); names may take a moment to resolve",
			"domains", all)
	}
	t.log.Info("split DNS through the macOS dynamic store", "keys", len(keys), "servers", cfg.DNS.Servers,
		"search", d.search, "match", d.match)
	return nil
}

// checkDNSConflicts refuses domains that another resolver already answers
// (macOS asks one resolver per domain, so one side would silently lose).
func checkDNSConflicts(ctx context.Context, iface string, all []string, cfg Config) error {
	scutilDomains.Lock()
	for other, ds := range scutilDomains.byIface {
		if other == iface {
			continue
		}
		for _, d := range all {
			if slices.Contains(ds, d) {
				scutilDomains.Unlock()
				return fmt.Errorf("the DNS domain %s is already sent to the cluster of the profile on %s: "+
					"macOS sends a domain to one DNS server only, so two clusters cannot share it; "+
					"disconnect the other profile (`ghostwire down --profile ...`) or ask the admin for distinct cluster domains", d, other)
			}
		}
	}
	scutilDomains.Unlock()
	out, err := commandOutput(ctx, scutilPath, "--dns")
	if err != nil {
		return nil // cannot tell; the settings still go in
	}
	for d, servers := range dnsConflicts(parseScutilDNS(out), all, cfg.DNS.Servers) {
		where := "another VPN or program"
		if _, err := os.Stat(filepath.Join("/etc/resolver", d)); err == nil {
			where = "the file /etc/resolver/" + d
		}
		return fmt.Errorf("the DNS domain %s is already answered by %s (%s): macOS sends a domain to one DNS server only, "+
			"so the cluster's names would not resolve; disconnect that VPN or remove its setting, then connect again",
			d, strings.Join(servers, ", "), where)
	}
	return nil
}

// waitDNSApplied waits (up to 3 s) until configd lists our resolvers.
func waitDNSApplied(ctx context.Context, all []string, cfg Config) bool {
	deadline := time.Now().Add(3 * time.Second)
	for {
		if out, err := commandOutput(ctx, scutilPath, "--dns"); err == nil && dnsApplied(parseScutilDNS(out), all, cfg.DNS.Servers) {
			return true
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// undoOSEntry removes one key of ours; one already gone is fine.
func undoOSEntry(e entry, log *slog.Logger) (handled bool, err error) {
	if e.Kind != kindScutil {
		return false, nil
	}
	scutilDomains.Lock()
	delete(scutilDomains.byIface, e.Link)
	scutilDomains.Unlock()
	if err := removeScutilKeys(context.Background(), []string{e.Path}); err != nil {
		return true, err
	}
	flushDNSCaches(log)
	return true, nil
}

func removeScutilKeys(ctx context.Context, keys []string) error {
	script, err := scutilRemoveScript(keys)
	if err != nil {
		return err
	}
	out, err := runScutil(ctx, script)
	if err != nil {
		return fmt.Errorf("cannot remove the cluster's DNS settings from macOS: %w", err)
	}
	if bad := scutilProblems(out, "No such key"); len(bad) > 0 {
		return fmt.Errorf("macOS did not remove the cluster's DNS settings: %s", strings.Join(bad, "; "))
	}
	return nil
}

// sweepScutilKeys removes the keys of daemons that are no longer running
// (a crash whose journal was lost): every key of ours names its daemon's
// pid.
func sweepScutilKeys(log *slog.Logger) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	script, err := scutilListScript(scutilKeyPattern)
	if err != nil {
		return err
	}
	out, err := runScutil(ctx, script)
	if err != nil {
		return err
	}
	var stale []string
	for _, k := range parseScutilList(out) {
		pid, _, ok := scutilKeyOwner(k)
		if !ok || processAlive(pid) {
			continue
		}
		stale = append(stale, k)
	}
	if len(stale) == 0 {
		return nil
	}
	if log != nil {
		log.Warn("removing DNS settings a ghostwire daemon that is gone left in macOS", "keys", stale)
	}
	if err := removeScutilKeys(ctx, stale); err != nil {
		return err
	}
	flushDNSCaches(log)
	return nil
}

func processAlive(pid int) bool {
	if pid == os.Getpid() {
		return true
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// runScutil feeds script to scutil and returns what it printed.
func runScutil(ctx context.Context, script string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, scutilPath)
	cmd.Stdin = strings.NewReader(script)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("scutil: %v: %s", err, strings.TrimSpace(errb.String()))
	}
	return out.String(), nil
}

func commandOutput(ctx context.Context, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).Output()
	return string(out), err
}

// flushDNSCaches drops cached answers (and cached "no such name" for the
// cluster's names asked before connecting): the directory service cache,
// and mDNSResponder's on SIGHUP.
func flushDNSCaches(log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, c := range [][]string{{dscacheutilPath, "-flushcache"}, {killallPath, "-HUP", "mDNSResponder"}} {
		if out, err := exec.CommandContext(ctx, c[0], c[1:]...).CombinedOutput(); err != nil && log != nil {
			log.Debug("could not flush a DNS cache", "command", strings.Join(c, " "), "err", err, "output", strings.TrimSpace(string(out)))
		}
	}
}
