package peerstore

import (
	"bufio"
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/conn"
	"golang.zx2c4.com/wireguard/device"
	"golang.zx2c4.com/wireguard/tun/netstack"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
	"k8s.io/client-go/rest"

	"github.com/ghostwire/ghostwire/internal/kubetest"
	"github.com/ghostwire/ghostwire/server/audit"
	"github.com/ghostwire/ghostwire/server/kube/presence"
	"github.com/ghostwire/ghostwire/server/kube/records"
	"github.com/ghostwire/ghostwire/server/metrics"
	"github.com/ghostwire/ghostwire/server/registry"
	"github.com/ghostwire/ghostwire/server/wgdev"
)

func TestMain(m *testing.M) { kubetest.Main(m) }

// wgDevice is a real wireguard-go device on a userspace network stack
// (tun/netstack) listening on loopback UDP: a replica's WireGuard without
// root, TUN or namespace. The server's own device (kernel or TUN) has its
// system tests in server/wgdev; here the records are under test, and the
// handshakes they depend on are real.
type wgDevice struct {
	dev  *device.Device
	key  wgtypes.Key
	port int
}

func newWGDevice(t testing.TB) *wgDevice {
	t.Helper()
	key, _ := wgtypes.GeneratePrivateKey()
	tdev, _, err := netstack.CreateNetTUN([]netip.Addr{netip.MustParseAddr("100.99.0.1")}, nil, 1420)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := c.LocalAddr().(*net.UDPAddr).Port
	c.Close()
	d := &wgDevice{dev: device.NewDevice(tdev, conn.NewDefaultBind(), device.NewLogger(device.LogLevelSilent, "")), key: key, port: port}
	if err := d.dev.IpcSet(fmt.Sprintf("private_key=%x\nlisten_port=%d\n", key[:], port)); err != nil {
		t.Fatal(err)
	}
	if err := d.dev.Up(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.dev.Close)
	return d
}

func (d *wgDevice) AddPeer(k wgtypes.Key, p netip.Prefix) error {
	return d.dev.IpcSet(fmt.Sprintf("public_key=%x\nreplace_allowed_ips=true\nallowed_ip=%s\n", k[:], p))
}

func (d *wgDevice) RemovePeer(k wgtypes.Key) error {
	return d.dev.IpcSet(fmt.Sprintf("public_key=%x\nremove=true\n", k[:]))
}

func (d *wgDevice) AddPeers(ps []wgdev.Allowed) error {
	var b strings.Builder
	for _, p := range ps {
		fmt.Fprintf(&b, "public_key=%x\nreplace_allowed_ips=true\nallowed_ip=%s\n", p.Key[:], p.Prefix)
	}
	return d.dev.IpcSet(b.String())
}

// Peers parses the UAPI "get" text.
func (d *wgDevice) Peers() ([]wgtypes.Peer, error) {
	text, err := d.dev.IpcGet()
	if err != nil {
		return nil, err
	}
	var out []wgtypes.Peer
	var sec, nsec int64
	flush := func() {
		if len(out) > 0 && (sec != 0 || nsec != 0) {
			out[len(out)-1].LastHandshakeTime = time.Unix(sec, nsec)
		}
		sec, nsec = 0, 0
	}
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), "=")
		switch k {
		case "public_key":
			flush()
			b, _ := hex.DecodeString(v)
			key, _ := wgtypes.NewKey(b)
			out = append(out, wgtypes.Peer{PublicKey: key})
		case "allowed_ip":
			if _, n, err := net.ParseCIDR(v); err == nil {
				out[len(out)-1].AllowedIPs = append(out[len(out)-1].AllowedIPs, *n)
			}
		case "last_handshake_time_sec":
			sec, _ = strconv.ParseInt(v, 10, 64)
		case "last_handshake_time_nsec":
			nsec, _ = strconv.ParseInt(v, 10, 64)
		case "rx_bytes":
			out[len(out)-1].ReceiveBytes, _ = strconv.ParseInt(v, 10, 64)
		case "tx_bytes":
			out[len(out)-1].TransmitBytes, _ = strconv.ParseInt(v, 10, 64)
		}
	}
	flush()
	return out, nil
}

// holds maps every key on the device to its one allowed address.
func (d *wgDevice) holds(t testing.TB) map[wgtypes.Key]netip.Addr {
	t.Helper()
	ps, err := d.Peers()
	if err != nil {
		t.Fatal(err)
	}
	out := map[wgtypes.Key]netip.Addr{}
	for _, p := range ps {
		var a netip.Addr
		if len(p.AllowedIPs) == 1 {
			a, _ = netip.AddrFromSlice(p.AllowedIPs[0].IP)
			a = a.Unmap()
		}
		out[p.PublicKey] = a
	}
	return out
}

func (d *wgDevice) endpoint() string { return fmt.Sprintf("127.0.0.1:%d", d.port) }

// client is a laptop's WireGuard: it handshakes with replicas on demand.
type client struct {
	priv wgtypes.Key
	dev  *wgDevice
}

func newClient(t testing.TB) *client {
	d := newWGDevice(t)
	return &client{priv: d.key, dev: d}
}

func (c *client) pub() wgtypes.Key { return c.priv.PublicKey() }

