//go:build linux

package e2e

import (
	"context"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ghostwire/ghostwire/app/localapi"
	"github.com/ghostwire/ghostwire/e2e/topo"
)

// TestClientLifecycle runs scenarios 2, 1, 3, 4 and 5 in order on one world
// (one cluster, the dev provider, the server and the laptop's daemon), each
// a subtest that starts from where the previous one left the laptop.
func TestClientLifecycle(t *testing.T) {
	t.Parallel() // each test has its own namespaces, names and sockets
	w := newWorld(t, 1)
	c := w.Clusters[0]
	failed := false
	for _, s := range []struct {
		name string
		fn   func(*testing.T, *world, *topo.Cluster)
		// connected: the scenario starts from a working connection.
		connected bool
	}{
		{"2-not-allowed", scenarioNotAllowed, false},
		{"1-connect", scenarioConnect, false},
		{"3-server-restart", scenarioServerRestart, true},
		// 5 before 4: the crashed daemon's peer (5) and the sleeping one (4)
		// both leave only by the server's idle sweep, so 4 waits for both at
		// once instead of two idle timeouts in a row.
		{"5-disconnect", scenarioDisconnect, true},
		{"4-sleep", scenarioSleep, false},
	} {
		ok := t.Run(s.name, func(t *testing.T) {
			if failed && s.connected {
				// A failed scenario may have left the connection broken:
				// start this one from a fresh connection so it is judged
				// on its own.
				w.reconnect(t, c)
			}
			s.fn(t, w, c)
		})
		failed = failed || !ok
	}
}

