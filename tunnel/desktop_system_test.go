package tunnel

// The desktop scenario: one system test, the same on every OS, of what a
// person sees. A real tunnel (TUN, utun or wintun) comes up against an
// in-process WireGuard peer (internal/wgpeer: wireguard-go on a userspace
// stack behind loopback UDP, with an HTTP service and a cluster DNS server);
// the pushed range is routed through our interface; the short name
// "prometheus" resolves through the system resolver to the cluster's answer
// and `GET http://prometheus/` works; a name outside the cluster resolves as
// before; after Close, and after the process holding the tunnel is killed
// and Recover runs, nothing of ours is left.
//
// Each OS's desktop_<os>_test.go supplies a desktopHost: where the scenario
// may run (Linux: a fresh network namespace; macOS and Windows: the machine
// itself, only when GHOSTWIRE_DESKTOP_SYSTEM=1 on a disposable CI runner as
// root or Administrator), how to tell that a range is routed through our
// interface, and what of ours the OS still holds.

import (
	"bufio"
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ghostwire/ghostwire/internal/wgpeer"
)

// desktopHost is what the scenario needs from the OS under test.
type desktopHost struct {
	// iface is the interface name to ask for.
	iface string
	// dnsMode is the mode the OS should pick by itself (checked against DNSMode()).
	dnsMode DNSMode
	// routed reports whether p is routed through iface now.
	routed func(t *testing.T, iface string, p netip.Prefix) bool
	// leftovers lists what of ours the OS still holds (interfaces, routes,
	// DNS settings), for after Close and after Recover.
	leftovers func(t *testing.T, iface string) []string
	// tune adjusts a config for this host (nil: nothing to adjust).
	tune func(*Config)
	// connected, when set, checks more while the tunnel is up (the OS's own
	// resolver tools, curl).
	connected func(t *testing.T, iface string)
}

const desktopEnv = "GHOSTWIRE_DESKTOP_SYSTEM"

func TestDesktopSystem(t *testing.T) {
	if os.Getenv("GWT_CHILD") != "" {
		t.Skip("not this child's test")
	}
	desktopRun(t, func(t *testing.T, h desktopHost) {
		peer, err := wgpeer.Start(testLog(t))
		if err != nil {
			t.Fatal(err)
		}
		defer peer.Close()
		outside := outsideName()
		before, beforeErr := net.DefaultResolver.LookupNetIP(t.Context(), "ip4", outside)

		cfg := desktopConfig(t, h, peer)
		tn, err := Up(t.Context(), cfg, testLog(t))
		if err != nil {
			t.Fatal(err)
		}
		closed := false
		defer func() {
			if !closed {
				_ = tn.Close()
			}
		}()
		if got := tn.DNSMode(); got != h.dnsMode {
			t.Errorf("DNS mode %q, want %q on this system", got, h.dnsMode)
		}
		if !h.routed(t, tn.Name(), wgpeer.Range) {
			t.Errorf("%s is not routed through %s", wgpeer.Range, tn.Name())
		}
		if got := lookupUntil(t, wgpeer.Service, 15*time.Second); got != wgpeer.ServiceAddr {
			t.Fatalf("%s resolved to %s, want %s (the cluster's answer)", wgpeer.Service, got, wgpeer.ServiceAddr)
		}
		body := httpGet(t, "http://"+wgpeer.Service+"/")
		if body != wgpeer.Body {
			t.Fatalf("GET http://%s/: %q, want %q", wgpeer.Service, body, wgpeer.Body)
		}
		if s, err := tn.Stats(); err != nil || s.LatestHandshake.IsZero() {
			t.Fatalf("no handshake recorded after traffic: %+v %v", s, err)
		}
		if h.connected != nil {
			h.connected(t, tn.Name())
		}
		after, afterErr := net.DefaultResolver.LookupNetIP(t.Context(), "ip4", outside)
		if (beforeErr == nil) != (afterErr == nil) || !sameAddrs(before, after) {
			t.Errorf("the outside name %s changed: before %v (%v), while connected %v (%v)", outside, before, beforeErr, after, afterErr)
		}
		for _, q := range peer.Queries() {
			if !strings.HasSuffix(q, "."+wgpeer.Domain+".") {
				t.Errorf("the cluster's DNS server was asked for %q, outside its domain", q)
			}
		}
		name := tn.Name()
		closed = true
		if err := tn.Close(); err != nil {
			t.Fatal(err)
		}
		if left := h.leftovers(t, name); len(left) > 0 {
			t.Errorf("after Close the system still holds: %v", left)
		}
		if h.routed(t, name, wgpeer.Range) {
			t.Errorf("%s is still routed through %s after Close", wgpeer.Range, name)
		}
	})
}

