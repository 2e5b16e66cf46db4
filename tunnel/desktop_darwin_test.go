package tunnel

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/ghostwire/ghostwire/internal/wgpeer"
)

// The macOS host of the desktop scenario runs on the machine itself: a real
// utun, real routes and real dynamic-store DNS keys. That changes the
// machine's network, so it runs only where asked (GHOSTWIRE_DESKTOP_SYSTEM=1)
// and as root: the hosted runner of .github/workflows/desktop.yml.
func desktopRun(t *testing.T, f func(*testing.T, desktopHost)) {
	if os.Getenv(desktopEnv) != "1" {
		t.Skipf("the macOS desktop scenario changes this Mac's routes and DNS: it runs only with %s=1 as root (the hosted CI runner)", desktopEnv)
	}
	if os.Geteuid() != 0 {
		t.Skip("the macOS desktop scenario needs root (a utun, routes, DNS settings): run the test binary with sudo")
	}
	f(t, desktopHostFor(t))
}

func desktopHostFor(t *testing.T) desktopHost {
	return desktopHost{
		iface:     "gwtd0",
		dnsMode:   DNSScutil,
		routed:    macRouted,
		leftovers: macLeftovers,
		connected: macConnected,
	}
}

// macRouted asks route(8), not our own code, which interface p's addresses
// leave through.
func macRouted(t *testing.T, iface string, p netip.Prefix) bool {
	out, err := exec.Command("/sbin/route", "-n", "get", p.Addr().Next().String()).CombinedOutput()
	if err != nil {
		return false // no route at all
	}
	for _, l := range strings.Split(string(out), "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(l), ":"); ok && k == "interface" {
			return strings.TrimSpace(v) == iface
		}
	}
	return false
}

// macConnected checks what a person on a Mac uses: the system resolver
// through dscacheutil (dig and nslookup bypass the scoped resolvers) for
// the short name, and curl for the service.
func macConnected(t *testing.T, iface string) {
	dns, _ := exec.Command("/usr/sbin/scutil", "--dns").CombinedOutput()
	t.Logf("scutil --dns while connected:\n%s", dns)
	deadline := time.Now().Add(15 * time.Second)
	var out []byte
	for {
		out, _ = exec.Command("/usr/bin/dscacheutil", "-q", "host", "-a", "name", wgpeer.Service).CombinedOutput()
		if strings.Contains(string(out), "ip_address: "+wgpeer.ServiceAddr.String()) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("dscacheutil -q host -a name %s does not give %s:\n%s", wgpeer.Service, wgpeer.ServiceAddr, out)
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Logf("dscacheutil -q host -a name %s:\n%s", wgpeer.Service, out)
	if outside := outsideName(); outside != "localhost" {
		o, err := exec.Command("/usr/bin/dscacheutil", "-q", "host", "-a", "name", outside).CombinedOutput()
		if err != nil || !strings.Contains(string(o), "ip_address") {
			t.Errorf("the outside name %s no longer resolves through the system resolver: %v\n%s", outside, err, o)
		}
	}
	body, err := exec.Command("/usr/bin/curl", "-sS", "--max-time", "15", "--noproxy", "*", "http://"+wgpeer.Service+"/").CombinedOutput()
	if err != nil || string(body) != wgpeer.Body {
		t.Errorf("curl http://%s/: %v: %q", wgpeer.Service, err, body)
	}
}

// macLeftovers lists what of ours macOS still holds: the utun, routes of
// the cluster's range, our dynamic-store keys, a resolver for the cluster's
// domain, the UAPI socket. configd rebuilds the DNS configuration a moment
// after a key goes, so it looks again for up to 5 s before reporting.
func macLeftovers(t *testing.T, iface string) []string {
	deadline := time.Now().Add(5 * time.Second)
	for {
		left := macLeftoversNow(t, iface)
		if len(left) == 0 || time.Now().After(deadline) {
			return left
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func macLeftoversNow(t *testing.T, iface string) []string {
	var left []string
	if _, err := net.InterfaceByName(iface); err == nil {
		left = append(left, "interface "+iface)
	}
	if macRouted(t, iface, wgpeer.Range) {
		left = append(left, fmt.Sprintf("route %s via %s", wgpeer.Range, iface))
	}
	script, _ := scutilListScript(scutilKeyPattern)
	out, err := runScutil(t.Context(), script)
	if err != nil {
		t.Fatalf("scutil list: %v", err)
	}
	for _, k := range parseScutilList(out) {
		if _, owner, ok := scutilKeyOwner(k); ok && owner == "gwtd0" {
			left = append(left, "dynamic-store key "+k)
		}
	}
	dns, err := commandOutput(t.Context(), scutilPath, "--dns")
	if err != nil {
		t.Fatalf("scutil --dns: %v", err)
	}
	for _, r := range parseScutilDNS(dns) {
		for _, n := range r.Nameservers {
			if n == wgpeer.DNSAddr.String() {
				left = append(left, fmt.Sprintf("a resolver for %q through %s", r.Domain, n))
			}
		}
	}
	if _, err := os.Stat(uapiSocketPath("gwtd0")); err == nil {
		left = append(left, "UAPI socket "+uapiSocketPath("gwtd0"))
	}
	return left
}
