package tunnel

// Helpers for the system tests: network namespaces (prefix gwt), a veth
// between a "laptop" namespace and a "server" namespace, and a real
// wireguard-go peer in the server namespace configured over UAPI.

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.zx2c4.com/wireguard/conn"
	"golang.zx2c4.com/wireguard/device"
	"golang.zx2c4.com/wireguard/tun"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/ghostwire/ghostwire/internal/testenv"
)

func run(t testing.TB, args ...string) string {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func randSuffix() string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// inNS runs f on a thread switched into namespace ns. Sockets, TUN devices
// and netlink calls made by f belong to ns.
func inNS(t testing.TB, ns string, f func()) {
	t.Helper()
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		t.Fatal(err)
	}
	defer orig.Close()
	target, err := netns.GetFromName(ns)
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	if err := netns.Set(target); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := netns.Set(orig); err != nil {
			return // leave the thread locked: it dies with the goroutine
		}
		runtime.UnlockOSThread()
	}()
	f()
}

// topo is two namespaces joined by a veth: the laptop (client) at
// 10.202.1.1 and the server at 10.202.1.2, which also holds the "service"
// 10.202.100.1 behind its WireGuard interface.
type topo struct {
	id, client, server, cveth, sveth string
}

func newTopo(t testing.TB) *topo {
	t.Helper()
	testenv.RequireSystem(t, "ping", "wg")
	id := randSuffix()
	tp := &topo{id: id, client: "gwtc" + id, server: "gwts" + id, cveth: "gwt" + id + "c", sveth: "gwt" + id + "s"}
	run(t, "ip", "netns", "add", tp.client)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", tp.client).Run() })
	run(t, "ip", "netns", "add", tp.server)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", tp.server).Run() })
	run(t, "ip", "link", "add", tp.cveth, "netns", tp.client, "type", "veth", "peer", "name", tp.sveth, "netns", tp.server)
	for _, c := range [][]string{
		{"-n", tp.client, "addr", "add", "10.202.1.1/24", "dev", tp.cveth},
		{"-n", tp.client, "link", "set", tp.cveth, "up"},
		{"-n", tp.client, "link", "set", "lo", "up"},
		{"-n", tp.server, "addr", "add", "10.202.1.2/24", "dev", tp.sveth},
		{"-n", tp.server, "link", "set", tp.sveth, "up"},
		{"-n", tp.server, "link", "set", "lo", "up"},
		{"-n", tp.server, "addr", "add", "10.202.100.1/32", "dev", "lo"},
		{"-n", tp.server, "addr", "add", "10.202.50.1/32", "dev", "lo"},
		{"-n", tp.server, "addr", "add", "10.202.101.1/32", "dev", "lo"},
	} {
		run(t, append([]string{"ip"}, c...)...)
	}
	return tp
}

// peer is the server side: a wireguard-go device on its own TUN.
type peer struct {
	pub  Key
	priv wgtypes.Key
	dev  *device.Device
}

// startPeer runs a wireguard-go device in the server namespace listening on
// :51820 with address 100.82.0.1/24, accepting client.
func (tp *topo) startPeer(t testing.TB, client Key) *peer { return tp.startPeerN(t, client, 0) }

