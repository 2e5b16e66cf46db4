package tunnel

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
)

func routeShow(t testing.TB, dst string) string {
	t.Helper()
	return strings.TrimSpace(run(t, "ip", "route", "show", dst))
}

// tcpEcho listens in ns on addr and echoes one connection.
func tcpEcho(t testing.TB, ns, addr string) {
	t.Helper()
	var l net.Listener
	var err error
	inNS(t, ns, func() { l, err = net.Listen("tcp", addr) })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); _, _ = io.Copy(c, c) }()
		}
	}()
}

func tcpRoundTrip(t testing.TB, addr string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatalf("TCP through the tunnel to %s: %v", addr, err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	msg := []byte("hello through ghostwire")
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil || string(got) != string(msg) {
		t.Fatalf("TCP echo: %q, %v", got, err)
	}
}

func TestTunnelUpHandshakePingTCPClose(t *testing.T) {
	if isChild(t) {
		tp, priv, peerPub, jdir := childEnv(t)
		cfg := tp.clientConfig(t, priv, &peer{pub: peerPub}, "10.202.1.2:51820", "100.82.0.0/24", "10.202.100.0/24", "fd00:202:100::/48")
		cfg.JournalDir = jdir
		cfg.MTU = 1380
		// Someone else's interface of the same name is refused and left alone.
		taken := cfg
		taken.Interface = tp.cveth
		if _, err := Up(t.Context(), taken, testLog(t)); err == nil || !strings.Contains(err.Error(), "exists already") {
			t.Fatalf("Up over an existing interface: %v", err)
		}
		if _, err := netlink.LinkByName(tp.cveth); err != nil {
			t.Fatalf("the existing interface was removed: %v", err)
		}
		tn := up(t, cfg)
		if _, err := Up(t.Context(), cfg, testLog(t)); err == nil || !strings.Contains(err.Error(), "already up") {
			t.Fatalf("second Up on the same interface: %v", err)
		}
		l, err := netlink.LinkByName(cfg.Interface)
		if err != nil {
			t.Fatalf("interface %s missing: %v", cfg.Interface, err)
		}
		if l.Attrs().MTU != 1380 || l.Attrs().Flags&net.FlagUp == 0 {
			t.Fatalf("interface: mtu %d flags %v, want 1380 and up", l.Attrs().MTU, l.Attrs().Flags)
		}
		addrs, _ := netlink.AddrList(l, netlink.FAMILY_V4)
		if len(addrs) != 1 || addrs[0].IPNet.String() != "100.82.0.2/24" {
			t.Fatalf("addresses %v, want 100.82.0.2/24", addrs)
		}
		if r := routeShow(t, "10.202.100.0/24"); !strings.Contains(r, "dev "+cfg.Interface) {
			t.Fatalf("route 10.202.100.0/24: %q", r)
		}
		if r := run(t, "ip", "-6", "route", "show", "fd00:202:100::/48"); !strings.Contains(r, "dev "+cfg.Interface) {
			t.Fatalf("route fd00:202:100::/48: %q", r)
		}
		s := waitHandshake(t, tn)
		t.Logf("handshake at %s", s.LatestHandshake)
		run(t, "ping", "-c", "2", "-W", "3", "10.202.100.1")
		run(t, "ping", "-c", "1", "-W", "3", "100.82.0.1")
		tcpRoundTrip(t, "10.202.100.1:8080")
		outgoingSignal(t, tn, "10.202.100.1")
		s2, err := tn.Stats()
		if err != nil || s2.RxBytes == 0 || s2.TxBytes == 0 {
			t.Fatalf("stats after traffic: %+v, %v", s2, err)
		}
		rehandshake(t, tn, s2.LatestHandshake, "10.202.1.2")
		// `wg show` sees the embedded device through its UAPI socket.
		out := run(t, "wg", "show", cfg.Interface)
		if !strings.Contains(out, peerPub.String()) || !strings.Contains(out, "latest handshake") {
			t.Fatalf("wg show:\n%s", out)
		}
		// The journal holds the changes and no secret.
		jb, err := os.ReadFile(journalPath(cfg.JournalDir, cfg.Interface))
		if err != nil {
			t.Fatal(err)
		}
		for _, secret := range []string{hex.EncodeToString(priv[:]), base64.StdEncoding.EncodeToString(priv[:])} {
			if strings.Contains(string(jb), secret) {
				t.Fatal("the journal contains the private key")
			}
		}
		if !strings.Contains(string(jb), `"route"`) || !strings.Contains(string(jb), `"addr"`) {
			t.Fatalf("journal lacks entries:\n%s", jb)
		}
		if err := tn.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := netlink.LinkByName(cfg.Interface); err == nil {
			t.Fatal("interface still exists after Close")
		}
		if r := run(t, "ip", "route", "show") + run(t, "ip", "-6", "route", "show"); strings.Contains(r, "100.82.") ||
			strings.Contains(r, "10.202.100.") || strings.Contains(r, "fd00:202:100:") {
			t.Fatalf("route left after Close:\n%s", r)
		}
		if _, err := os.Stat(journalPath(cfg.JournalDir, cfg.Interface)); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("journal left after Close: %v", err)
		}
		if _, err := os.Stat(uapiSocketPath(cfg.Interface)); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("UAPI socket left after Close: %v", err)
		}
		if err := exec.Command("ping", "-c", "1", "-W", "1", "10.202.100.1").Run(); err == nil {
			t.Fatal("the service is still reachable after Close")
		}
		return
	}
	tp := newTopo(t)
	priv := newKey(t)
	p := tp.startPeer(t, priv.Public())
	tcpEcho(t, tp.server, "10.202.100.1:8080")
	tp.runChild(t, priv, p, nil)
}