// The process holding the tunnel is killed (SIGKILL, TerminateProcess): it
// cleans nothing up. Recover, as the next daemon start runs it, leaves
// nothing of ours behind.
func TestDesktopSystemKilled(t *testing.T) {
	if os.Getenv("GWT_DESKTOP_HOLDER") != "" {
		desktopHold(t, desktopHostFor(t))
		return
	}
	if os.Getenv("GWT_CHILD") != "" {
		t.Skip("not this child's test")
	}
	desktopRun(t, func(t *testing.T, h desktopHost) {
		peer, err := wgpeer.Start(testLog(t))
		if err != nil {
			t.Fatal(err)
		}
		defer peer.Close()
		journal := t.TempDir()
		exe, err := os.Executable()
		if err != nil {
			t.Fatal(err)
		}
		priv := newKey(t)
		if err := peer.Allow(priv.Public(), wgpeer.ClientAddr); err != nil {
			t.Fatal(err)
		}
		pub := peer.PublicKey()
		cmd := exec.Command(exe, "-test.run=^TestDesktopSystemKilled$", "-test.v", "-test.count=1")
		cmd.Env = append(os.Environ(), "GWT_DESKTOP_HOLDER=1", "GWT_KEY="+priv.hex(),
			"GWT_PEER="+hex.EncodeToString(pub[:]), "GWT_ENDPOINT="+peer.Endpoint().String(),
			"GWT_JOURNAL="+journal, "GWT_IFACE="+h.iface)
		cmd.Stderr = testWriter{t}
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		name := waitHolder(t, out)
		if got := lookupUntil(t, wgpeer.Service, 15*time.Second); got != wgpeer.ServiceAddr {
			t.Fatalf("the holder's tunnel does not resolve %s: %s", wgpeer.Service, got)
		}
		if err := cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()
		if err := Recover(journal, testLog(t)); err != nil {
			t.Fatalf("Recover: %v", err)
		}
		if left := h.leftovers(t, name); len(left) > 0 {
			t.Errorf("after kill and Recover the system still holds: %v", left)
		}
		if h.routed(t, name, wgpeer.Range) {
			t.Errorf("%s is still routed through %s after kill and Recover", wgpeer.Range, name)
		}
		if entries, _ := os.ReadDir(journal); len(entries) > 0 {
			t.Errorf("journal not emptied by Recover: %v", entries)
		}
	})
}

// desktopHold is the killed process: it brings the tunnel up, says so with
// the interface's name, and waits.
func desktopHold(t *testing.T, h desktopHost) {
	var priv PrivateKey
	var pub Key
	k, err1 := hex.DecodeString(os.Getenv("GWT_KEY"))
	p, err2 := hex.DecodeString(os.Getenv("GWT_PEER"))
	if err1 != nil || err2 != nil || len(k) != 32 || len(p) != 32 {
		t.Fatal("GWT_KEY and GWT_PEER must hold the keys in hex")
	}
	copy(priv[:], k)
	copy(pub[:], p)
	cfg := h.config(os.Getenv("GWT_IFACE"), priv, pub,
		netip.MustParseAddrPort(os.Getenv("GWT_ENDPOINT")), os.Getenv("GWT_JOURNAL"))
	tn, err := Up(context.Background(), cfg, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("GWT-UP:%s\n", tn.Name())
	select {} // until killed
}

// waitHolder logs the holder's output and returns its interface's name
// once it says the tunnel is up.
func waitHolder(t *testing.T, out io.Reader) string {
	t.Helper()
	got := make(chan string, 1)
	go func() {
		defer close(got)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			line := sc.Text()
			if name, ok := strings.CutPrefix(line, "GWT-UP:"); ok {
				got <- strings.TrimSpace(name)
				continue
			}
			t.Log("holder: " + line)
		}
	}()
	select {
	case name, ok := <-got:
		if !ok {
			t.Fatal("the process holding the tunnel ended before bringing it up (see its log above)")
		}
		return name
	case <-time.After(60 * time.Second):
		t.Fatal("the process holding the tunnel did not bring it up within 60s")
	}
	return ""
}

func desktopConfig(t *testing.T, h desktopHost, peer *wgpeer.Peer) Config {
	priv := newKey(t)
	if err := peer.Allow(priv.Public(), wgpeer.ClientAddr); err != nil {
		t.Fatal(err)
	}
	return h.config(h.iface, priv, peer.PublicKey(), peer.Endpoint(), t.TempDir())
}

// config is the scenario's tunnel to the peer pub at endpoint: its range
// routed, its domain's DNS, adjusted by tune.
func (h desktopHost) config(iface string, priv PrivateKey, pub Key, endpoint netip.AddrPort, journal string) Config {
	c := Config{
		Interface:  iface,
		PrivateKey: priv,
		Address:    wgpeer.ClientAddr,
		Peer: Peer{PublicKey: pub, Endpoint: endpoint,
			AllowedIPs: []netip.Prefix{wgpeer.Range}, Keepalive: 25 * time.Second},
		DNS:        DNS{Servers: []netip.Addr{wgpeer.DNSAddr}, Search: wgpeer.Search, Match: []string{wgpeer.Domain}},
		JournalDir: journal,
	}
	if h.tune != nil {
		h.tune(&c)
	}
	return c
}

// outsideName is a name the cluster does not serve, which must resolve the
// same with the tunnel up (GHOSTWIRE_DESKTOP_OUTSIDE_NAME on a runner with
// internet, say github.com; localhost otherwise).
func outsideName() string {
	if n := os.Getenv("GHOSTWIRE_DESKTOP_OUTSIDE_NAME"); n != "" {
		return n
	}
	return "localhost"
}

// lookupUntil resolves name through the system resolver (Go's default, as
// a Go program on the laptop does) until it answers, for up to d: some
// systems apply DNS settings asynchronously.
func lookupUntil(t *testing.T, name string, d time.Duration) netip.Addr {
	t.Helper()
	deadline := time.Now().Add(d)
	var err error
	for {
		var addrs []netip.Addr
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		addrs, err = net.DefaultResolver.LookupNetIP(ctx, "ip4", name)
		cancel()
		if err == nil && len(addrs) > 0 {
			return addrs[0].Unmap()
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("the system resolver does not resolve %q within %s: %v", name, d, err)
	return netip.Addr{}
}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	c := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{Proxy: nil}}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func sameAddrs(a, b []netip.Addr) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.SortFunc(a, netip.Addr.Compare)
	slices.SortFunc(b, netip.Addr.Compare)
	return slices.Equal(a, b)
}