// startPeerN is peer number n (a second cluster for n = 1): port 51820+n,
// address 100.82.n.1/24, client 100.82.n.2.
func (tp *topo) startPeerN(t testing.TB, client Key, n int) *peer {
	t.Helper()
	priv, _ := wgtypes.GeneratePrivateKey()
	p := &peer{pub: priv.PublicKey(), priv: priv}
	name := "gwt" + tp.id + string(rune('p'+n))
	port := 51820 + n
	inNS(t, tp.server, func() {
		td, err := tun.CreateTUN(name, 1420)
		if err != nil {
			t.Fatal(err)
		}
		p.dev = device.NewDevice(td, conn.NewDefaultBind(), device.NewLogger(device.LogLevelSilent, ""))
		cfg := fmt.Sprintf("private_key=%s\nlisten_port=%d\npublic_key=%s\nallowed_ip=100.82.%d.2/32\n",
			hex.EncodeToString(priv[:]), port, hex.EncodeToString(client[:]), n)
		if err := p.dev.IpcSet(cfg); err != nil {
			t.Fatal(err)
		}
		if err := p.dev.Up(); err != nil {
			t.Fatal(err)
		}
		// wireguard-go's event goroutine may have started the device (and
		// opened its socket) on a thread outside this namespace: a
		// listen_port line rebinds it here, on this thread.
		if err := p.dev.IpcSet(fmt.Sprintf("listen_port=%d\n", port)); err != nil {
			t.Fatal(err)
		}
		l, err := netlink.LinkByName(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := netlink.AddrAdd(l, &netlink.Addr{IPNet: ipNet(netip.MustParsePrefix(fmt.Sprintf("100.82.%d.1/24", n)))}); err != nil {
			t.Fatal(err)
		}
		if err := netlink.LinkSetUp(l); err != nil {
			t.Fatal(err)
		}
	})
	t.Cleanup(p.dev.Close)
	return p
}

// clientConfig is a tunnel in the client namespace towards the peer.
func (tp *topo) clientConfig(t testing.TB, priv PrivateKey, p *peer, endpoint string, routes ...string) Config {
	cfg := Config{
		Interface:  "gwt" + tp.id + "t",
		PrivateKey: priv,
		Address:    netip.MustParsePrefix("100.82.0.2/24"),
		Peer: Peer{
			PublicKey: p.pub,
			Endpoint:  netip.MustParseAddrPort(endpoint),
			Keepalive: 25 * time.Second,
		},
		JournalDir: t.TempDir(),
		DNSMode:    DNSOff,
	}
	for _, r := range routes {
		cfg.Peer.AllowedIPs = append(cfg.Peer.AllowedIPs, netip.MustParsePrefix(r))
	}
	return cfg
}

// up brings a tunnel up (in the child: the process is in the client
// namespace) and closes it at cleanup.
func up(t testing.TB, cfg Config) *Tunnel {
	t.Helper()
	tn, err := Up(t.Context(), cfg, testLog(t))
	if err != nil {
		t.Fatalf("Up: %v", err)
	}
	t.Cleanup(func() { _ = tn.Close() })
	return tn
}

// waitHandshake waits for the active peer's first handshake.
func waitHandshake(t testing.TB, tn *Tunnel) Stats {
	t.Helper()
	return waitPeerHandshake(t, tn, tn.Active())
}

// waitPeerHandshake waits for the first handshake with peer pub, the
// active one or a standby.
func waitPeerHandshake(t testing.TB, tn *Tunnel, pub Key) Stats {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		st, err := tn.PeerStats()
		if err != nil {
			t.Fatal(err)
		}
		if s := st[pub]; !s.LatestHandshake.IsZero() {
			return s
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no WireGuard handshake with %s within 15s", pub)
	return Stats{}
}

// The client half of a system test runs in a child process started inside
// the client namespace with `ip netns exec`, so that every thread, socket
// and the /etc/resolv.conf bind mount are the namespace's own. (A thread
// switched with setns is not enough: wireguard-go starts the device from its
// own event goroutine, which would open the UDP socket in another
// namespace.) The parent keeps the server half. Both run the same test
// function; isChild tells which half this is.

func isChild(t testing.TB) bool { return os.Getenv("GWT_CHILD") == t.Name() }

// inChildProcess is true in every test of a child process: a test that is
// not the child's own must do nothing there.
func inChildProcess() bool { return os.Getenv("GWT_CHILD") != "" }

// childEnv reads what the parent handed over.
func childEnv(t testing.TB) (tp *topo, priv PrivateKey, peerPub Key, journalDir string) {
	id := os.Getenv("GWT_ID")
	tp = &topo{id: id, client: "gwtc" + id, server: "gwts" + id, cveth: "gwt" + id + "c", sveth: "gwt" + id + "s"}
	b, err := hex.DecodeString(os.Getenv("GWT_KEY"))
	if err != nil || len(b) != 32 {
		t.Fatal("GWT_KEY missing")
	}
	copy(priv[:], b)
	b, _ = hex.DecodeString(os.Getenv("GWT_PEER"))
	copy(peerPub[:], b)
	return tp, priv, peerPub, os.Getenv("GWT_JOURNAL")
}

// childCall asks the parent to do msg (server side) and waits for its answer.
func childCall(t testing.TB, msg string) string {
	fmt.Printf("GWT:%s\n", msg)
	line, err := stdin.ReadString('\n')
	if err != nil {
		t.Fatalf("parent gone: %v", err)
	}
	return strings.TrimSpace(line)
}

var stdin = bufio.NewReader(os.Stdin)

// runChild runs t's client half in the client namespace and answers its
// calls with onCall. extra env entries are KEY=VALUE.
func (tp *topo) runChild(t testing.TB, priv PrivateKey, p *peer, onCall func(string) string, extra ...string) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(t.Name(), "/")
	for i := range parts {
		parts[i] = "^" + regexp.QuoteMeta(parts[i]) + "$"
	}
	sel := "-test.run=" + strings.Join(parts, "/")
	if _, ok := t.(*testing.B); ok {
		sel = "-test.run=^$ -test.bench=" + strings.Join(parts, "/") + " -test.benchtime=1x"
	}
	args := append([]string{"netns", "exec", tp.client, exe}, strings.Fields(sel)...)
	cmd := exec.Command("ip", append(args, "-test.v", "-test.count=1", "-test.timeout=2m")...)
	cmd.Env = append(os.Environ(), "GWT_CHILD="+t.Name(), "GWT_ID="+tp.id, "GWT_KEY="+priv.hex(),
		"GWT_PEER="+hex.EncodeToString(p.pub[:]), "GWT_JOURNAL="+t.TempDir())
	cmd.Env = append(cmd.Env, extra...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = testWriter{t}
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	passed, skipped := false, false
	for sc.Scan() {
		line := sc.Text()
		if msg, ok := strings.CutPrefix(line, "GWT:"); ok {
			ans := "ok"
			if onCall != nil {
				ans = onCall(msg)
			}
			fmt.Fprintln(in, ans)
			continue
		}
		passed = passed || line == "PASS" || line == "ok"
		skipped = skipped || strings.Contains(line, "--- SKIP")
		t.Log("client: " + line)
	}
	if err := cmd.Wait(); err != nil || !passed || skipped {
		t.Fatalf("the client half failed in namespace %s: %v", tp.client, err)
	}
}
