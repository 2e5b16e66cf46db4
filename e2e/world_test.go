//go:build linux

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ghostwire/ghostwire/app/localapi"
	"github.com/ghostwire/ghostwire/e2e/topo"
)

// Server timings for the sweep-driven scenarios. The idle timeout cannot be
// shorter than WireGuard's rekey interval (120 s) plus a keepalive interval
// (25 s): a connected peer only handshakes that often, so a shorter timeout
// would remove peers in use.
const (
	testIdleTimeout = 165 * time.Second
	testGrace       = 10 * time.Second
)

// world is a topology with the dev provider, one server per cluster and the
// laptop's daemon running.
type world struct {
	*topo.Topology
	servers map[string]*topo.Proc
	daemon  *topo.Daemon
	// before is the laptop as it was before any ghostwire change.
	before snapshot
	// crashedPeer is the key of a daemon killed with -9 (scenario 5) that
	// the server's idle sweep must remove.
	crashedPeer string
	serverArgs  []string
}

// newWorld builds the world; serverArgs are extra ghostwire-server flags.
func newWorld(t testing.TB, clusters int, serverArgs ...string) *world {
	t.Helper()
	tp := newTopology(t, clusters)
	requireBin(t, tp.Bins.Server)
	requireBin(t, tp.Bins.Client)
	w := &world{Topology: tp, servers: map[string]*topo.Proc{}, serverArgs: serverArgs}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := tp.StartIdP(ctx); err != nil {
		t.Fatal(err)
	}
	for _, c := range tp.Clusters {
		w.startServer(t, c)
	}
	w.before = w.snapshot(t)
	w.daemon = tp.NewDaemon()
	if err := w.daemon.Start(ctx); err != nil {
		t.Fatal(err)
	}
	return w
}

func (w *world) serverOptions() topo.ServerOptions {
	return topo.ServerOptions{IdleTimeout: testIdleTimeout, RegistrationGrace: testGrace, SweepInterval: time.Second, Extra: w.serverArgs}
}

func (w *world) startServer(t testing.TB, c *topo.Cluster) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p, err := w.StartServer(ctx, c, w.serverOptions())
	if err != nil {
		t.Fatal(err)
	}
	w.servers[c.Name] = p
}

// snapshot is what ghostwire may change on the laptop.
type snapshot struct {
	links  []string
	routes string
	resolv []byte
}

func (w *world) snapshot(t testing.TB) snapshot {
	t.Helper()
	b, err := os.ReadFile(w.Laptop.ResolvConfPath())
	if err != nil {
		t.Fatal(err)
	}
	links := w.LaptopLinks()
	slices.Sort(links)
	return snapshot{links: links, routes: w.LaptopRoutes(), resolv: b}
}

