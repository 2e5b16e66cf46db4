//go:build linux

package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/ghostwire/ghostwire/app/localapi"
	"github.com/ghostwire/ghostwire/e2e/topo"
)

// TestClientUnderStress drives the daemon as a laptop's life does (issue
// 15), one defect per subtest on one world: WireGuard blocked while the API
// answers, the uplink moving under a connection, typos, kill -9 in a row,
// an empty resolv.conf. The server's device cap is 2 here, so a crashed
// daemon's peer left on the server shows at the second restart.
func TestClientUnderStress(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 1, "--device-cap", "2")
	c := w.Clusters[0]
	w.up(t, c, "", topo.UserDemo)
	for _, s := range []struct {
		name string
		fn   func(*testing.T, *world, *topo.Cluster)
	}{
		{"1-down-while-checking", stressDownWhileChecking},
		{"2-uplink-moved", stressUplinkMoved},
		{"3-typo-keeps-the-tunnel", stressTypo},
		{"5-kill-9-in-a-row", stressKillNine},
		{"6-empty-resolv-conf", stressEmptyResolvConf},
	} {
		if !t.Run(s.name, func(t *testing.T) { s.fn(t, w, c) }) {
			w.restartDaemon(t, c)
		}
	}
}

// restartDaemon starts from a fresh daemon after a failed scenario (one
// that hung must not take the next ones with it): kill -9, start, sign in.
func (w *world) restartDaemon(t *testing.T, c *topo.Cluster) {
	t.Helper()
	w.daemon.Proc.Kill()
	_, _ = w.Inet.Run("nft", "delete", "table", "inet", "gwe-block-wg")
	if err := w.daemon.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	w.up(t, c, "", topo.UserDemo)
}

// cli runs `ghostwire args...` on the laptop, killed after within, and
// returns its output, exit code and how long it took.
func (w *world) cli(t *testing.T, within time.Duration, args ...string) (string, int, time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	start := time.Now()
	out, err := w.daemon.CLI(ctx, args...)
	took := time.Since(start)
	if ctx.Err() != nil {
		t.Fatalf("`ghostwire %s` did not return within %s:\n%s\ndaemon log:\n%s", strings.Join(args, " "), within, out, w.daemon.Proc.Tail(6000))
	}
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out, code, took
}