// handshake makes the client shake hands with r now and waits until it did.
func (c *client) handshake(t testing.TB, r *replica) {
	t.Helper()
	k := r.dev.key.PublicKey()
	if err := c.dev.dev.IpcSet(fmt.Sprintf("public_key=%x\nendpoint=%s\nreplace_allowed_ips=true\nallowed_ip=10.%d.0.0/16\n", k[:], r.dev.endpoint(), r.index)); err != nil {
		t.Fatal(err)
	}
	p := c.dev.dev.LookupPeer(device.NoisePublicKey(k))
	before := time.Now()
	eventually(t, "a handshake of the client with "+r.name, func() (bool, string) {
		p.ExpireCurrentKeypairs()
		_ = p.SendHandshakeInitiation(false)
		time.Sleep(20 * time.Millisecond)
		ps, _ := c.dev.Peers()
		for _, x := range ps {
			if x.PublicKey == k && x.LastHandshakeTime.After(before) {
				return true, ""
			}
		}
		return false, "no handshake yet"
	})
}

// env is one test's cluster: a namespace on the shared API server, and the
// server's credentials there (the Role the manifests give it, nothing more).
type env struct {
	t    testing.TB
	api  *kubetest.Server
	ns   string
	cfg  *rest.Config
	pool netip.Prefix
	// Settings every replica gets (tests shorten them).
	idle, grace, rest, lifetime time.Duration
	// rate is every registry's RegisterRate (0: no limit).
	rate float64
	n    int
}

func newEnv(t testing.TB, pool string) *env {
	t.Helper()
	api := kubetest.Shared(t)
	ns := api.Namespace(t, "ps")
	return &env{t: t, api: api, ns: ns, cfg: api.ServerAccount(t, ns), pool: netip.MustParsePrefix(pool),
		idle: time.Hour, grace: time.Hour, rest: 0, lifetime: 12 * time.Hour}
}

// replica is one server replica: device, registry view, presence, store.
type replica struct {
	name   string
	index  int
	dev    *wgDevice
	reg    *registry.Registry
	pres   *presence.Presence
	store  *Store
	client *records.Client
	log    *logBuffer
	ctx    context.Context // ends when the replica is killed
	cancel context.CancelFunc
	done   chan struct{}
}

type replicaOpts struct {
	clock *records.Clock // nil: the real one
	// noWait: return before the store is ready (API down at start).
	noWait bool
}

func (e *env) start(name string, o replicaOpts) *replica {
	t := e.t
	t.Helper()
	e.n++
	if o.clock == nil {
		o.clock = records.NewClock(nil)
	}
	cl, err := records.NewClientWithClock(e.cfg, e.ns, o.clock)
	if err != nil {
		t.Fatal(err)
	}
	r := &replica{name: name, index: e.n, dev: newWGDevice(t), client: cl, log: &logBuffer{}, done: make(chan struct{})}
	log := slog.New(slog.NewTextHandler(io.MultiWriter(r.log, testWriter{t, name}), &slog.HandlerOptions{Level: slog.LevelInfo}))
	r.reg = registry.New(registry.Options{Device: r.dev, DeviceCap: 1000, MaxLifetime: e.lifetime, IdleTimeout: e.idle, Grace: e.grace,
		RegisterRate: e.rate})
	ctx, cancel := context.WithCancel(context.Background())
	r.ctx, r.cancel = ctx, cancel
	r.pres, err = presence.Start(ctx, presence.Options{Client: cl, Name: name, PublicKey: r.dev.key.PublicKey(),
		Endpoint: func() (string, error) { return r.dev.endpoint(), nil }, Lease: 3 * time.Second, Logger: log, Peers: r.reg.Len})
	if err != nil {
		t.Fatal(err)
	}
	pfx := e.pool
	r.store, err = New(Options{Client: cl, Replicas: r.pres, Registry: r.reg, Device: r.dev, Prefix: pfx, ServerAddr: pfx.Addr().Next(),
		Replica: name, MaxLifetime: e.lifetime, IdleTimeout: e.idle, Grace: e.grace, AddressRest: e.rest,
		Audit: audit.New(log), Metrics: metrics.New(), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	go func() { defer close(r.done); r.store.Run(ctx, time.Hour) }()
	t.Cleanup(r.stop)
	if !o.noWait {
		eventually(t, name+" ready", func() (bool, string) {
			err := r.store.Ready()
			return err == nil, fmt.Sprint(err)
		})
	}
	return r
}

// stop ends the replica as kill -9 would for the API: nothing is cleaned up.
func (r *replica) stop() {
	if r.cancel != nil {
		r.cancel()
		<-r.done
		r.cancel = nil
	}
}

var owners = []registry.Owner{{Subject: "https://idp#alice", Name: "Alice"}, {Subject: "https://idp#bob", Name: "Bob"}}

func (r *replica) register(t testing.TB, owner registry.Owner, key wgtypes.Key) registry.Peer {
	t.Helper()
	p, created, _, err := r.store.Register(context.Background(), owner, key, "laptop", nil)
	if err != nil || !created {
		t.Fatalf("register at %s: created=%v err=%v", r.name, created, err)
	}
	return p
}

func newKey() wgtypes.Key { k, _ := wgtypes.GeneratePrivateKey(); return k.PublicKey() }

// eventually polls cond until it holds, or fails after 30 s with its last word.
func eventually(t testing.TB, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ok, last := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; last: %s", what, last)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

type logBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// testWriter shows a replica's log with -v (GWT_HA_LOG=1), else keeps it quiet.
type testWriter struct {
	t    testing.TB
	name string
}

func (w testWriter) Write(p []byte) (int, error) {
	if os.Getenv("GWT_HA_LOG") != "" {
		w.t.Logf("%s: %s", w.name, strings.TrimSpace(string(p)))
	}
	return len(p), nil
}
