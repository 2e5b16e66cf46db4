package forward

import (
	"net/netip"
	"os/exec"
	"strings"
	"testing"

	"github.com/ghostwire/ghostwire/internal/testenv"
	"github.com/ghostwire/ghostwire/server/internal/nstest"
)

// Rules in a namespace of our own: installed, readable by nft, forwarding
// status follows the sysctl, and everything gone after Remove.
func TestRulesInNamespace(t *testing.T) {
	testenv.RequireSystem(t, "nft")
	ns, _ := nstest.Pair(t, "10.201.2.1/30", "10.201.2.2/30")
	nstest.Run(t, "ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv4.ip_forward=0")
	r, err := Install(Options{Interface: "gwst0", Pool: netip.MustParsePrefix("100.81.2.0/24"),
		Routes: []netip.Prefix{netip.MustParsePrefix("10.201.2.0/30")}, DNSServers: []netip.Addr{netip.MustParseAddr("10.201.9.10")},
		Masquerade: true, NetNS: ns})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Remove()
	if err := r.Status(); err != nil {
		t.Fatalf("forwarding not turned on: %v", err)
	}
	out := nstest.Run(t, "ip", "netns", "exec", ns, "nft", "list", "table", "inet", TableName)
	for _, want := range []string{
		`iifname "gwst0" oifname "gwst0" drop`,
		`iifname "gwst0" ip daddr 10.201.2.0/30 accept`,
		`iifname "gwst0" ip daddr 10.201.9.10 accept`,
		`iifname "gwst0" drop`,
		`oifname "gwst0" ct state established,related accept`,
		`oifname "gwst0" drop`,
		`ip saddr 100.81.2.0/24 oifname != "gwst0" masquerade`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("ruleset lacks %q:\n%s", want, out)
		}
	}
	// Installing again replaces, never duplicates.
	r2, err := Install(Options{Interface: "gwst0", Pool: netip.MustParsePrefix("100.81.2.0/24"), NetNS: ns})
	if err != nil {
		t.Fatal(err)
	}
	out = nstest.Run(t, "ip", "netns", "exec", ns, "nft", "list", "table", "inet", TableName)
	if strings.Count(out, "\toifname \"gwst0\" drop") != 1 || strings.Contains(out, "masquerade") {
		t.Fatalf("second install did not replace the table:\n%s", out)
	}
	nstest.Run(t, "ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv4.ip_forward=0")
	if err := r2.Status(); err != ErrForwardingOff {
		t.Fatalf("status with forwarding off: %v", err)
	}
	if err := r2.Remove(); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("ip", "netns", "exec", ns, "nft", "list", "table", "inet", TableName).CombinedOutput(); err == nil {
		t.Fatalf("table left behind:\n%s", out)
	}
}