// The server endpoint lies inside a pushed range (10.202.0.0/16 holds
// 10.202.50.1, reached through the laptop's default gateway): without the
// pinned host route the handshake would be routed into the tunnel itself.
func TestTunnelRoutingLoopPin(t *testing.T) {
	for _, tc := range []struct {
		name   string
		routes []string
		full   bool
	}{
		{"cluster-range", []string{"100.82.0.0/24", "10.202.0.0/16"}, false},
		{"full-tunnel", []string{"0.0.0.0/0"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if isChild(t) {
				tp, priv, peerPub, jdir := childEnv(t)
				cfg := tp.clientConfig(t, priv, &peer{pub: peerPub}, "10.202.50.1:51820", tc.routes...)
				cfg.JournalDir = jdir
				cfg.AllowFullTunnel = tc.full
				tn := up(t, cfg)
				pin := routeShow(t, "10.202.50.1")
				if !strings.Contains(pin, "via 10.202.1.2 dev "+tp.cveth) {
					t.Fatalf("no pinned route to the endpoint: %q", pin)
				}
				waitHandshake(t, tn)
				run(t, "ping", "-c", "1", "-W", "3", "10.202.100.1")
				// A network change: Reconfigure re-pins (the kernel's own
				// answer for the endpoint is now the tunnel; the pin must
				// still go through the real gateway).
				if err := tn.Reconfigure(t.Context(), cfg); err != nil {
					t.Fatal(err)
				}
				if pin := routeShow(t, "10.202.50.1"); !strings.Contains(pin, "via 10.202.1.2 dev "+tp.cveth) {
					t.Fatalf("no pinned route after re-pin: %q", pin)
				}
				run(t, "ping", "-c", "1", "-W", "3", "10.202.100.1")
				if got := run(t, "ip", "route", "get", "10.202.100.1"); !strings.Contains(got, "dev "+cfg.Interface) {
					t.Fatalf("10.202.100.1 does not go through the tunnel: %s", got)
				}
				// A real network change (another Wi-Fi): a new link with
				// another gateway becomes the default route and the old link
				// goes down. Reconfigure with the same config (what the
				// engine does on a network change) moves the pin to the new
				// gateway, and a forced handshake is answered over it.
				s, err := tn.Stats()
				if err != nil {
					t.Fatal(err)
				}
				newLink := "gwt" + tp.id + "n"
				run(t, "ip", "link", "add", newLink, "type", "veth", "peer", "name", "gwt"+tp.id+"m", "netns", tp.server)
				run(t, "ip", "-n", tp.server, "addr", "add", "10.202.2.2/24", "dev", "gwt"+tp.id+"m")
				run(t, "ip", "-n", tp.server, "link", "set", "gwt"+tp.id+"m", "up")
				run(t, "ip", "addr", "add", "10.202.2.1/24", "dev", newLink)
				run(t, "ip", "link", "set", newLink, "up")
				run(t, "ip", "route", "replace", "default", "via", "10.202.2.2")
				run(t, "ip", "link", "set", tp.cveth, "down")
				if err := tn.Reconfigure(t.Context(), cfg); err != nil {
					t.Fatal(err)
				}
				if pin := routeShow(t, "10.202.50.1"); !strings.Contains(pin, "via 10.202.2.2 dev "+newLink) {
					t.Fatalf("the pin did not follow the new gateway: %q", pin)
				}
				rehandshake(t, tn, s.LatestHandshake, "10.202.2.2")
				if tc.full && !strings.Contains(routeShow(t, "0.0.0.0/1"), cfg.Interface) {
					t.Fatal("full tunnel: no 0.0.0.0/1 route")
				}
				if err := tn.Close(); err != nil {
					t.Fatal(err)
				}
				if r := routeShow(t, "10.202.50.1"); r != "" {
					t.Fatalf("pinned route left after Close: %q", r)
				}
				if r := routeShow(t, "default"); !strings.Contains(r, "via 10.202.2.2") { // the new network's
					t.Fatalf("default route changed: %q", r)
				}
				return
			}
			if inChildProcess() {
				t.Skip("not this child's test")
			}
			tp := newTopo(t)
			run(t, "ip", "-n", tp.client, "route", "add", "default", "via", "10.202.1.2")
			priv := newKey(t)
			p := tp.startPeer(t, priv.Public())
			tp.runChild(t, priv, p, nil)
		})
	}
}

