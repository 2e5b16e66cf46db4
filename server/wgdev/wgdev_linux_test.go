package wgdev

import (
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/ghostwire/ghostwire/internal/testenv"
	"github.com/ghostwire/ghostwire/server/internal/nstest"
)

// A userspace server device in one namespace, a userspace client device in
// another, a real handshake between them, per-peer add and remove seen
// through wgctrl, and everything gone after Close.
func TestUserspaceDeviceHandshake(t *testing.T) {
	testenv.RequireSystem(t)
	nsS, nsC := nstest.Pair(t, "10.201.1.1/30", "10.201.1.2/30")
	id := rand.IntN(1 << 16)
	srvName, cliName := fmt.Sprintf("gwss%04x", id), fmt.Sprintf("gwsc%04x", id)
	srvKey, _ := wgtypes.GeneratePrivateKey()
	cliKey, _ := wgtypes.GeneratePrivateKey()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

	srv, err := Open(Options{Name: srvName, Mode: ModeAuto, ListenPort: 51821, PrivateKey: srvKey,
		Address: netip.MustParsePrefix("100.81.1.1/24"), MTU: 1420, Logger: log, NetNS: nsS})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if srv.Kind() != KindUserspace {
		t.Logf("kernel WireGuard present: kind %s", srv.Kind())
	}
	cli, err := Open(Options{Name: cliName, Mode: ModeUserspace, ListenPort: 51822, PrivateKey: cliKey,
		Address: netip.MustParsePrefix("100.81.1.2/32"), MTU: 1420, Logger: log, NetNS: nsC})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()

	if err := srv.Check(); err != nil {
		t.Fatalf("fresh device not ready: %v", err)
	}
	// Server side: one peer, the client, at 100.81.1.2/32.
	if err := srv.AddPeer(cliKey.PublicKey(), netip.MustParsePrefix("100.81.1.2/32")); err != nil {
		t.Fatal(err)
	}
	wc, err := wgctrl.New()
	if err != nil {
		t.Fatal(err)
	}
	defer wc.Close()
	dev, err := wc.Device(srvName)
	if err != nil || len(dev.Peers) != 1 || dev.Peers[0].PublicKey != cliKey.PublicKey() || dev.Peers[0].AllowedIPs[0].String() != "100.81.1.2/32" {
		t.Fatalf("wgctrl view of the server: %+v %v", dev, err)
	}
	// Client side: the server as peer, with endpoint and keepalive (which
	// makes wireguard-go start the handshake at once).
	ka := time.Second
	_, all, _ := net.ParseCIDR("100.81.1.0/24")
	err = wc.ConfigureDevice(cliName, wgtypes.Config{Peers: []wgtypes.PeerConfig{{
		PublicKey: srvKey.PublicKey(), Endpoint: &net.UDPAddr{IP: net.ParseIP("10.201.1.1"), Port: 51821},
		AllowedIPs: []net.IPNet{*all}, PersistentKeepaliveInterval: &ka,
	}}})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		peers, err := srv.Peers()
		if err != nil {
			t.Fatal(err)
		}
		if len(peers) == 1 && !peers[0].LastHandshakeTime.IsZero() {
			if peers[0].Endpoint == nil || peers[0].Endpoint.IP.String() != "10.201.1.2" {
				t.Fatalf("handshake from unexpected endpoint %v", peers[0].Endpoint)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no handshake within 10 s: %+v", peers)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Traffic flows through the tunnel.
	nstest.Run(t, "ip", "-n", nsC, "route", "add", "100.81.1.0/24", "dev", cliName)
	nstest.Run(t, "ip", "netns", "exec", nsC, "ping", "-c", "1", "-W", "2", "100.81.1.1")

	if err := srv.RemovePeer(cliKey.PublicKey()); err != nil {
		t.Fatal(err)
	}
	if peers, _ := srv.Peers(); len(peers) != 0 {
		t.Fatalf("peer still there: %+v", peers)
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if err := srv.Check(); err == nil {
		t.Fatal("closed device reported ready")
	}
	if _, err := os.Stat(filepath.Join(UAPIDir, srvName+".sock")); !os.IsNotExist(err) {
		t.Fatalf("UAPI socket left behind: %v", err)
	}
	if out, err := runIn(nsS, "ip", "link", "show", srvName); err == nil {
		t.Fatalf("interface left behind: %s", out)
	}
}

func runIn(ns string, args ...string) (string, error) {
	out, err := execCommand("ip", append([]string{"netns", "exec", ns}, args...)...)
	return out, err
}

// udpBound says whether UDP port is bound in namespace ns ("" for the
// test's own), read from /proc/net/udp and udp6 as seen from there.
func udpBound(t *testing.T, ns string, port int) bool {
	t.Helper()
	var out string
	var err error
	if ns == "" {
		// This thread's view: /proc/net is the thread group leader's, and
		// the main thread may have been left inside a namespace.
		ch := make(chan string)
		go func() {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			var b []byte
			for _, f := range []string{"/proc/thread-self/net/udp", "/proc/thread-self/net/udp6"} {
				c, _ := os.ReadFile(f)
				b = append(b, c...)
			}
			ch <- string(b)
		}()
		out = <-ch
	} else if out, err = runIn(ns, "cat", "/proc/net/udp", "/proc/net/udp6"); err != nil {
		t.Fatalf("reading the sockets of %s: %v %s", ns, err, out)
	}
	suffix := fmt.Sprintf(":%04X", port)
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) > 1 && strings.HasSuffix(f[1], suffix) {
			return true
		}
	}
	return false
}

// wireguard-go brings its device up (binding its UDP socket) from its own
// TUN event goroutine whenever the TUN reports "up": at start, at a moment
// of its own choosing, and after the link went down and up. That goroutine
// runs on any OS thread, outside the device's namespace. When the event
// came between Open's listen_port (which binds nothing while the device is
// down) and Open's own Up, the socket listened in the host's namespace and
// no handshake ever arrived: the rare "no handshake within 10 s" of
// TestUserspaceDeviceHandshake. Here the test's goroutine, outside the
// namespace like wireguard-go's, brings the device down and up, every time.
func TestUserspaceDeviceRebindsInsideItsNamespace(t *testing.T) {
	testenv.RequireSystem(t)
	ns := nstest.NS(t, "r")
	name := fmt.Sprintf("gwsr%04x", rand.IntN(1<<16))
	port := 40000 + rand.IntN(20000)
	key, _ := wgtypes.GeneratePrivateKey()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	dev, err := Open(Options{Name: name, Mode: ModeUserspace, ListenPort: port, PrivateKey: key,
		Address: netip.MustParsePrefix("100.81.2.1/24"), MTU: 1420, Logger: log, NetNS: ns})
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	if !udpBound(t, ns, port) || udpBound(t, "", port) {
		t.Fatalf("after Open: bound in the namespace %v, outside %v", udpBound(t, ns, port), udpBound(t, "", port))
	}
	for i := 0; i < 3; i++ {
		// (A late event of wireguard-go's may bring it up again at once,
		// from its own goroutine: outside the namespace too.)
		if err := dev.wg.Down(); err != nil {
			t.Fatal(err)
		}
		if err := dev.wg.Up(); err != nil {
			t.Fatal(err)
		}
		if in, out := udpBound(t, ns, port), udpBound(t, "", port); !in || out {
			t.Fatalf("cycle %d: Up from outside the namespace bound the socket inside: %v, outside: %v", i+1, in, out)
		}
	}
}
