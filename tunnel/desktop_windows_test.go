package tunnel

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/windows"
	"golang.zx2c4.com/wireguard/windows/tunnel/winipcfg"

	"github.com/ghostwire/ghostwire/internal/wgpeer"
)

// The Windows host of the desktop scenario runs on the machine itself: a
// real wintun adapter, real routes through the IP Helper, real NRPT rules
// read by the DNS Client. That changes the machine's network, so it runs
// only where asked (GHOSTWIRE_DESKTOP_SYSTEM=1), as Administrator, with
// wintun.dll beside the test binary or in System32: the hosted runner of
// .github/workflows/desktop.yml. Wine cannot run it (no wintun, no IP
// Helper setters, no DNS Client).
func desktopRun(t *testing.T, f func(*testing.T, desktopHost)) {
	if os.Getenv(desktopEnv) != "1" {
		t.Skipf("the Windows desktop scenario changes this machine's routes and DNS (wintun, IP Helper, NRPT): "+
			"it runs only with %s=1, as Administrator, on a disposable Windows runner (desktop.yml)", desktopEnv)
	}
	// Asked for explicitly: what is missing is a failure, not a skip.
	if err := checkElevated(); err != nil {
		t.Fatalf("%s=1 but: %v", desktopEnv, err)
	}
	if err := checkWintun(); err != nil {
		t.Fatalf("%s=1 but: %v", desktopEnv, err)
	}
	f(t, desktopHostFor(t))
}

func desktopHostFor(t *testing.T) desktopHost {
	return desktopHost{
		iface:   "gwtd0",
		dnsMode: DNSNRPT,
		routed: func(t *testing.T, iface string, p netip.Prefix) bool {
			luid, ok := luidByAlias(iface)
			if !ok {
				return false
			}
			rows, err := winipcfg.GetIPForwardTable2(windows.AF_INET)
			if err != nil {
				t.Fatal(err)
			}
			for i := range rows {
				if rows[i].InterfaceLUID == luid && rows[i].DestinationPrefix.Prefix() == p {
					return true
				}
			}
			return false
		},
		leftovers: func(t *testing.T, iface string) []string {
			var left []string
			// Plug and Play removes an adapter shortly after its process
			// closed it or died.
			deadline := time.Now().Add(adapterGoneWait)
			for {
				if _, err := linkIndexByName(iface); err != nil {
					break
				}
				if time.Now().After(deadline) {
					left = append(left, "the adapter "+iface)
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			rs, err := nrptTable{reg: hklm{}}.rules()
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range rs {
				if r.owner == iface {
					left = append(left, r.String())
				}
			}
			rows, err := winipcfg.GetIPForwardTable2(windows.AF_INET)
			if err != nil {
				t.Fatal(err)
			}
			for i := range rows {
				if d := rows[i].DestinationPrefix.Prefix(); d == wgpeer.Range || d == netip.PrefixFrom(tunnelGateway4, 32) {
					left = append(left, fmt.Sprintf("a route to %s", d))
				}
			}
			if addrs, err := winipcfg.GetUnicastIPAddressTable(windows.AF_INET); err == nil {
				for i := range addrs {
					if addrs[i].Address.Addr() == wgpeer.ClientAddr.Addr() {
						left = append(left, "the address "+wgpeer.ClientAddr.Addr().String())
					}
				}
			}
			return left
		},
		connected: func(t *testing.T, iface string) {
			// What a person would type: PowerShell's resolver, which asks
			// the DNS Client as every program does (nslookup would not:
			// it ignores the NRPT).
			for name, want := range map[string]netip.Addr{
				wgpeer.Service + "." + wgpeer.Namespace + ".svc." + wgpeer.Domain: wgpeer.ServiceAddr,
				"kubernetes.default.svc." + wgpeer.Domain:                         netip.MustParseAddr("10.77.0.1"),
			} {
				if got := resolveDNSName(t, name); got != want {
					t.Errorf("Resolve-DnsName %s = %v, want %s (the test cluster's answer)", name, got, want)
				}
			}
			if out := outsideName(); out != "localhost" {
				if got := resolveDNSName(t, out); !got.IsValid() {
					t.Errorf("Resolve-DnsName %s: no answer while the tunnel is up", out)
				}
			}
			if b, err := exec.Command("powershell.exe", "-NoProfile", "-NonInteractive", "-Command",
				"Get-DnsClientNrptPolicy -Effective | Format-List Namespace,NameServers | Out-String -Width 200").CombinedOutput(); err == nil {
				t.Logf("effective NRPT:\n%s", b)
			}
		},
	}
}

// resolveDNSName asks Resolve-DnsName for an A record.
func resolveDNSName(t *testing.T, name string) netip.Addr {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "powershell.exe", "-NoProfile", "-NonInteractive", "-Command",
		fmt.Sprintf("(Resolve-DnsName -Name '%s' -Type A -ErrorAction Stop | Where-Object Type -eq 'A' | Select-Object -First 1).IPAddress", name))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Logf("Resolve-DnsName %s: %v: %s", name, err, out)
		return netip.Addr{}
	}
	a, err := netip.ParseAddr(strings.TrimSpace(string(out)))
	if err != nil {
		t.Logf("Resolve-DnsName %s answered %q", name, out)
		return netip.Addr{}
	}
	return a
}
