//go:build linux

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ghostwire/ghostwire/e2e/topo"
	"github.com/ghostwire/ghostwire/server/api"
)

// TestInteropStockWireGuard is scenario 7: the server speaks plain WireGuard
// and plain HTTPS. A stock peer — a wireguard-go device configured by the `wg`
// tool from wireguard-tools, registered with curl — reaches the cluster.
func TestInteropStockWireGuard(t *testing.T) {
	t.Parallel() // each test has its own namespaces, names and sockets
	tp := newTopology(t, 1)
	requireBin(t, tp.Bins.Server)
	c := tp.Clusters[0]
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := tp.StartIdP(ctx); err != nil {
		t.Fatal(err)
	}
	// The server refreshes peers' live stats on its sweep: sweep every second
	// so GET shows the handshake promptly.
	if _, err := tp.StartServer(ctx, c, topo.ServerOptions{SweepInterval: time.Second}); err != nil {
		t.Fatal(err)
	}
	token, err := tp.Token(ctx, topo.UserDemo)
	if err != nil {
		t.Fatalf("sign in as %s: %v", topo.UserDemo, err)
	}

	ifname := "gwe" + tp.Suffix + "i"
	wg := startStockWireGuard(t, tp, tp.Laptop, ifname)
	priv := strings.TrimSpace(sh(t, tp.Laptop, "wg", "genkey"))
	keyFile := filepath.Join(tp.Dir, "stock.key")
	if err := os.WriteFile(keyFile, []byte(priv+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	pub := strings.TrimSpace(sh(t, tp.Laptop, "sh", "-c", "wg pubkey < "+keyFile))

	// Register with curl; the bearer token goes in a header file, not argv.
	hdr := filepath.Join(tp.Dir, "auth.header")
	if err := os.WriteFile(hdr, []byte("Authorization: Bearer "+token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	body := fmt.Sprintf(`{"public_key":%q,"device_name":"stock-wireguard"}`, pub)
	out := sh(t, tp.Laptop, "curl", "-sS", "--fail-with-body", "--max-time", "10", "--cacert", tp.CA.CertFile,
		"-H", "@"+hdr, "-H", "Content-Type: application/json", "--data", body, c.ServerURL()+api.PathPeers)
	var peer api.Peer
	if err := json.Unmarshal([]byte(out), &peer); err != nil {
		t.Fatalf("POST %s answered something that is not a peer: %v\n%s", api.PathPeers, err, out)
	}
	t.Logf("registered: address %s, endpoint %s, routes %v, dns %v, search %v", peer.Address, peer.Endpoint, peer.Routes, peer.DNSServers, peer.SearchDomains)
	if peer.PublicKey != pub || peer.ServerPublicKey == "" || peer.Address == "" || peer.Endpoint == "" {
		t.Fatalf("incomplete peer answer: %+v", peer)
	}

	// Configure the stock device from the answer, as a person would with wg.
	args := []string{"set", ifname, "private-key", keyFile, "peer", peer.ServerPublicKey,
		"endpoint", peer.Endpoint, "allowed-ips", strings.Join(peer.Routes, ",")}
	if peer.KeepaliveSeconds > 0 {
		args = append(args, "persistent-keepalive", fmt.Sprint(peer.KeepaliveSeconds))
	}
	sh(t, tp.Laptop, "wg", args...)
	sh(t, tp.Laptop, "ip", "addr", "add", peer.Address, "dev", ifname)
	sh(t, tp.Laptop, "ip", "link", "set", ifname, "mtu", fmt.Sprint(peer.MTU), "up")
	for _, r := range peer.Routes {
		sh(t, tp.Laptop, "ip", "route", "add", r, "dev", ifname)
	}

	metrics := curlUntil(t, tp.Laptop, "http://"+c.Prometheus.String()+"/metrics", 15*time.Second)
	if !strings.Contains(metrics, `cluster="c1"`) {
		t.Fatalf("prometheus through the stock tunnel answered %q", metrics)
	}
	if hs := sh(t, tp.Laptop, "wg", "show", ifname, "latest-handshakes"); strings.Contains(hs, "\t0\n") {
		t.Fatalf("wg show reports no handshake:\n%s", hs)
	}
	// The cluster DNS answers through the tunnel too.
	lctx, lcancel := context.WithTimeout(ctx, 10*time.Second)
	addrs, err := topo.LookupUntil(lctx, tp.Laptop, net.JoinHostPort(c.DNS.String(), "53"), "prometheus.monitoring.svc.cluster.local")
	lcancel()
	if err != nil || len(addrs) == 0 || addrs[0] != c.Prometheus.String() {
		t.Fatalf("cluster DNS through the stock tunnel: %v %v", addrs, err)
	}

	// The server sees the handshake (its sweep reads the device's stats every
	// sweep interval), and the peer can be removed with curl.
	peerURL := c.ServerURL() + api.PathPeer + url.PathEscape(pub)
	for deadline := time.Now().Add(5 * time.Second); ; {
		out = sh(t, tp.Laptop, "curl", "-sS", "--fail-with-body", "--max-time", "10", "--cacert", tp.CA.CertFile, "-H", "@"+hdr, peerURL)
		var live api.Peer
		err := json.Unmarshal([]byte(out), &live)
		if err == nil && live.LatestHandshake != nil && live.RxBytes > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET own peer: want a latest handshake and bytes, got %v: %s", err, out)
		}
		time.Sleep(200 * time.Millisecond)
	}
	sh(t, tp.Laptop, "curl", "-sS", "--fail-with-body", "--max-time", "10", "--cacert", tp.CA.CertFile, "-H", "@"+hdr, "-X", "DELETE", peerURL)
	code := strings.TrimSpace(sh(t, tp.Laptop, "curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10", "--cacert", tp.CA.CertFile, "-H", "@"+hdr, peerURL))
	if code != "404" {
		t.Fatalf("after DELETE, GET own peer answered %s, want 404", code)
	}
	wg.Stop(5 * time.Second)
}

// startStockWireGuard runs a plain wireguard-go device (the helper) in ns and
// waits for its UAPI socket, so `wg` can drive it.
func startStockWireGuard(t testing.TB, tp *topo.Topology, ns *topo.NS, ifname string) *topo.Proc {
	t.Helper()
	p, err := tp.StartHelper(ns, "wireguard-go-"+ifname, "wg", "--name", ifname)
	if err != nil {
		t.Fatal(err)
	}
	sock := "/var/run/wireguard/" + ifname + ".sock"
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(sock); err == nil {
			return p
		}
		if done, err := p.Exited(); done || time.Now().After(deadline) {
			t.Fatalf("wireguard-go device %s did not come up (exited=%v %v):\n%s", ifname, done, err, p.Tail(2000))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// curlUntil fetches url with curl from inside ns until it succeeds or timeout
// passes, and returns the body.
func curlUntil(t testing.TB, ns *topo.NS, url string, timeout time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		out, err := ns.Run("curl", "-sS", "--fail", "--max-time", "2", url)
		if err == nil {
			return out
		}
		last = err
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("curl %s from %s did not succeed within %s: %v", url, ns.Role, timeout, last)
	return ""
}