// requireUntouched fails unless the laptop is exactly as before ghostwire:
// same interfaces, same routes, resolv.conf byte-identical. It waits up to
// timeout for an asynchronous cleanup to finish.
func (w *world) requireUntouched(t testing.TB, what string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		now := w.snapshot(t)
		var diffs []string
		if !slices.Equal(now.links, w.before.links) {
			diffs = append(diffs, fmt.Sprintf("interfaces: before %v, now %v", w.before.links, now.links))
		}
		if now.routes != w.before.routes {
			diffs = append(diffs, fmt.Sprintf("routes: before\n%s\nnow\n%s", w.before.routes, now.routes))
		}
		if !bytes.Equal(now.resolv, w.before.resolv) {
			diffs = append(diffs, fmt.Sprintf("resolv.conf not byte-identical: before\n%q\nnow\n%q", w.before.resolv, now.resolv))
		}
		if len(diffs) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: the laptop is not as it was before ghostwire:\n%s", what, strings.Join(diffs, "\n"))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// serverPeers lists the public keys on c's server WireGuard device, read with
// the stock `wg` tool through the device's UAPI socket.
func (w *world) serverPeers(t testing.TB, c *topo.Cluster) []string {
	t.Helper()
	out := sh(t, c.Node, "wg", "show", c.ServerInterface(w.Topology), "peers")
	return strings.Fields(out)
}

// serverKey is c's server public key as `wg` shows it.
func (w *world) serverKey(t testing.TB, c *topo.Cluster) string {
	t.Helper()
	return strings.TrimSpace(sh(t, c.Node, "wg", "show", c.ServerInterface(w.Topology), "public-key"))
}

// waitServerPeers waits until c's server has exactly want peers.
func (w *world) waitServerPeers(t testing.TB, c *topo.Cluster, want int, timeout time.Duration) []string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		peers := w.serverPeers(t, c)
		if len(peers) == want {
			return peers
		}
		if time.Now().After(deadline) {
			t.Fatalf("server %s has %d peers %v, want %d", c.Name, len(peers), peers, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// up connects profile to c as user and checks the result is connected.
func (w *world) up(t testing.TB, c *topo.Cluster, profile, user string) localapi.Profile {
	t.Helper()
	ctx := context.Background()
	res := w.daemon.Up(ctx, c, profile, user, nil)
	if res.Err != nil {
		t.Fatalf("ghostwire %s: %v\n%s", strings.Join(w.daemon.UpArgs(c, profile), " "), res.Err, res.Output)
	}
	t.Logf("ghostwire up (%s, sign-in code %q):\n%s", res.Elapsed.Round(time.Millisecond), res.UserCode, res.Output)
	p, err := w.daemon.WaitState(ctx, profile, localapi.StateConnected, 15*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	addr, err := netip.ParsePrefix(p.Address)
	if err != nil || !c.TunnelCIDR.Contains(addr.Addr()) {
		t.Fatalf("connected with address %q, want one in %s", p.Address, c.TunnelCIDR)
	}
	return p
}

// curlOK curls url on the laptop until it answers with a body containing want.
func (w *world) curlOK(t testing.TB, url, want string, timeout time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	deadline := start.Add(timeout)
	var last error
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		body, err := w.Curl(ctx, url, 2*time.Second)
		cancel()
		if err == nil && strings.Contains(body, want) {
			return time.Since(start)
		}
		if err == nil {
			err = fmt.Errorf("body %q lacks %q", body, want)
		}
		last = err
		if time.Now().After(deadline) {
			st, _ := w.daemon.Status(context.Background())
			t.Fatalf("%s from the laptop did not answer within %s: %v\ndaemon status: %+v\nlaptop routes:\n%s", url, timeout, last, st, w.LaptopRoutes())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// resolve looks name up on the laptop with glibc (as curl does) and returns
// the first IPv4 address.
func (w *world) resolve(t testing.TB, name string) string {
	t.Helper()
	out, err := w.Laptop.Run("getent", "ahostsv4", name)
	if err != nil {
		t.Fatalf("resolve %s on the laptop: %v\nresolv.conf:\n%s", name, err, readResolv(w.Topology))
	}
	return strings.Fields(out)[0]
}

func readResolv(tp *topo.Topology) string {
	b, _ := os.ReadFile(tp.Laptop.ResolvConfPath())
	return string(b)
}

// sleepPastIdle puts the laptop to sleep until the server has forgotten its
// peer: a network change just before (the Wi-Fi dropping as the lid closes,
// so the daemon's debounced check is still pending when it stops), the
// daemon stopped, the link cut at the far end. It returns wake, which wakes
// the laptop as a real one wakes: the daemon runs first and the link comes
// back a second later (the Wi-Fi reassociating); wake returns when the link
// is back. Calling it again does nothing.
func (w *world) sleepPastIdle(t testing.TB, c *topo.Cluster) (wake func() time.Time) {
	t.Helper()
	sh(t, w.Laptop, "ip", "link", "add", "gwe-lid", "type", "veth", "peer", "name", "gwe-lid1")
	sh(t, w.Laptop, "ip", "link", "del", "gwe-lid")
	time.Sleep(200 * time.Millisecond) // the daemon has read it; its check is 2 s away
	if err := w.daemon.Proc.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	var back time.Time
	wake = func() time.Time {
		once.Do(func() {
			_ = w.daemon.Proc.Signal(syscall.SIGCONT)
			time.Sleep(time.Second)
			_, _ = w.Inet.Run("ip", "link", "set", "laptop", "up")
			back = time.Now()
		})
		return back
	}
	t.Cleanup(func() { wake() })
	sh(t, w.Inet, "ip", "link", "set", "laptop", "down")
	w.waitServerPeers(t, c, 0, testIdleTimeout+testGrace+10*time.Second)
	return wake
}
