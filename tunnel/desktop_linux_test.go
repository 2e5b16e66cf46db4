package tunnel

import (
	"bytes"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/vishvananda/netlink"

	"github.com/ghostwire/ghostwire/internal/testenv"
)

// desktopResolvConf is the namespace's own resolv.conf: no nameserver that
// answers, so only what the tunnel adds can resolve cluster names.
const desktopResolvConf = "# ghostwire desktop scenario\nnameserver 127.0.0.1\noptions timeout:1 attempts:1\n"

// desktopRun runs the scenario in a child process inside a fresh network
// namespace (`ip netns exec` also gives it the namespace's own
// /etc/resolv.conf), so the host's network and DNS are never touched.
func desktopRun(t *testing.T, f func(*testing.T, desktopHost)) {
	if os.Getenv("GWT_DESKTOP_CHILD") == t.Name() {
		f(t, desktopHostFor(t))
		return
	}
	testenv.RequireSystem(t)
	ns := "gwtd" + randSuffix()
	run(t, "ip", "netns", "add", ns)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
	run(t, "ip", "-n", ns, "link", "set", "lo", "up")
	etc := filepath.Join("/etc/netns", ns)
	if err := os.MkdirAll(etc, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(etc) })
	if err := os.WriteFile(filepath.Join(etc, "resolv.conf"), []byte(desktopResolvConf), 0o644); err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("ip", "netns", "exec", ns, exe, "-test.run=^"+t.Name()+"$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), "GWT_DESKTOP_CHILD="+t.Name())
	cmd.Stdout, cmd.Stderr = testWriter{t}, testWriter{t}
	if err := cmd.Run(); err != nil {
		t.Fatalf("the scenario failed in namespace %s: %v", ns, err)
	}
}

func desktopHostFor(t *testing.T) desktopHost {
	return desktopHost{
		iface:   "gwtd0",
		dnsMode: DNSStub,
		// No systemd-resolved for a namespace: the stub behind resolv.conf.
		tune: func(c *Config) { c.DBusAddress = "unix:path=/nonexistent/ghostwire-desktop-test" },
		routed: func(t *testing.T, iface string, p netip.Prefix) bool {
			l, err := netlink.LinkByName(iface)
			if err != nil {
				return false
			}
			rs, err := netlink.RouteList(l, netlink.FAMILY_V4)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range rs {
				if r.Dst != nil && r.Dst.String() == p.String() {
					return true
				}
			}
			return false
		},
		leftovers: func(t *testing.T, iface string) []string {
			var left []string
			if _, err := netlink.LinkByName(iface); err == nil {
				left = append(left, "interface "+iface)
			}
			if b, err := os.ReadFile("/etc/resolv.conf"); err != nil || !bytes.Equal(b, []byte(desktopResolvConf)) {
				left = append(left, "a changed /etc/resolv.conf")
			}
			return left
		},
	}
}