// daemonLog is the daemon's log so far.
func (w *world) daemonLog(t *testing.T) string {
	b, err := os.ReadFile(w.daemon.Proc.LogFile)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// waitLog waits until the daemon's log holds more than n lines containing s.
func (w *world) waitLog(t *testing.T, s string, n int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for strings.Count(w.daemonLog(t), s) <= n {
		if time.Now().After(deadline) {
			t.Fatalf("the daemon never logged %q within %s:\n%s", s, timeout, w.daemon.Proc.Tail(4000))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// blockWireGuard drops the WireGuard UDP port on the internet router (the
// API, over TCP, still answers); the returned func unblocks it.
func (w *world) blockWireGuard(t *testing.T, c *topo.Cluster) func() {
	t.Helper()
	table := "gwe-block-wg"
	sh(t, w.Inet, "nft", "add", "table", "inet", table)
	sh(t, w.Inet, "nft", "add", "chain", "inet", table, "wgdrop", "{ type filter hook forward priority 0 ; }")
	port := fmt.Sprint(c.WireGuardUDP)
	sh(t, w.Inet, "nft", "add", "rule", "inet", table, "wgdrop", "udp", "dport", port, "drop")
	sh(t, w.Inet, "nft", "add", "rule", "inet", table, "wgdrop", "udp", "sport", port, "drop")
	return func() { _, _ = w.Inet.Run("nft", "delete", "table", "inet", table) }
}

// sendThroughTunnel pings an address of the cluster until the returned
// func is called: data goes out, and (when blocked) nothing comes back.
func (w *world) sendThroughTunnel(t *testing.T, c *topo.Cluster) func() {
	ctx, cancel := context.WithCancel(context.Background())
	cmd := w.Laptop.Command(ctx, "ping", "-q", "-i", "0.2", "-W", "1", c.Prometheus.String())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return func() { cancel(); _ = cmd.Wait() }
}

const checking = `msg="checking the connection"`

// Defect 1: `ghostwire down` while the daemon checks a connection whose
// WireGuard packets are dropped while its API answers used to hang forever
// (and SIGTERM with it). Down is sent at several points of the check; then
// SIGTERM in the same situation.
func stressDownWhileChecking(t *testing.T, w *world, c *topo.Cluster) {
	for _, after := range []time.Duration{0, 300 * time.Millisecond, 1500 * time.Millisecond, 3 * time.Second} {
		if _, err := w.daemon.WaitState(context.Background(), "", localapi.StateConnected, time.Second); err != nil {
			w.up(t, c, "", "")
		}
		n := strings.Count(w.daemonLog(t), checking)
		unblock := w.blockWireGuard(t, c)
		stop := w.sendThroughTunnel(t, c)
		w.waitLog(t, checking, n, 20*time.Second)
		time.Sleep(after)
		out, code, took := w.cli(t, 20*time.Second, "down")
		stop()
		unblock()
		if code != 0 || !strings.Contains(out, "disconnected") {
			t.Fatalf("down %s into the check: exit %d\n%s", after, code, out)
		}
		t.Logf("down %s into the check returned in %s", after, took.Round(time.Millisecond))
		w.waitServerPeers(t, c, 0, 5*time.Second) // the API answered: the peer is gone
	}

	// SIGTERM during a check: the daemon disconnects and exits.
	w.up(t, c, "", "")
	n := strings.Count(w.daemonLog(t), checking)
	unblock := w.blockWireGuard(t, c)
	stop := w.sendThroughTunnel(t, c)
	defer unblock()
	w.waitLog(t, checking, n, 20*time.Second)
	time.Sleep(500 * time.Millisecond)
	start := time.Now()
	if err := w.daemon.Proc.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err := w.daemon.Proc.Wait(20 * time.Second)
	stop()
	if err != nil && strings.Contains(err.Error(), "still running") {
		t.Fatalf("SIGTERM during a check: %v\n%s", err, w.daemon.Proc.Tail(6000))
	}
	t.Logf("SIGTERM during a check: the daemon exited in %s", time.Since(start).Round(time.Millisecond))
	w.waitServerPeers(t, c, 0, 5*time.Second)
	unblock()
	if err := w.daemon.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	w.up(t, c, "", topo.UserDemo) // a new daemon: sign in again
}

// Defect 2: the laptop moves to another uplink and its old address goes
// (a new Wi-Fi). The API's pooled connections from the old address are
// dead: `down` must still remove the peer at once, and `up` must work.
func stressUplinkMoved(t *testing.T, w *world, c *topo.Cluster) {
	if _, err := w.daemon.WaitState(context.Background(), "", localapi.StateConnected, time.Second); err != nil {
		w.up(t, c, "", "")
	}
	w.curlOK(t, "http://prometheus/metrics", `cluster="c1"`, 10*time.Second)
	// A rotation over the API: its connection stays in the pool.
	st, _ := w.daemon.Status(context.Background())
	expires := st.Profiles[0].ExpiresAt
	if out, code, _ := w.cli(t, 20*time.Second, "extend"); code != 0 {
		t.Fatalf("extend: %d %s", code, out)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		st, _ := w.daemon.Status(context.Background())
		if p := st.Profiles[0]; p.State == localapi.StateConnected && p.ExpiresAt != nil && expires != nil && p.ExpiresAt.After(*expires) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no rotation after extend: %+v", st.Profiles)
		}
	}

	// The second uplink: laptop eth1 (192.0.3.2) to the router.
	sh(t, w.Laptop, "ip", "link", "add", "eth1", "type", "veth", "peer", "name", "laptop2", "netns", w.Inet.Name)
	sh(t, w.Laptop, "ip", "addr", "add", "192.0.3.2/24", "dev", "eth1")
	sh(t, w.Laptop, "ip", "link", "set", "eth1", "up")
	sh(t, w.Inet, "ip", "addr", "add", "192.0.3.1/24", "dev", "laptop2")
	sh(t, w.Inet, "ip", "link", "set", "laptop2", "up")
	defer func() {
		_, _ = w.Laptop.Run("ip", "addr", "add", w.LaptopAddr.String()+"/24", "dev", "eth0")
		_, _ = w.Laptop.Run("ip", "route", "replace", "default", "via", "192.0.2.1", "dev", "eth0")
		_, _ = w.Laptop.Run("ip", "link", "del", "eth1")
	}()
	sh(t, w.Laptop, "ip", "route", "replace", "default", "via", "192.0.3.1", "dev", "eth1")
	sh(t, w.Laptop, "ip", "addr", "del", w.LaptopAddr.String()+"/24", "dev", "eth0")

	out, code, took := w.cli(t, 30*time.Second, "down")
	if code != 0 {
		t.Fatalf("down after the uplink moved: exit %d\n%s", code, out)
	}
	t.Logf("down after the uplink moved took %s", took.Round(time.Millisecond))
	if peers := w.serverPeers(t, c); len(peers) != 0 {
		t.Fatalf("down after the uplink moved left the peer on the server: %v\n%s", peers, w.daemon.Proc.Tail(4000))
	}
	if took > 5*time.Second {
		t.Fatalf("down took %s: it waited on a dead connection", took)
	}
	start := time.Now()
	w.up(t, c, "", "")
	up := time.Since(start)
	t.Logf("up after the uplink moved took %s", up.Round(time.Millisecond))
	if up > 5*time.Second {
		t.Fatalf("up took %s after the uplink moved", up)
	}
	w.curlOK(t, "http://prometheus/metrics", `cluster="c1"`, 10*time.Second)
}

// Defect 3 and 4: a typo'd or malformed server URL on a connected profile
// changes nothing: the tunnel stays up, the profile keeps its server, and
// profiles.json is untouched. Malformed URLs are usage errors with short
// messages; a profile whose first up failed is not kept.
func stressTypo(t *testing.T, w *world, c *topo.Cluster) {
	if _, err := w.daemon.WaitState(context.Background(), "", localapi.StateConnected, time.Second); err != nil {
		w.up(t, c, "", "")
	}
	st, _ := w.daemon.Status(context.Background())
	before := st.Profiles[0]
	profiles := filepath.Join(w.daemon.StateDir, "profiles.json")
	saved, err := os.ReadFile(profiles)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		url  string
		code int
		want string
	}{
		{"https://vpn.exmaple.com", 6, "cannot reach"},
		{"https://" + topo.PublicWeb.String() + ":8443", 6, "cannot reach"},
		{c.ServerURL() + "/vpn/path", 2, "path"},
		{"https://" + c.NodePublic.String() + ":99999", 2, "port"},
		{"https://" + strings.Repeat("a", 10<<10) + ".example.com", 2, "too long"},
	} {
		out, code, _ := w.cli(t, 40*time.Second, "up", tc.url, "--ca-file", w.CA.CertFile)
		if code != tc.code || !strings.Contains(out, tc.want) {
			t.Errorf("up %.50s: exit %d (want %d), output lacks %q:\n%.500s", tc.url, code, tc.code, tc.want, out)
		}
		if n := utf8.RuneCountInString(out); n > 600 {
			t.Errorf("up %.50s: the message is %d characters long", tc.url, n)
		}
		st, err := w.daemon.Status(context.Background())
		if err != nil || len(st.Profiles) != 1 {
			t.Fatalf("after up %.50s: %+v %v", tc.url, st.Profiles, err)
		}
		p := st.Profiles[0]
		if p.State != localapi.StateConnected || p.Server != before.Server || p.Address != before.Address {
			t.Fatalf("after up %.50s the profile changed: %+v", tc.url, p)
		}
	}
	w.curlOK(t, "http://prometheus/metrics", `cluster="c1"`, 10*time.Second)
	if peers := w.serverPeers(t, c); len(peers) != 1 {
		t.Fatalf("server peers %v", peers)
	}
	if now, _ := os.ReadFile(profiles); !bytes.Equal(now, saved) {
		t.Fatalf("profiles.json changed:\n%s\nnow:\n%s", saved, now)
	}
	// A new profile whose first up failed is not kept.
	if _, code, _ := w.cli(t, 40*time.Second, "up", "--profile", "typo", "https://vpn.exmaple.com"); code != 6 {
		t.Fatalf("up of a new profile to a typo: exit %d", code)
	}
	out, code, _ := w.cli(t, 10*time.Second, "profile", "list")
	if code != 0 || strings.Contains(out, "typo") || !strings.Contains(out, before.Server) {
		t.Fatalf("profile list: exit %d\n%s", code, out)
	}
	t.Logf("ghostwire profile list:\n%s", out)
}

// Defect 5: kill -9 five times in a row; each new daemon signs in and
// connects with the same address, the crashed daemon's peer taken over
// (with a device cap of 2, the second restart would fail otherwise).
func stressKillNine(t *testing.T, w *world, c *topo.Cluster) {
	if _, err := w.daemon.WaitState(context.Background(), "", localapi.StateConnected, time.Second); err != nil {
		w.up(t, c, "", "")
	}
	st, _ := w.daemon.Status(context.Background())
	addr := st.Profiles[0].Address
	for i := 1; i <= 5; i++ {
		w.daemon.Proc.Kill()
		if err := w.daemon.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		p := w.up(t, c, "", topo.UserDemo)
		if p.Address != addr {
			t.Fatalf("restart %d after kill -9: address %s, want %s", i, p.Address, addr)
		}
		if peers := w.serverPeers(t, c); len(peers) != 1 {
			t.Fatalf("restart %d after kill -9: %d peers on the server %v", i, len(peers), peers)
		}
	}
	w.curlOK(t, "http://prometheus/metrics", `cluster="c1"`, 10*time.Second)
}

// Defect 6: with an empty resolv.conf the system's resolver asks
// 127.0.0.1:53 (here a CoreDNS forwarding to the internet, as a local
// dnsmasq would); connected, outside names still resolve, cluster names
// too, and the empty file comes back.
func stressEmptyResolvConf(t *testing.T, w *world, c *topo.Cluster) {
	if out, code, _ := w.cli(t, 20*time.Second, "down"); code != 0 {
		t.Fatalf("down: %d %s", code, out)
	}
	path := w.Laptop.ResolvConfPath()
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = os.WriteFile(path, orig, 0o644) }()
	dir := filepath.Join(w.Dir, "coredns-laptop")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	corefile := filepath.Join(dir, "Corefile")
	if err := os.WriteFile(corefile, []byte(fmt.Sprintf(".:53 {\n    bind 127.0.0.1\n    forward . %s:53\n}\n", w.InternetDNS)), 0o644); err != nil {
		t.Fatal(err)
	}
	local, err := w.Start(w.Laptop, "coredns-laptop", nil, w.Bins.CoreDNS, "-conf", corefile)
	if err != nil {
		t.Fatal(err)
	}
	defer local.Stop(5 * time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := topo.LookupUntil(ctx, w.Laptop, "127.0.0.1:53", "www.example.org"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if got := w.resolve(t, "www.example.org"); got != topo.PublicWeb.String() {
		t.Fatalf("before connecting, with an empty resolv.conf: %s", got)
	}
	w.up(t, c, "", "")
	if got := w.resolve(t, "www.example.org"); got != topo.PublicWeb.String() {
		t.Fatalf("connected with an empty resolv.conf, www.example.org resolves to %s, want %s", got, topo.PublicWeb)
	}
	w.curlOK(t, "http://prometheus/metrics", `cluster="c1"`, 10*time.Second)
	if out, code, _ := w.cli(t, 20*time.Second, "down"); code != 0 {
		t.Fatalf("down: %d %s", code, out)
	}
	if now, _ := os.ReadFile(path); len(now) != 0 {
		t.Fatalf("the empty resolv.conf came back as %q", now)
	}
}