// Reconfigure rotates the key and changes address and routes while the
// interface stays; the server swaps the peer the way ghostwire-server does.
func TestTunnelReconfigureRotatesKey(t *testing.T) {
	if isChild(t) {
		tp, priv, peerPub, jdir := childEnv(t)
		cfg := tp.clientConfig(t, priv, &peer{pub: peerPub}, "10.202.1.2:51820", "100.82.0.0/24", "10.202.100.0/24")
		cfg.JournalDir = jdir
		tn := up(t, cfg)
		waitHandshake(t, tn)
		run(t, "ping", "-c", "1", "-W", "5", "10.202.100.1")
		l1, _ := netlink.LinkByName(cfg.Interface)
		next := newKey(t)
		pk, nk := priv.Public(), next.Public()
		childCall(t, "swap "+hex.EncodeToString(pk[:])+" "+hex.EncodeToString(nk[:]))
		cfg2 := cfg
		cfg2.PrivateKey = next
		cfg2.Address = netip.MustParsePrefix("100.82.0.3/24")
		cfg2.Peer.AllowedIPs = append(slices.Clone(cfg2.Peer.AllowedIPs), netip.MustParsePrefix("10.202.101.0/24"))
		if err := tn.Reconfigure(t.Context(), cfg2); err != nil {
			t.Fatal(err)
		}
		l2, _ := netlink.LinkByName(cfg.Interface)
		if l1 == nil || l2 == nil || l1.Attrs().Index != l2.Attrs().Index {
			t.Fatal("the interface was recreated by Reconfigure")
		}
		// The routes that were there before the address changed are still
		// there (removing the last IPv4 address flushes them in the kernel).
		for _, r := range []string{"10.202.100.0/24", "10.202.101.0/24"} {
			if got := routeShow(t, r); !strings.Contains(got, "dev "+cfg.Interface) {
				t.Fatalf("route %s after Reconfigure: %q", r, got)
			}
		}
		run(t, "ping", "-c", "1", "-W", "5", "10.202.100.1")
		addrs, _ := netlink.AddrList(l2, netlink.FAMILY_V4)
		if len(addrs) != 1 || addrs[0].IPNet.String() != "100.82.0.3/24" {
			t.Fatalf("addresses after Reconfigure: %v", addrs)
		}
		j, _ := loadJournal(journalPath(cfg.JournalDir, cfg.Interface))
		for _, e := range j.Entries {
			if e.Kind == kindAddr && e.Prefix.String() == "100.82.0.2/24" {
				t.Fatal("the journal still lists the old address")
			}
		}
		if err := tn.Close(); err != nil {
			t.Fatal(err)
		}
		return
	}
	tp := newTopo(t)
	priv := newKey(t)
	p := tp.startPeer(t, priv.Public())
	tp.runChild(t, priv, p, func(msg string) string {
		f := strings.Fields(msg) // swap <old> <new>
		err := p.dev.IpcSet("public_key=" + f[1] + "\nremove=true\npublic_key=" + f[2] + "\nallowed_ip=100.82.0.3/32\n")
		if err != nil {
			t.Error(err)
		}
		return "ok"
	})
}

