package tunnel

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// Split DNS on Windows is the Name Resolution Policy Table (NRPT): one
// registry key per rule, read by the DNS Client service (Dnscache). A rule
// sends every name under its namespaces (".cluster.local") to its servers and
// leaves every other name alone. This file is the pure part: rule values,
// batching, ownership, the Group-Policy decision, conflicts and sweeping,
// over a small registry interface (regStore) that Windows implements for
// real (dns_windows.go) and tests implement in memory.
//
// Rules as peers write them (tailscale net/dns/nrpt_windows.go, NetBird
// client/internal/dns/host_windows.go, Firezone dns_control/windows.rs):
// Version, Name (REG_MULTI_SZ, namespaces with a leading dot), GenericDNSServers
// (";"-separated), ConfigOptions 8 (use GenericDNSServers), at most 50 names
// a rule (more are ignored on some machines, netbirdio/netbird#4329).
const (
	nrptLocalBase  = `SYSTEM\CurrentControlSet\Services\Dnscache\Parameters\DnsPolicyConfig`
	nrptPolicyBase = `SOFTWARE\Policies\Microsoft\Windows NT\DNSClient\DnsPolicyConfig`
	nrptMaxNames   = 50
	// nrptGenericDNS is ConfigOptions' "GenericDNSServers is set".
	nrptGenericDNS = 8
	nrptVersion    = 2
	// nrptMarker starts the Comment of every rule ghostwire writes,
	// followed by the interface: it is how a rule is known to be ours.
	nrptMarker = "ghostwire:"
	// hklmPrefix prefixes the journal's registry paths.
	hklmPrefix = `HKLM\`
)

// Journal kinds of the Windows DNS setup. They are portable so that the
// journal logic around them is tested everywhere.
const (
	kindNRPT       = "nrpt"       // an NRPT rule key we wrote; Path is HKLM\...\{GUID}
	kindSearchList = "dns-search" // the search list on our adapter
)

// errRegNotFound is what a regStore returns for a key that does not exist.
var errRegNotFound = errors.New("registry key not found")

// regValues are a key's values: string (REG_SZ), []string (REG_MULTI_SZ)
// or uint32 (REG_DWORD).
type regValues map[string]any

// regStore is the part of HKEY_LOCAL_MACHINE the NRPT code uses. Paths are
// relative to HKLM.
type regStore interface {
	// subKeys lists a key's subkeys; errRegNotFound when it does not exist.
	subKeys(path string) ([]string, error)
	// values reads a key's values; errRegNotFound when it does not exist.
	values(path string) (regValues, error)
	// createKey makes a lasting key and its missing parents (no-op when it exists).
	createKey(path string) error
	// setVolatile creates the key as volatile (gone at reboot, so a power
	// loss cannot leave it behind; its parent must exist) and sets v.
	setVolatile(path string, v regValues) error
	// deleteKey removes a key without subkeys; nil when it does not exist.
	deleteKey(path string) error
}

// nrptNames turns split-DNS domains into NRPT namespaces: lower case, one
// leading dot (suffix match), no duplicates. A catch-all "." is refused:
// it would send every name on the machine to the cluster.
func nrptNames(domains []string) ([]string, error) {
	var out []string
	for _, d := range domains {
		n := normDomain(strings.TrimSpace(d))
		n = strings.Trim(n, ".")
		if n == "" {
			return nil, fmt.Errorf("the DNS domain %q would send every name to the cluster's DNS (a catch-all rule): ghostwire only sends the cluster's domains", d)
		}
		if n = "." + n; !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out, nil
}

// nrptBatches cuts names into rules of at most nrptMaxNames.
func nrptBatches(names []string) [][]string {
	var out [][]string
	for len(names) > 0 {
		n := min(len(names), nrptMaxNames)
		out = append(out, names[:n:n])
		names = names[n:]
	}
	return out
}

// nrptRuleValues are the values of one rule of ours, written by process
// pid for its tunnel iface.
func nrptRuleValues(iface string, pid int, names []string, servers []netip.Addr) regValues {
	ss := make([]string, len(servers))
	for i, s := range servers {
		ss[i] = s.Unmap().String()
	}
	return regValues{
		"Version":            uint32(nrptVersion),
		"Name":               slices.Clone(names),
		"GenericDNSServers":  strings.Join(ss, ";"),
		"ConfigOptions":      uint32(nrptGenericDNS),
		"IPSECCARestriction": "",
		"Comment":            fmt.Sprintf("%s%s pid %d: split DNS for the cluster; ghostwire removes it when the tunnel goes down", nrptMarker, iface, pid),
		"DisplayName":        "ghostwire " + iface,
	}
}

// nrptOwner reports the interface a rule of ours belongs to, and the
// process that wrote it (0 when the mark does not say).
func nrptOwner(v regValues) (iface string, pid int, ours bool) {
	c, _ := v["Comment"].(string)
	rest, ok := strings.CutPrefix(c, nrptMarker)
	if !ok {
		return "", 0, false
	}
	iface, rest, _ = strings.Cut(rest, " ")
	if n, ok := strings.CutPrefix(rest, "pid "); ok {
		n, _, _ = strings.Cut(n, ":")
		pid, _ = strconv.Atoi(n)
	}
	return iface, pid, iface != ""
}

// nrptRuleNames reads a rule's namespaces, whichever way another program
// wrote them (REG_MULTI_SZ as Windows does, or one REG_SZ with ";").
func nrptRuleNames(v regValues) []string {
	var raw []string
	switch n := v["Name"].(type) {
	case []string:
		raw = n
	case string:
		raw = strings.Split(n, ";")
	}
	var out []string
	for _, r := range raw {
		switch r = strings.ToLower(strings.TrimSpace(r)); r {
		case "":
		case ".":
			out = append(out, r)
		default:
			// An exact name ("a.b" without the dot) is compared as a
			// namespace: enough to see a clash, never too little.
			out = append(out, "."+strings.Trim(r, "."))
		}
	}
	return out
}

// nrptRule is a rule found in the registry.
type nrptRule struct {
	path    string // relative to HKLM
	names   []string
	servers string
	comment string
	owner   string // our interface; "" when not ours
	pid     int    // the process that wrote a rule of ours
	policy  bool   // under the Group Policy table
}

func (r nrptRule) String() string {
	where := "a local NRPT rule"
	if r.policy {
		where = "an NRPT rule set by Group Policy"
	}
	s := fmt.Sprintf("%s %s", where, r.path[strings.LastIndex(r.path, `\`)+1:])
	if r.comment != "" {
		s += fmt.Sprintf(" (%q)", r.comment)
	}
	if r.servers != "" {
		s += " to " + r.servers
	}
	return s
}

// nrptTable is the NRPT as the registry holds it, in both places Windows
// reads it from.
type nrptTable struct{ reg regStore }

// rules lists every rule in the local and the Group Policy tables.
func (tb nrptTable) rules() ([]nrptRule, error) {
	var out []nrptRule
	for _, base := range []string{nrptLocalBase, nrptPolicyBase} {
		keys, err := tb.reg.subKeys(base)
		if errors.Is(err, errRegNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("cannot read the DNS rules (NRPT) in HKLM\\%s: %w", base, err)
		}
		for _, k := range keys {
			p := base + `\` + k
			v, err := tb.reg.values(p)
			if errors.Is(err, errRegNotFound) {
				continue // removed meanwhile
			}
			if err != nil {
				return nil, fmt.Errorf("cannot read the DNS rule HKLM\\%s: %w", p, err)
			}
			r := nrptRule{path: p, names: nrptRuleNames(v), policy: base == nrptPolicyBase}
			r.servers, _ = v["GenericDNSServers"].(string)
			r.comment, _ = v["Comment"].(string)
			r.owner, r.pid, _ = nrptOwner(v)
			out = append(out, r)
		}
	}
	return out, nil
}

// policyActive reports whether Windows reads the NRPT from Group Policy:
// as soon as the policy table exists (even empty), the local rules are
// ignored (tailscale/tailscale#4607, netbirdio/docs#862). Then our rules go
// into both tables.
func (tb nrptTable) policyActive() (bool, error) {
	_, err := tb.reg.subKeys(nrptPolicyBase)
	if errors.Is(err, errRegNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("cannot read HKLM\\%s: %w", nrptPolicyBase, err)
	}
	return true, nil
}

// nrptConflict refuses names that another rule already sends elsewhere:
// Windows would pick one of the two rules, and names of one cluster would
// fail at random. Rules of ours for iface itself (a previous setup) and
// those inUse rejects (left by a crash; swept) are not in the way. A
// broader foreign rule (".local", or a catch-all ".") is not a clash: the
// more specific namespace wins in the NRPT.
func nrptConflict(rules []nrptRule, iface string, names []string, inUse func(nrptRule) bool) error {
	for _, r := range rules {
		if r.owner == iface || (r.owner != "" && !inUse(r)) {
			continue
		}
		for _, n := range names {
			if !slices.Contains(r.names, n) {
				continue
			}
			d := strings.TrimPrefix(n, ".")
			if r.owner != "" {
				return fmt.Errorf("the tunnel %s of another ghostwire profile already sends %s to its cluster's DNS (%s): "+
					"Windows sends one domain to one set of DNS servers, so two connected clusters cannot share it; "+
					"disconnect the other profile first (`ghostwire down --profile <name>`)", r.owner, d, r.servers)
			}
			if r.policy {
				return fmt.Errorf("%s already sends %s elsewhere, and Windows would use only one of the two rules: "+
					"ask your IT department to remove it from the Group Policy, or disconnect the VPN that set it", r, d)
			}
			return fmt.Errorf("%s already sends %s elsewhere (another VPN?), and Windows would use only one of the two rules: "+
				"disconnect that VPN, or remove the rule as an administrator (`Remove-DnsClientNrptRule -Name \"%s\"`) and connect again",
				r, d, r.path[strings.LastIndex(r.path, `\`)+1:])
		}
	}
	return nil
}

// apply writes iface's rules (process pid's), batches of nrptMaxNames,
// into the local table and, when Group Policy owns the NRPT, into the
// policy table as well. Each key's path (HKLM\...) goes to record before
// the key is written. It reports whether the policy table was written
// (Windows must then be told the policy changed).
func (tb nrptTable) apply(iface string, pid int, names []string, servers []netip.Addr, record func(path string) error) (policy bool, err error) {
	if len(names) == 0 || len(servers) == 0 {
		return false, nil
	}
	policy, err = tb.policyActive()
	if err != nil {
		return false, err
	}
	bases := []string{nrptLocalBase}
	if policy {
		bases = append(bases, nrptPolicyBase)
	}
	for _, base := range bases {
		if err := tb.reg.createKey(base); err != nil {
			return policy, fmt.Errorf("cannot create HKLM\\%s for the DNS rules: %w", base, err)
		}
		for i, batch := range nrptBatches(names) {
			p := base + `\` + nrptRuleKey(iface, i)
			if v, err := tb.reg.values(p); err == nil {
				if owner, _, ours := nrptOwner(v); !ours || owner != iface {
					return policy, fmt.Errorf("another program owns the DNS rule HKLM\\%s: not overwriting it", p)
				}
			}
			if err := record(hklmPrefix + p); err != nil {
				return policy, err
			}
			if err := tb.reg.setVolatile(p, nrptRuleValues(iface, pid, batch, servers)); err != nil {
				return policy, fmt.Errorf("cannot write the DNS rule HKLM\\%s: %w", p, err)
			}
		}
	}
	return policy, nil
}

// removeOurs deletes the rule at a journal path (HKLM\...) when it is ours.
// A path outside the two NRPT tables, or a rule without our mark, is left
// alone: a journal never makes ghostwire delete what it did not write.
func (tb nrptTable) removeOurs(journalPath string) error {
	p, ok := strings.CutPrefix(journalPath, hklmPrefix)
	parent := p[:max(strings.LastIndex(p, `\`), 0)]
	if !ok || (parent != nrptLocalBase && parent != nrptPolicyBase) || strings.ContainsAny(p[len(parent)+1:], `\/`) {
		return fmt.Errorf("the journal names %q, which is not an NRPT rule: leaving it alone", journalPath)
	}
	v, err := tb.reg.values(p)
	if errors.Is(err, errRegNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if _, _, ours := nrptOwner(v); !ours {
		return nil
	}
	return tb.reg.deleteKey(p)
}

// sweep removes our rules that keep rejects, from both tables: what a
// crashed, killed or powered-off session left, found by its mark even when
// its journal is gone. It returns what it removed.
func (tb nrptTable) sweep(keep func(nrptRule) bool) ([]nrptRule, error) {
	rules, err := tb.rules()
	if err != nil {
		return nil, err
	}
	var removed []nrptRule
	var errs []error
	for _, r := range rules {
		if r.owner == "" || keep(r) {
			continue
		}
		if err := tb.reg.deleteKey(r.path); err != nil {
			errs = append(errs, fmt.Errorf("cannot remove the stale DNS rule HKLM\\%s: %w", r.path, err))
			continue
		}
		removed = append(removed, r)
	}
	return removed, errors.Join(errs...)
}

// dnsProbeName is a name every Kubernetes cluster serves, in the cluster's
// domain: kubernetes.default.svc.<domain>. "" when the domains do not say
// which the cluster domain is.
func dnsProbeName(d domains) string {
	for _, x := range d.all() {
		if strings.HasPrefix(x, "svc.") {
			return "kubernetes.default." + x
		}
	}
	for _, x := range d.match {
		return "kubernetes.default.svc." + x
	}
	return ""
}
