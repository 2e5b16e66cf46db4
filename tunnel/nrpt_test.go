package tunnel

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/uuid"
)

// memReg is a regStore in memory: keys by path (relative to HKLM), with
// their values and whether they are volatile. It stands in for the Windows
// registry on Linux; the same code runs against the real one under Wine
// (nrpt_windows_test.go).
type memReg struct {
	keys     map[string]regValues
	volatile map[string]bool
	fail     string // a path whose writes fail
}

func newMemReg() *memReg { return &memReg{keys: map[string]regValues{}, volatile: map[string]bool{}} }

func (m *memReg) subKeys(path string) ([]string, error) {
	if _, ok := m.keys[path]; !ok {
		return nil, errRegNotFound
	}
	var out []string
	for k := range m.keys {
		if rest, ok := strings.CutPrefix(k, path+`\`); ok && !strings.Contains(rest, `\`) {
			out = append(out, rest)
		}
	}
	sort.Strings(out)
	return out, nil
}

func (m *memReg) values(path string) (regValues, error) {
	v, ok := m.keys[path]
	if !ok {
		return nil, errRegNotFound
	}
	return v, nil
}

func (m *memReg) createKey(path string) error {
	parts := strings.Split(path, `\`)
	for i := range parts {
		p := strings.Join(parts[:i+1], `\`)
		if _, ok := m.keys[p]; !ok {
			m.keys[p] = regValues{}
		}
	}
	return nil
}

func (m *memReg) setVolatile(path string, v regValues) error {
	if path == m.fail {
		return errors.New("access denied")
	}
	if _, ok := m.keys[path[:strings.LastIndex(path, `\`)]]; !ok {
		return errRegNotFound
	}
	m.keys[path] = v
	m.volatile[path] = true
	return nil
}

func (m *memReg) deleteKey(path string) error {
	if sub, _ := m.subKeys(path); len(sub) > 0 {
		return errors.New("key has subkeys")
	}
	delete(m.keys, path)
	return nil
}

// foreign adds a rule another program wrote.
func (m *memReg) foreign(base, key string, names []string, servers string) {
	_ = m.createKey(base)
	m.keys[base+`\`+key] = regValues{"Name": names, "GenericDNSServers": servers, "ConfigOptions": uint32(8), "Version": uint32(1)}
}

func TestNRPTNames(t *testing.T) {
	got, err := nrptNames([]string{"Monitoring.svc.Cluster.Local.", "svc.cluster.local", "~cluster.local", "monitoring.svc.cluster.local"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{".monitoring.svc.cluster.local", ".svc.cluster.local", ".cluster.local"}
	if !slices.Equal(got, want) {
		t.Fatalf("nrptNames = %v, want %v", got, want)
	}
	for _, bad := range []string{".", "~.", ""} {
		if _, err := nrptNames([]string{"cluster.local", bad}); err == nil || !strings.Contains(err.Error(), "catch-all") {
			t.Errorf("nrptNames accepted %q as a domain: %v", bad, err)
		}
	}
}

func TestNRPTBatchesAndValues(t *testing.T) {
	var names []string
	for i := range 120 {
		names = append(names, fmt.Sprintf(".ns%d.svc.cluster.local", i))
	}
	b := nrptBatches(names)
	if len(b) != 3 || len(b[0]) != 50 || len(b[1]) != 50 || len(b[2]) != 20 || b[2][19] != names[119] {
		t.Fatalf("batches of %d, %d, %d... want 50, 50, 20", len(b[0]), len(b[1]), len(b[2]))
	}
	if nrptBatches(nil) != nil {
		t.Fatal("no names, no rule")
	}
	v := nrptRuleValues("gw0", 4242, []string{".cluster.local"}, []netip.Addr{netip.MustParseAddr("10.96.0.10"), netip.MustParseAddr("::ffff:10.96.0.11")})
	if v["GenericDNSServers"] != "10.96.0.10;10.96.0.11" || v["ConfigOptions"] != uint32(8) || v["Version"] != uint32(2) ||
		!slices.Equal(v["Name"].([]string), []string{".cluster.local"}) {
		t.Fatalf("rule values: %v", v)
	}
	if iface, pid, ours := nrptOwner(v); !ours || iface != "gw0" || pid != 4242 {
		t.Fatalf("our own rule not recognised: %q %d %v", iface, pid, ours)
	}
	if _, _, ours := nrptOwner(regValues{"Comment": "Tailscale rule"}); ours {
		t.Fatal("a foreign rule taken for ours")
	}
	if _, _, ours := nrptOwner(regValues{"Comment": nrptMarker}); ours {
		t.Fatal("a mark without an interface taken for ours")
	}
	if iface, pid, ours := nrptOwner(regValues{"Comment": nrptMarker + "gw3 from an older version"}); !ours || iface != "gw3" || pid != 0 {
		t.Fatalf("a mark without a pid: %q %d %v", iface, pid, ours)
	}
	// Rule keys are fixed per interface and batch, distinct, and in Windows' {GUID} form.
	k0, k1, other := nrptRuleKey("gw0", 0), nrptRuleKey("gw0", 1), nrptRuleKey("gw1", 0)
	if k0 != nrptRuleKey("GW0", 0) || k0 == k1 || k0 == other || len(k0) != 38 || k0[0] != '{' || k0 != strings.ToUpper(k0) {
		t.Fatalf("rule keys %s %s %s", k0, k1, other)
	}
	if adapterGUID("gw0") != adapterGUID("gw0") || adapterGUID("gw0") == adapterGUID("gw1") {
		t.Fatal("the adapter GUID must be constant per interface and differ between interfaces")
	}
	if g := adapterGUID("gw0"); g.Version() != 5 || g == nrptRuleUUID("gw0") {
		t.Fatalf("adapter GUID %s", g)
	}
}

func TestNRPTRuleNamesOfOthers(t *testing.T) {
	for _, tc := range []struct {
		v    any
		want []string
	}{
		{[]string{".Cluster.Local", "corp.example."}, []string{".cluster.local", ".corp.example"}},
		{".a.example;.b.example", []string{".a.example", ".b.example"}},
		{[]string{"."}, []string{"."}},
		{nil, nil},
	} {
		if got := nrptRuleNames(regValues{"Name": tc.v}); !slices.Equal(got, tc.want) {
			t.Errorf("names of %v = %v, want %v", tc.v, got, tc.want)
		}
	}
}

var servers = []netip.Addr{netip.MustParseAddr("10.96.0.10")}

func TestNRPTApplyLocalAndRemove(t *testing.T) {
	reg := newMemReg()
	reg.foreign(nrptLocalBase, "{FOREIGN-1}", []string{".corp.example"}, "192.168.1.1")
	tb := nrptTable{reg: reg}
	names, _ := nrptNames([]string{"monitoring.svc.cluster.local", "svc.cluster.local", "cluster.local"})
	var journal []string
	policy, err := tb.apply("gw0", 1, names, servers, func(p string) error { journal = append(journal, p); return nil })
	if err != nil || policy {
		t.Fatalf("apply: policy %v, %v", policy, err)
	}
	want := hklmPrefix + nrptLocalBase + `\` + nrptRuleKey("gw0", 0)
	if !slices.Equal(journal, []string{want}) {
		t.Fatalf("journaled %v, want %v", journal, want)
	}
	p := strings.TrimPrefix(want, hklmPrefix)
	if !reg.volatile[p] || !slices.Equal(reg.keys[p]["Name"].([]string), names) {
		t.Fatalf("rule not written volatile with the names: %v", reg.keys[p])
	}
	if _, err := reg.values(nrptPolicyBase); err == nil {
		t.Fatal("the Group Policy table was created: its mere existence makes Windows ignore every local rule")
	}
	// Writing again (reconfigure) replaces our own rule.
	if _, err := tb.apply("gw0", 1, names[:1], servers, func(string) error { return nil }); err != nil {
		t.Fatal(err)
	}
	// Undo removes ours only; a journal naming a foreign rule or a key
	// outside the NRPT changes nothing.
	for _, bad := range []string{hklmPrefix + nrptLocalBase + `\{FOREIGN-1}`} {
		if err := tb.removeOurs(bad); err != nil {
			t.Fatal(err)
		}
	}
	for _, bad := range []string{hklmPrefix + `SYSTEM\CurrentControlSet\Services\Tcpip`, `SYSTEM\x`, hklmPrefix + nrptLocalBase, hklmPrefix + nrptLocalBase + `\a\b`} {
		if err := tb.removeOurs(bad); err == nil {
			t.Errorf("removeOurs(%q) accepted a path outside the NRPT", bad)
		}
	}
	if _, ok := reg.keys[nrptLocalBase+`\{FOREIGN-1}`]; !ok {
		t.Fatal("a foreign rule was removed")
	}
	if err := tb.removeOurs(want); err != nil {
		t.Fatal(err)
	}
	if _, ok := reg.keys[p]; ok {
		t.Fatal("our rule is still there")
	}
	if err := tb.removeOurs(want); err != nil {
		t.Fatalf("undo must succeed when the rule is already gone: %v", err)
	}
}

func TestNRPTGroupPolicy(t *testing.T) {
	reg := newMemReg()
	// A GPO-managed NRPT, even an empty table, makes Windows read only the policy rules.
	_ = reg.createKey(nrptPolicyBase)
	tb := nrptTable{reg: reg}
	var journal []string
	names, _ := nrptNames([]string{"cluster.local"})
	policy, err := tb.apply("gw3", 1, names, servers, func(p string) error { journal = append(journal, p); return nil })
	if err != nil || !policy {
		t.Fatalf("apply: policy %v, %v", policy, err)
	}
	if len(journal) != 2 || !strings.Contains(journal[0], nrptLocalBase) || !strings.Contains(journal[1], nrptPolicyBase) {
		t.Fatalf("want one rule in each table, journaled: %v", journal)
	}
	for _, j := range journal {
		if err := tb.removeOurs(j); err != nil {
			t.Fatal(err)
		}
	}
	if sub, err := reg.subKeys(nrptPolicyBase); err != nil || len(sub) != 0 {
		t.Fatalf("policy table after undo: %v %v (the table itself is the GPO's and stays)", sub, err)
	}
	// A failing write stops at once, after journaling what it tried.
	reg.fail = nrptPolicyBase + `\` + nrptRuleKey("gw3", 0)
	journal = nil
	if _, err := tb.apply("gw3", 1, names, servers, func(p string) error { journal = append(journal, p); return nil }); err == nil || len(journal) != 2 {
		t.Fatalf("a failed write: %v, journal %v", err, journal)
	}
}

func TestNRPTConflicts(t *testing.T) {
	live := func(r nrptRule) bool { return r.owner == "gw1" }
	names, _ := nrptNames([]string{"svc.cluster.local", "cluster.local"})
	reg := newMemReg()
	tb := nrptTable{reg: reg}
	check := func() error {
		rs, err := tb.rules()
		if err != nil {
			t.Fatal(err)
		}
		return nrptConflict(rs, "gw0", names, live)
	}
	// A broader rule of someone else, and a catch-all, are not in the way.
	reg.foreign(nrptLocalBase, "{BROAD}", []string{".local", "."}, "192.168.1.1")
	if err := check(); err != nil {
		t.Fatalf("a broader rule is no clash: %v", err)
	}
	// Our own rules of a tunnel that is not up are leftovers, not a clash.
	_ = reg.setVolatile(nrptLocalBase+`\`+nrptRuleKey("gw7", 0), nrptRuleValues("gw7", 1, names, servers))
	if err := check(); err != nil {
		t.Fatalf("a stale rule of ours is no clash: %v", err)
	}
	// Another connected profile on cluster.local: refused, naming it.
	_ = reg.setVolatile(nrptLocalBase+`\`+nrptRuleKey("gw1", 0), nrptRuleValues("gw1", 1, []string{".cluster.local"}, servers))
	if err := check(); err == nil || !strings.Contains(err.Error(), "gw1") || !strings.Contains(err.Error(), "cluster.local") {
		t.Fatalf("two profiles on cluster.local: %v", err)
	}
	delete(reg.keys, nrptLocalBase+`\`+nrptRuleKey("gw1", 0))
	// Another product's rule for cluster.local: refused, saying how to remove it.
	reg.foreign(nrptLocalBase, "{OTHER-VPN}", []string{".cluster.local"}, "10.0.0.10")
	if err := check(); err == nil || !strings.Contains(err.Error(), "Remove-DnsClientNrptRule") || !strings.Contains(err.Error(), "{OTHER-VPN}") {
		t.Fatalf("a foreign rule for cluster.local: %v", err)
	}
	delete(reg.keys, nrptLocalBase+`\{OTHER-VPN}`)
	reg.foreign(nrptPolicyBase, "{GPO}", []string{".svc.cluster.local"}, "10.0.0.10")
	if err := check(); err == nil || !strings.Contains(err.Error(), "Group Policy") {
		t.Fatalf("a policy rule for svc.cluster.local: %v", err)
	}
	// apply never overwrites a key at our name that is not ours.
	reg.foreign(nrptLocalBase, nrptRuleKey("gw0", 0), []string{".x"}, "1.1.1.1")
	if _, err := tb.apply("gw0", 1, names, servers, func(string) error { return nil }); err == nil || !strings.Contains(err.Error(), "another program") {
		t.Fatalf("a foreign key at our name: %v", err)
	}
}

func TestNRPTSweep(t *testing.T) {
	reg := newMemReg()
	tb := nrptTable{reg: reg}
	names, _ := nrptNames([]string{"cluster.local"})
	for _, i := range []string{"gw0", "gw1"} {
		if _, err := tb.apply(i, 1, names, servers, func(string) error { return nil }); err != nil {
			t.Fatal(err)
		}
	}
	_ = reg.createKey(nrptPolicyBase)
	_ = reg.setVolatile(nrptPolicyBase+`\`+nrptRuleKey("gw0", 0), nrptRuleValues("gw0", 1, names, servers))
	reg.foreign(nrptLocalBase, "{FOREIGN}", []string{".corp.example"}, "192.168.1.1")
	removed, err := tb.sweep(func(r nrptRule) bool { return r.owner == "gw1" })
	if err != nil {
		t.Fatal(err)
	}
	if len(removed) != 2 || removed[0].owner != "gw0" || removed[1].owner != "gw0" || !removed[1].policy {
		t.Fatalf("swept %v, want gw0's rule in both tables", removed)
	}
	rs, _ := tb.rules()
	var left []string
	for _, r := range rs {
		left = append(left, r.owner+r.path[strings.LastIndex(r.path, `\`):])
	}
	if !slices.Equal(left, []string{`gw1\` + nrptRuleKey("gw1", 0), `\{FOREIGN}`}) {
		t.Fatalf("left after the sweep: %v", left)
	}
}

// nrptRuleUUID is the rule key of gw0's first batch as a UUID, to tell it from the adapter's.
func nrptRuleUUID(iface string) uuid.UUID {
	return uuid.MustParse(strings.Trim(nrptRuleKey(iface, 0), "{}"))
}

func TestDNSProbeName(t *testing.T) {
	for _, tc := range []struct {
		d    DNS
		want string
	}{
		{DNS{Search: []string{"monitoring.svc.cluster.local", "svc.cluster.local"}, Match: []string{"cluster.local"}}, "kubernetes.default.svc.cluster.local"},
		{DNS{Match: []string{"k8s.internal"}}, "kubernetes.default.svc.k8s.internal"},
		{DNS{}, ""},
	} {
		if got := dnsProbeName(splitDomains(tc.d)); got != tc.want {
			t.Errorf("probe for %+v = %q, want %q", tc.d, got, tc.want)
		}
	}
}
