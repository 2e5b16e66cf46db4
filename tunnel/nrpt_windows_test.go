package tunnel

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/registry"

	"github.com/ghostwire/ghostwire/internal/wintest"
)

// These tests run the Windows code against the real registry: under Wine
// in `make test-windows` (a private WINEPREFIX), and on the hosted Windows
// runner. They write only keys under our own names or test names that they
// remove. What Wine cannot do (wintun, the IP Helper setters, DNS
// behaviour) is tested by TestDesktopSystem on a real Windows.

// noDNSVerify: the NRPT tests bring no tunnel up, and the check lookup
// would only ask the machine's own DNS for a cluster name.
// TestDesktopSystem runs it for real.
func noDNSVerify(t *testing.T) {
	old := dnsVerify
	dnsVerify = func(string, string, *slog.Logger) {}
	t.Cleanup(func() { dnsVerify = old })
}

// foreignRule writes a rule as another VPN would (non-volatile, no mark)
// and removes it at the end.
func foreignRule(t *testing.T, base, key string, names ...string) string {
	t.Helper()
	p := base + `\` + key
	k, _, err := registry.CreateKey(registry.LOCAL_MACHINE, p, registry.SET_VALUE|registry.WOW64_64KEY)
	if err != nil {
		t.Fatalf("cannot write a test rule in HKLM (run as Administrator): %v", err)
	}
	defer k.Close()
	if err := k.SetStringsValue("Name", names); err != nil {
		t.Fatal(err)
	}
	_ = k.SetStringValue("GenericDNSServers", "192.0.2.53")
	_ = k.SetDWordValue("ConfigOptions", 8)
	_ = k.SetDWordValue("Version", 2)
	_ = k.SetStringValue("Comment", "a rule of another product")
	t.Cleanup(func() { _ = registry.DeleteKey(registry.LOCAL_MACHINE, p) })
	return p
}

// ourRules lists the rules of ours in the registry, by interface.
func ourRules(t *testing.T, iface string) []nrptRule {
	t.Helper()
	rs, err := nrptTable{reg: hklm{}}.rules()
	if err != nil {
		t.Fatal(err)
	}
	return slices.DeleteFunc(rs, func(r nrptRule) bool { return r.owner != iface })
}

// nrptTunnel is a Tunnel with only what applyOSDNS and Close's DNS part
// use: a name and a journal (no adapter under Wine, so no search list).
func nrptTunnel(t *testing.T, iface, dir string) *Tunnel {
	t.Helper()
	noDNSVerify(t)
	j, err := newJournal(dir, iface)
	if err != nil {
		t.Fatal(err)
	}
	return &Tunnel{name: iface, j: j, log: testLog(t)}
}

func manyDomains(n int) []string {
	var ds []string
	for i := range n {
		ds = append(ds, fmt.Sprintf("ns%d.svc.cluster.local", i))
	}
	return append(ds, "svc.cluster.local", "cluster.local")
}

func TestWindowsNRPTWriteAndUndo(t *testing.T) {
	foreign := foreignRule(t, nrptLocalBase, "{0C0FFEE0-0000-4000-8000-00000000F0F0}", ".corp.example")
	dir := wintest.TempDir(t)
	const iface = "gwtw0"
	tn := nrptTunnel(t, iface, dir)
	cfg := Config{DNS: DNS{Servers: []netip.Addr{netip.MustParseAddr("10.96.0.10")}}}
	d := domains{match: manyDomains(60)} // 62 names: two rules
	if err := tn.applyOSDNS(t.Context(), cfg, DNSNRPT, d); err != nil {
		t.Fatal(err)
	}
	rs := ourRules(t, iface)
	if len(rs) != 2 || len(rs[0].names)+len(rs[1].names) != 62 || rs[0].servers != "10.96.0.10" {
		t.Fatalf("want 2 rules holding 62 names to 10.96.0.10, got %+v", rs)
	}
	for _, r := range rs {
		if len(r.names) > nrptMaxNames || r.policy {
			t.Fatalf("rule %s: %d names, policy %v", r.path, len(r.names), r.policy)
		}
		// A volatile key refuses lasting subkeys: that is how Windows
		// tells whether a key survives a reboot.
		k, _, err := registry.CreateKey(registry.LOCAL_MACHINE, r.path+`\probe`, registry.SET_VALUE|registry.WOW64_64KEY)
		if err == nil {
			k.Close()
			_ = registry.DeleteKey(registry.LOCAL_MACHINE, r.path+`\probe`)
			t.Errorf("rule %s is not volatile: a power loss would leave it behind", r.path)
		} else if !errors.Is(err, windows.Errno(1021)) { // ERROR_CHILD_MUST_BE_VOLATILE
			t.Logf("volatility of %s not checked: %v", r.path, err)
		}
	}
	var kinds []string
	for _, e := range tn.j.Entries {
		kinds = append(kinds, e.Kind)
	}
	if !slices.Equal(kinds, []string{kindNRPT, kindNRPT}) {
		t.Fatalf("journal kinds %v, want two NRPT entries written before the keys", kinds)
	}
	if err := tn.undoDNS(); err != nil {
		t.Fatal(err)
	}
	if rs := ourRules(t, iface); len(rs) != 0 {
		t.Fatalf("after undo: %v", rs)
	}
	if _, err := (hklm{}).values(foreign); err != nil {
		t.Fatalf("the foreign rule was touched: %v", err)
	}
	if err := tn.j.remove(); err != nil {
		t.Fatal(err)
	}
}

// Another product's rule for cluster.local, or a second profile on it:
// a clear error, and nothing of ours left once the failed Up rolls back.
func TestWindowsNRPTConflicts(t *testing.T) {
	dir := wintest.TempDir(t)
	cfg := Config{DNS: DNS{Servers: []netip.Addr{netip.MustParseAddr("10.96.0.10")}}}
	d := domains{search: []string{}, match: []string{"svc.cluster.local", "cluster.local"}}

	other := foreignRule(t, nrptLocalBase, "{0C0FFEE0-0000-4000-8000-00000000C1C1}", ".cluster.local")
	tn := nrptTunnel(t, "gwtw1", dir)
	err := tn.applyOSDNS(t.Context(), cfg, DNSNRPT, d)
	if err == nil || !strings.Contains(err.Error(), "Remove-DnsClientNrptRule") {
		t.Fatalf("another product's rule for cluster.local: %v", err)
	}
	t.Log(err)
	if err := tn.j.rollback(func(e entry) error { return undoEntry(e, nil, errors.New("no ops"), nil, testLog(t)) }, testLog(t)); err != nil {
		t.Fatal(err)
	}
	if rs := ourRules(t, "gwtw1"); len(rs) != 0 {
		t.Fatalf("left behind: %v", rs)
	}
	_ = registry.DeleteKey(registry.LOCAL_MACHINE, other)

	// Two profiles of this process on cluster.local.
	first := nrptTunnel(t, "gwtw2", dir)
	if err := claimInterface("gwtw2"); err != nil {
		t.Fatal(err)
	}
	defer releaseInterface("gwtw2")
	if err := first.applyOSDNS(t.Context(), cfg, DNSNRPT, d); err != nil {
		t.Fatal(err)
	}
	defer first.undoDNS()
	second := nrptTunnel(t, "gwtw3", dir)
	err = second.applyOSDNS(t.Context(), cfg, DNSNRPT, d)
	if err == nil || !strings.Contains(err.Error(), "gwtw2") {
		t.Fatalf("a second profile on cluster.local: %v", err)
	}
	t.Log(err)
	if rs := ourRules(t, "gwtw3"); len(rs) != 0 {
		t.Fatalf("the refused profile wrote rules: %v", rs)
	}
	if rs := ourRules(t, "gwtw2"); len(rs) != 1 {
		t.Fatalf("the first profile's rule is gone: %v", rs)
	}
}

// A Group Policy NRPT table makes Windows ignore local rules: ours go to
// both tables, and both are removed.
func TestWindowsNRPTGroupPolicy(t *testing.T) {
	if _, err := (hklm{}).subKeys(nrptPolicyBase); err == nil {
		t.Skip("this machine has a Group Policy NRPT table of its own; not touching it")
	}
	if err := (hklm{}).createKey(nrptPolicyBase); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = registry.DeleteKey(registry.LOCAL_MACHINE, nrptPolicyBase) })
	foreignRule(t, nrptPolicyBase, "{0C0FFEE0-0000-4000-8000-00000000B0B0}", ".corp.example")
	tn := nrptTunnel(t, "gwtw4", wintest.TempDir(t))
	cfg := Config{DNS: DNS{Servers: []netip.Addr{netip.MustParseAddr("10.96.0.10")}}}
	if err := tn.applyOSDNS(t.Context(), cfg, DNSNRPT, domains{match: []string{"cluster.local"}}); err != nil {
		t.Fatal(err)
	}
	rs := ourRules(t, "gwtw4")
	if len(rs) != 2 || rs[0].policy == rs[1].policy {
		t.Fatalf("want our rule in the local and the policy table: %+v", rs)
	}
	if err := tn.undoDNS(); err != nil {
		t.Fatal(err)
	}
	if rs := ourRules(t, "gwtw4"); len(rs) != 0 {
		t.Fatalf("after undo: %v", rs)
	}
	_ = tn.j.remove()
}

// The process holding the rules is killed (TerminateProcess: nothing of
// it runs). Recover at the next start removes its rules from the journal;
// a second holder whose journal is lost too is found by the mark. Foreign
// rules stay.
func TestWindowsNRPTRecoverAfterKill(t *testing.T) {
	if iface := os.Getenv("GWT_NRPT_HOLDER"); iface != "" {
		tn := nrptTunnel(t, iface, os.Getenv("GWT_JOURNAL"))
		cfg := Config{DNS: DNS{Servers: []netip.Addr{netip.MustParseAddr("10.96.0.10")}}}
		if err := tn.applyOSDNS(t.Context(), cfg, DNSNRPT, domains{match: []string{iface + ".example"}}); err != nil {
			t.Fatal(err)
		}
		fmt.Println("GWT-UP:" + iface)
		holdUntilParentEnds()
	}
	foreign := foreignRule(t, nrptLocalBase, "{0C0FFEE0-0000-4000-8000-00000000D0D0}", ".corp.example")
	dir := wintest.TempDir(t)
	hold := func(iface string) *exec.Cmd {
		exe, _ := os.Executable()
		cmd := exec.Command(exe, "-test.run=^TestWindowsNRPTRecoverAfterKill$", "-test.v")
		cmd.Env = append(os.Environ(), "GWT_NRPT_HOLDER="+iface, "GWT_JOURNAL="+dir)
		out, _ := cmd.StdoutPipe()
		if _, err := cmd.StdinPipe(); err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = testWriter{t}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		waitHolder(t, out) // the holder says GWT-UP once its rules are written
		return cmd
	}
	a, b := hold("gwtw5"), hold("gwtw6")
	// While their processes run, the sweep without journal leaves their
	// rules alone: they are not leftovers.
	if err := sweepNRPT(testLog(t)); err != nil {
		t.Fatal(err)
	}
	if len(ourRules(t, "gwtw5")) != 1 || len(ourRules(t, "gwtw6")) != 1 {
		t.Fatal("the sweep removed the rules of processes that still run")
	}
	for _, c := range []*exec.Cmd{a, b} {
		if err := c.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		_ = c.Wait()
	}
	if len(ourRules(t, "gwtw5")) != 1 || len(ourRules(t, "gwtw6")) != 1 {
		t.Fatal("the killed holders' rules should still be there before Recover")
	}
	// gwtw6's journal is lost as well (a wiped state directory).
	if err := os.Remove(journalPath(dir, "gwtw6")); err != nil {
		t.Fatal(err)
	}
	if err := Recover(dir, testLog(t)); err != nil {
		t.Fatalf("Recover: %v", err)
	}
	for _, i := range []string{"gwtw5", "gwtw6"} {
		if rs := ourRules(t, i); len(rs) != 0 {
			t.Errorf("rules of the killed %s left after Recover: %v", i, rs)
		}
	}
	if _, err := (hklm{}).values(foreign); err != nil {
		t.Fatalf("Recover touched a foreign rule: %v", err)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Fatalf("journal left after Recover: %v", left)
	}
}

// Up fails before changing anything when the tunnel cannot work here, and
// says why in words a person can act on.
func TestWindowsUpPreflight(t *testing.T) {
	err := checkWintun()
	exe, _ := os.Executable()
	if _, serr := os.Stat(filepath.Join(filepath.Dir(exe), "wintun.dll")); serr == nil {
		t.Skip("wintun.dll sits beside the test binary: the missing-DLL message is not reachable here")
	}
	if err == nil {
		t.Skip("wintun.dll is installed in System32 on this machine")
	}
	for _, want := range []string{"wintun.dll is missing", filepath.Dir(exe), filepath.Base(exe), "wintun 0.14.1"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error does not say %q: %v", want, err)
		}
	}
	cfg := validConfig()
	cfg.JournalDir = wintest.TempDir(t)
	_, err = Up(t.Context(), cfg, testLog(t))
	if err == nil || !(strings.Contains(err.Error(), "wintun.dll is missing") || errors.Is(err, errNotElevated)) {
		t.Fatalf("Up without wintun.dll: %v", err)
	}
	t.Log(err)
	if left, _ := os.ReadDir(cfg.JournalDir); len(left) != 0 {
		t.Fatalf("a refused Up left a journal: %v", left)
	}
	if liveInterface(cfg.Interface) {
		t.Fatal("a refused Up kept its interface name claimed")
	}
}

// Not an administrator: Up refuses before anything changes, saying how to
// get the rights.
func TestWindowsUpNotElevated(t *testing.T) {
	cfg := validConfig()
	cfg.JournalDir = wintest.TempDir(t)
	var err error
	wintest.AsPlainUser(t, func() { _, err = Up(t.Context(), cfg, testLog(t)) })
	if !errors.Is(err, errNotElevated) || !strings.Contains(err.Error(), "ghostwire daemon install") {
		t.Fatalf("Up without Administrator rights: %v", err)
	}
	if left, _ := os.ReadDir(cfg.JournalDir); len(left) != 0 || liveInterface(cfg.Interface) {
		t.Fatalf("a refused Up left something: %v", left)
	}
	if err := checkElevated(); err != nil {
		t.Fatalf("this test runs as Administrator: %v", err)
	}
}