// outgoingSignal checks that a packet sent into the tunnel ends a wait on
// Outgoing, as the daemon's idle watch relies on.
func outgoingSignal(t *testing.T, tn *Tunnel, dst string) {
	t.Helper()
	ch := tn.Outgoing()
	start := time.Now()
	run(t, "ping", "-c", "1", "-W", "3", dst)
	select {
	case <-ch:
		t.Logf("Outgoing signalled %s after the ping started", time.Since(start).Round(time.Microsecond))
	case <-time.After(2 * time.Second):
		t.Fatal("a ping through the tunnel did not signal Outgoing")
	}
}

// rehandshake checks that Rehandshake makes a new handshake with a live
// session, and within 5 s of the previous initiation (where wireguard-go's
// SendHandshakeInitiation alone sends nothing): the new LatestHandshake is
// after the call, and traffic still flows on the new session. pingAddr is
// the server's underlay address, to compare with one round trip.
func rehandshake(t *testing.T, tn *Tunnel, prev time.Time, pingAddr string) {
	t.Helper()
	before := time.Now()
	if err := tn.Rehandshake(); err != nil {
		t.Fatal(err)
	}
	var s Stats
	for deadline := before.Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		var err error
		if s, err = tn.Stats(); err != nil {
			t.Fatal(err)
		}
		if s.LatestHandshake.After(before) || time.Now().After(deadline) {
			break
		}
	}
	seen := time.Now()
	if !s.LatestHandshake.After(before) || !s.LatestHandshake.After(prev) {
		t.Fatalf("no new handshake after Rehandshake: latest %s, previous %s, called at %s", s.LatestHandshake, prev, before)
	}
	// One round trip here, measured by ping for comparison.
	out := run(t, "ping", "-c", "3", "-i", "0.2", "-W", "3", pingAddr)
	rtt := ""
	if i := strings.Index(out, "rtt "); i >= 0 {
		rtt = strings.TrimSpace(out[i:])
	}
	t.Logf("Rehandshake: new handshake %s after the call (seen by polling after %s); %s",
		s.LatestHandshake.Sub(before).Round(time.Microsecond), seen.Sub(before).Round(time.Microsecond), rtt)
	run(t, "ping", "-c", "1", "-W", "3", "10.202.100.1")
}
