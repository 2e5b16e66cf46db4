package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/ghostwire/ghostwire/auth/devidp"
	"github.com/ghostwire/ghostwire/auth/verify"
	"github.com/ghostwire/ghostwire/internal/testenv"
	"github.com/ghostwire/ghostwire/server/api"
	"github.com/ghostwire/ghostwire/server/audit"
	"github.com/ghostwire/ghostwire/server/httpapi"
	"github.com/ghostwire/ghostwire/server/internal/nstest"
	"github.com/ghostwire/ghostwire/server/metrics"
	"github.com/ghostwire/ghostwire/server/pool"
	"github.com/ghostwire/ghostwire/server/registry"
	"github.com/ghostwire/ghostwire/server/sweep"
	"github.com/ghostwire/ghostwire/server/wgdev"
)

type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// The whole server path for real: a token from the in-process OpenID
// provider, POST /v1/peers, the peer on a wireguard-go device in a network
// namespace (seen through wgctrl), a client device in a second namespace
// shaking hands and pinging through the tunnel, the live status on GET, key
// rotation keeping the address with traffic flowing again, and
// the sweep removing silent and expired peers from the device.
func TestSystemRegisterHandshakeExpire(t *testing.T) {
	testenv.RequireSystem(t, "ping")
	nsS, nsC := nstest.Pair(t, "10.201.3.1/30", "10.201.3.2/30")
	id := rand.IntN(1 << 16)
	srvIf, cliIf := fmt.Sprintf("gwss%04x", id), fmt.Sprintf("gwsc%04x", id)
	logs := &syncBuf{}
	log := slog.New(slog.NewJSONHandler(io.MultiWriter(logs), &slog.HandlerOptions{Level: slog.LevelInfo}))

	idp := devidp.NewTestServer(t, devidp.Options{})
	verifier, err := verify.New(context.Background(), verify.Config{Issuer: idp.Issuer(), Audience: idp.Audience(),
		RequiredScope: idp.APIScope(), AllowedRoles: []string{devidp.RoleUser}, HTTPClient: idp.HTTPClient()})
	if err != nil {
		t.Fatal(err)
	}
	prefix := netip.MustParsePrefix("100.81.3.0/24")
	clock := &testClock{t: time.Now()}
	addrs, _ := pool.New(prefix, time.Minute, clock.now)
	srvKey, _ := wgtypes.GeneratePrivateKey()
	dev, err := wgdev.Open(wgdev.Options{Name: srvIf, Mode: wgdev.ModeAuto, ListenPort: 51830, PrivateKey: srvKey,
		Address: netip.PrefixFrom(addrs.ServerAddr(), prefix.Bits()), MTU: 1420, Logger: log, NetNS: nsS})
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	m := metrics.New()
	aud := audit.New(log)
	reg := registry.New(registry.Options{Pool: addrs, Device: dev, DeviceCap: 5, MaxLifetime: time.Hour,
		IdleTimeout: 10 * time.Minute, Grace: 2 * time.Minute, Now: clock.now})
	srv := httptest.NewServer(httpapi.New(httpapi.Options{
		Config: idp.APIConfig("system"), Verifier: verifier, Registry: reg,
		Network: httpapi.Network{ServerPublicKey: dev.PublicKey(), Endpoint: httpapi.StaticEndpoint("10.201.3.1:51830"),
			Routes: []string{"10.201.3.0/30"}, MTU: 1420, Keepalive: time.Second, IdleTimeout: 10 * time.Minute},
		Audit: aud, Metrics: m, Logger: log,
	}))
	defer srv.Close()
	sw := &sweep.Sweeper{Registry: reg, Device: dev, Audit: aud, Metrics: m, Logger: log, Now: clock.now}

	token, err := idp.MintAccessToken(devidp.UserDemo)
	if err != nil {
		t.Fatal(err)
	}
	call := func(method, path string, body any) (int, []byte) {
		t.Helper()
		var r io.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			r = bytes.NewReader(b)
		}
		req, _ := http.NewRequest(method, srv.URL+path, r)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}

	// Register the client's key.
	cliKey, _ := wgtypes.GeneratePrivateKey()
	code, b := call("POST", api.PathPeers, api.RegisterRequest{PublicKey: cliKey.PublicKey().String(), DeviceName: "system-test"})
	var peer api.Peer
	if code != 201 || json.Unmarshal(b, &peer) != nil {
		t.Fatalf("register: %d %s", code, b)
	}
	// A second key that never shakes hands.
	silentKey, _ := wgtypes.GeneratePrivateKey()
	if code, b := call("POST", api.PathPeers, api.RegisterRequest{PublicKey: silentKey.PublicKey().String()}); code != 201 {
		t.Fatalf("register silent: %d %s", code, b)
	}

	// wgctrl sees both on the server device, each with its /32 only.
	wc, err := wgctrl.New()
	if err != nil {
		t.Fatal(err)
	}
	defer wc.Close()
	d, err := wc.Device(srvIf)
	if err != nil || len(d.Peers) != 2 || d.PublicKey != srvKey.PublicKey() {
		t.Fatalf("wgctrl: %+v %v", d, err)
	}
	for _, p := range d.Peers {
		if p.PublicKey == cliKey.PublicKey() && (len(p.AllowedIPs) != 1 || p.AllowedIPs[0].String() != peer.Address) {
			t.Fatalf("client peer allowed IPs %v, want %s", p.AllowedIPs, peer.Address)
		}
	}

	// The client's device in the second namespace, configured from the answer alone.
	cliAddr := netip.MustParsePrefix(peer.Address)
	cdev, err := wgdev.Open(wgdev.Options{Name: cliIf, Mode: wgdev.ModeUserspace, ListenPort: 51831, PrivateKey: cliKey,
		Address: cliAddr, MTU: peer.MTU, Logger: log, NetNS: nsC})
	if err != nil {
		t.Fatal(err)
	}
	defer cdev.Close()
	spub, _ := wgtypes.ParseKey(peer.ServerPublicKey)
	ep, _ := net.ResolveUDPAddr("udp", peer.Endpoint)
	ka := time.Duration(peer.KeepaliveSeconds) * time.Second
	_, tunnel, _ := net.ParseCIDR(prefix.String())
	if err := wc.ConfigureDevice(cliIf, wgtypes.Config{Peers: []wgtypes.PeerConfig{{PublicKey: spub, Endpoint: ep,
		AllowedIPs: []net.IPNet{*tunnel}, PersistentKeepaliveInterval: &ka}}}); err != nil {
		t.Fatal(err)
	}
	nstest.Run(t, "ip", "-n", nsC, "route", "add", prefix.String(), "dev", cliIf)

	// A real handshake, then traffic through the tunnel.
	deadline := time.Now().Add(15 * time.Second)
	for {
		if _, err := sw.Once(context.Background()); err != nil {
			t.Fatal(err)
		}
		code, b = call("GET", api.PathPeer+url.PathEscape(cliKey.PublicKey().String()), nil)
		var st api.Peer
		if code != 200 || json.Unmarshal(b, &st) != nil {
			t.Fatalf("get: %d %s", code, b)
		}
		if st.LatestHandshake != nil {
			if !strings.HasPrefix(st.RemoteEndpoint, "10.201.3.2:") {
				t.Fatalf("remote endpoint %q", st.RemoteEndpoint)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no handshake within 15 s: %s", b)
		}
		time.Sleep(100 * time.Millisecond)
	}
	nstest.Run(t, "ip", "netns", "exec", nsC, "ping", "-c", "2", "-i", "0.2", "-W", "2", addrs.ServerAddr().String())

	// Key rotation: a new key replaces the old one and keeps the address;
	// the client swaps its private key and the tunnel works again.
	oldKey := cliKey
	cliKey, _ = wgtypes.GeneratePrivateKey()
	code, b = call("POST", api.PathPeers, api.RegisterRequest{PublicKey: cliKey.PublicKey().String(), Replaces: oldKey.PublicKey().String()})
	var rotated api.Peer
	if code != 201 || json.Unmarshal(b, &rotated) != nil || rotated.Address != peer.Address {
		t.Fatalf("rotation: %d %s", code, b)
	}
	if d, err := wc.Device(srvIf); err != nil || len(d.Peers) != 2 || !hasPeer(d.Peers, cliKey.PublicKey()) || hasPeer(d.Peers, oldKey.PublicKey()) {
		t.Fatalf("device after rotation: %+v %v", d, err)
	}
	if err := wc.ConfigureDevice(cliIf, wgtypes.Config{PrivateKey: &cliKey}); err != nil {
		t.Fatal(err)
	}
	nstest.Run(t, "ip", "netns", "exec", nsC, "ping", "-c", "2", "-i", "0.2", "-W", "5", addrs.ServerAddr().String())
	if _, err := sw.Once(context.Background()); err != nil {
		t.Fatal(err)
	}
	code, b = call("GET", api.PathPeer+url.PathEscape(cliKey.PublicKey().String()), nil)
	if code != 200 || !strings.Contains(string(b), `"latest_handshake"`) {
		t.Fatalf("rotated peer status: %d %s", code, b)
	}

	// 3 minutes on: the silent peer is past the registration grace, the
	// client keeps shaking hands (its keepalive keeps the session fresh;
	// the fake clock only moves registration times).
	clock.add(3 * time.Minute)
	removed, err := sw.Once(context.Background())
	if err != nil || len(removed) != 1 || removed[0].Key != silentKey.PublicKey() || removed[0].Reason != registry.ReasonNoHandshake {
		t.Fatalf("grace sweep: %+v %v", removed, err)
	}
	// Past the maximum lifetime: the client's peer goes too.
	clock.add(time.Hour)
	removed, err = sw.Once(context.Background())
	if err != nil || len(removed) != 1 || removed[0].Key != cliKey.PublicKey() || removed[0].Reason != registry.ReasonExpired {
		t.Fatalf("lifetime sweep: %+v %v", removed, err)
	}
	if d, err := wc.Device(srvIf); err != nil || len(d.Peers) != 0 {
		t.Fatalf("device after expiry: %+v %v", d, err)
	}
	if code, _ := call("GET", api.PathPeer+url.PathEscape(cliKey.PublicKey().String()), nil); code != 404 {
		t.Fatalf("expired peer still answered: %d", code)
	}
	// A peer added behind the server's back (wg set) is removed by the next sweep.
	stray, _ := wgtypes.GeneratePrivateKey()
	if err := wc.ConfigureDevice(srvIf, wgtypes.Config{Peers: []wgtypes.PeerConfig{{PublicKey: stray.PublicKey()}}}); err != nil {
		t.Fatal(err)
	}
	removed, err = sw.Once(context.Background())
	if d, _ := wc.Device(srvIf); err != nil || len(removed) != 1 || removed[0].Reason != registry.ReasonUnknown || len(d.Peers) != 0 {
		t.Fatalf("stray peer: %+v %v", removed, err)
	}
	for _, want := range []string{`"reason":"no_handshake"`, `"reason":"expired"`, `"action":"sweep"`, `"action":"rotate"`} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("audit lacks %s", want)
		}
	}
	if strings.Contains(logs.String(), token) {
		t.Fatal("a token reached the logs")
	}
	if os.Getenv("GWS_VERBOSE") != "" {
		t.Log(logs.String())
	}
}

func hasPeer(peers []wgtypes.Peer, k wgtypes.Key) bool {
	for _, p := range peers {
		if p.PublicKey == k {
			return true
		}
	}
	return false
}