// reconnect brings the default profile back to a working connection after a
// failed scenario: down, then up (signing in again if asked).
func (w *world) reconnect(t *testing.T, c *topo.Cluster) {
	t.Helper()
	if w.daemon.Proc != nil {
		if done, _ := w.daemon.Proc.Exited(); done {
			if err := w.daemon.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		_ = w.daemon.Proc.Signal(syscall.SIGCONT)
	}
	_, _ = w.Inet.Run("ip", "link", "set", "laptop", "up")
	out, err := w.daemon.CLI(context.Background(), "down", "--all")
	t.Logf("reset after a failed scenario: ghostwire down --all (%v): %s", err, out)
	w.up(t, c, "", topo.UserDemo)
	w.curlOK(t, "http://prometheus/metrics", `cluster="c1"`, 10*time.Second)
}

// Scenario 2: a signed-in user without the role gets a clear message from
// `up`, and nothing changes: no peer on the server, no interface, no route,
// no DNS change on the laptop.
func scenarioNotAllowed(t *testing.T, w *world, c *topo.Cluster) {
	res := w.daemon.Up(context.Background(), c, "", topo.UserGuest, nil)
	t.Logf("ghostwire up as %s (exit %v):\n%s", topo.UserGuest, res.Err, res.Output)
	if res.Err == nil {
		t.Fatalf("`ghostwire up` as %s (no VPN.User role) succeeded", topo.UserGuest)
	}
	if res.UserCode == "" {
		t.Fatalf("`ghostwire up` never asked to sign in")
	}
	low := strings.ToLower(res.Output)
	if !strings.Contains(low, "not allowed") && !strings.Contains(low, "role") && !strings.Contains(low, "admin") {
		t.Fatalf("`ghostwire up` refused without saying why in words a person understands (want 'not allowed', the role, or 'ask your admin'):\n%s", res.Output)
	}
	if strings.Contains(res.Output, "goroutine ") || strings.Contains(res.Output, "panic") {
		t.Fatalf("`ghostwire up` crashed:\n%s", res.Output)
	}
	if peers := w.serverPeers(t, c); len(peers) != 0 {
		t.Fatalf("the server has peers %v for a user who is not allowed", peers)
	}
	w.requireUntouched(t, "after a refused up", 2*time.Second)
	// Forget the guest's session so the next scenario signs in as demo.
	out, err := w.daemon.CLI(context.Background(), "logout")
	t.Logf("ghostwire logout (%v): %s", err, out)
	out, err = w.daemon.CLI(context.Background(), "down")
	t.Logf("ghostwire down (%v): %s", err, out)
	w.requireUntouched(t, "after logout of the refused user", 2*time.Second)
}

// Scenario 1: sign in with the device code, then short and namespaced
// service names, the ingress override and the laptop's own names all work.
func scenarioConnect(t *testing.T, w *world, c *topo.Cluster) {
	p := w.up(t, c, "", topo.UserDemo)
	t.Logf("connected: address %s, routes %v, dns %v, search %v, match %v", p.Address, p.Routes, p.DNSServers, p.SearchDomains, p.MatchDomains)
	if p.User != topo.UserDemo {
		t.Errorf("status shows the user as %q, want the signed-in name %q (localapi.Profile.User is the display name)", p.User, topo.UserDemo)
	}
	for _, r := range []string{c.PodCIDR.String(), c.ServiceCIDR.String()} {
		if !slices.Contains(p.Routes, r) {
			t.Errorf("status routes %v lack %s", p.Routes, r)
		}
	}
	want := `gwe_cluster_info{cluster="c1"} 1`
	w.curlOK(t, "http://prometheus.monitoring/metrics", want, 10*time.Second)
	w.curlOK(t, "http://prometheus/metrics", want, 10*time.Second)
	w.curlOK(t, "http://prometheus.monitoring.svc.cluster.local/metrics", want, 10*time.Second)
	// The ingress hostname resolves to the ingress' cluster IP (coredns-custom),
	// not to its public address.
	if got := w.resolve(t, c.IngressHost); got != c.Ingress.String() {
		t.Errorf("%s resolves to %s on the laptop, want the ingress' internal address %s", c.IngressHost, got, c.Ingress)
	}
	w.curlOK(t, "http://"+c.IngressHost+"/", "ingress of c1", 10*time.Second)
	// Names outside the cluster still go to the laptop's own DNS: only it
	// answers the home network's names.
	if got := w.resolve(t, "printer.home.example.org"); got != topo.HomePrinter.String() {
		t.Errorf("printer.home.example.org resolves to %s, want %s from the laptop's own DNS", got, topo.HomePrinter)
	}
	if got := w.resolve(t, "www.example.org"); got != topo.PublicWeb.String() {
		t.Errorf("www.example.org resolves to %s, want %s", got, topo.PublicWeb)
	}
	if peers := w.serverPeers(t, c); len(peers) != 1 {
		t.Errorf("server has peers %v, want exactly the laptop's", peers)
	}
	out, err := w.daemon.CLI(context.Background(), "status")
	if err != nil {
		t.Fatalf("ghostwire status: %v\n%s", err, out)
	}
	t.Logf("ghostwire status:\n%s", out)
	if !strings.Contains(out, strings.Split(p.Address, "/")[0]) {
		t.Errorf("ghostwire status does not show the address %s:\n%s", p.Address, out)
	}
}

// Scenario 3: the server dies and comes back with a new key and an empty
// peer table; the daemon reconnects by itself.
func scenarioServerRestart(t *testing.T, w *world, c *topo.Cluster) {
	oldKey := w.serverKey(t, c)
	oldPeers := w.serverPeers(t, c)
	w.servers[c.Name].Kill()
	w.startServer(t, c)
	if newKey := w.serverKey(t, c); newKey == oldKey {
		t.Fatalf("the restarted server kept its key %s; it must make a new one", oldKey)
	}
	took := w.curlOK(t, "http://prometheus/metrics", `cluster="c1"`, 90*time.Second)
	t.Logf("reachable again %s after the server came back, without any command", took.Round(time.Millisecond))
	peers := w.waitServerPeers(t, c, 1, 10*time.Second)
	t.Logf("peer before %v, after %v", oldPeers, peers)
	if _, err := w.daemon.WaitState(context.Background(), "", localapi.StateConnected, 10*time.Second); err != nil {
		t.Fatal(err)
	}
}

// Scenario 4: the laptop sleeps (daemon stopped, link cut) longer than the
// idle timeout, so the server forgets the peer; on wake it registers a new
// key by itself.
func scenarioSleep(t *testing.T, w *world, c *topo.Cluster) {
	if _, err := w.daemon.WaitState(context.Background(), "", localapi.StateConnected, time.Second); err != nil {
		// After scenario 5 the restarted daemon has no session: sign in.
		w.up(t, c, "", topo.UserDemo)
	}
	w.curlOK(t, "http://prometheus/metrics", `cluster="c1"`, 10*time.Second)
	var before []string
	for _, k := range w.serverPeers(t, c) {
		if k != w.crashedPeer {
			before = append(before, k)
		}
	}
	if len(before) != 1 {
		t.Fatalf("server peers %v: want exactly one besides the crashed daemon's %q", w.serverPeers(t, c), w.crashedPeer)
	}
	w.sleepPastIdle(t, c)()
	took := w.curlOK(t, "http://prometheus/metrics", `cluster="c1"`, 90*time.Second)
	t.Logf("reachable again %s after waking", took.Round(time.Millisecond))
	after := w.waitServerPeers(t, c, 1, 10*time.Second)
	if w.crashedPeer != "" && after[0] == w.crashedPeer {
		t.Fatalf("the peer of the daemon killed with -9 in scenario 5 is still on the server")
	}
	if after[0] == before[0] {
		t.Fatalf("after sleep the daemon kept its key %s; it must register a new one", before[0])
	}
}

// Scenario 5: `ghostwire down` removes the peer on the server and the
// interface, routes and DNS on the laptop (resolv.conf byte-identical); the
// same after kill -9 of the daemon and a new start.
func scenarioDisconnect(t *testing.T, w *world, c *topo.Cluster) {
	ctx := context.Background()
	out, err := w.daemon.CLI(ctx, "down")
	if err != nil {
		t.Fatalf("ghostwire down: %v\n%s", err, out)
	}
	t.Logf("ghostwire down:\n%s", out)
	w.waitServerPeers(t, c, 0, 5*time.Second)
	w.requireUntouched(t, "after ghostwire down", 5*time.Second)

	// Up again (the session is still valid: no sign-in), then crash the daemon.
	w.up(t, c, "", "")
	w.curlOK(t, "http://prometheus/metrics", `cluster="c1"`, 10*time.Second)
	crashed := w.waitServerPeers(t, c, 1, 5*time.Second)
	w.daemon.Proc.Kill()
	if err := w.daemon.Start(ctx); err != nil {
		t.Fatal(err)
	}
	w.requireUntouched(t, "after kill -9 of the daemon and a new start", 10*time.Second)
	// The crashed daemon could not say goodbye: only the server's idle sweep
	// removes its peer. Scenario 4 waits for that: the server's table empties only when it is gone too.
	w.crashedPeer = crashed[0]
}
