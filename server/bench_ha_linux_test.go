package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http/httptest"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/ghostwire/ghostwire/internal/kubetest"
	"github.com/ghostwire/ghostwire/internal/testenv"
	"github.com/ghostwire/ghostwire/server/audit"
	"github.com/ghostwire/ghostwire/server/config"
	"github.com/ghostwire/ghostwire/server/httpapi"
	"github.com/ghostwire/ghostwire/server/internal/nstest"
	"github.com/ghostwire/ghostwire/server/kube/peerstore"
	"github.com/ghostwire/ghostwire/server/kube/presence"
	"github.com/ghostwire/ghostwire/server/kube/records"
	"github.com/ghostwire/ghostwire/server/metrics"
	"github.com/ghostwire/ghostwire/server/registry"
	"github.com/ghostwire/ghostwire/server/wgdev"
)

func TestMain(m *testing.M) { kubetest.Main(m) }

// haReplica is one replica of the benchmark: a real userspace WireGuard
// device in a namespace, its view, presence and peer store.
type haReplica struct {
	dev   *wgdev.Device
	reg   *registry.Registry
	pres  *presence.Presence
	store *peerstore.Store
}

func startHAReplica(b *testing.B, ctx context.Context, cfg *records.Client, ns, name string, port int, prefix netip.Prefix, log *slog.Logger) *haReplica {
	b.Helper()
	key, _ := wgtypes.GeneratePrivateKey()
	dev, err := wgdev.Open(wgdev.Options{Name: fmt.Sprintf("gwsh%04x", rand.IntN(1<<16)), Mode: wgdev.ModeUserspace, ListenPort: port, PrivateKey: key,
		Address: netip.PrefixFrom(prefix.Addr().Next(), prefix.Bits()), MTU: 1420, Logger: log, NetNS: ns})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { dev.Close() })
	def := config.Default()
	r := &haReplica{dev: dev}
	r.reg = registry.New(registry.Options{Device: dev, DeviceCap: def.DeviceCap, MaxLifetime: def.MaxLifetime, IdleTimeout: def.IdleTimeout,
		Grace: def.RegistrationGrace, RegisterRate: def.RegisterRate, RegisterBurst: def.RegisterBurst})
	endpoint := fmt.Sprintf("10.201.5.1:%d", port)
	if r.pres, err = presence.Start(ctx, presence.Options{Client: cfg, Name: name, PublicKey: key.PublicKey(),
		Endpoint: func() (string, error) { return endpoint, nil }, Peers: r.reg.Len, Logger: log}); err != nil {
		b.Fatal(err)
	}
	if r.store, err = peerstore.New(peerstore.Options{Client: cfg, Replicas: r.pres, Registry: r.reg, Device: dev, Prefix: prefix,
		ServerAddr: prefix.Addr().Next(), Replica: name, MaxLifetime: def.MaxLifetime, IdleTimeout: def.IdleTimeout, Grace: def.RegistrationGrace,
		AddressRest: def.AddressRest, Logger: log}); err != nil {
		b.Fatal(err)
	}
	go r.store.Run(ctx, time.Hour)
	return r
}

// BenchmarkServer10kHA: the replica mode at 10,000 peers — registrations
// through the real API (real token verification) with both writes to a real
// kube-apiserver + etcd in the path, and a new replica starting against
// 10,000 records: time until its device holds them all and it says ready.
// Run once: go test -run '^$' -bench Server10kHA -benchtime 1x ./server
func BenchmarkServer10kHA(b *testing.B) {
	testenv.RequireSystem(b)
	kubetest.Require(b)
	kapi := kubetest.Shared(b)
	kns := kapi.Namespace(b, "bench")
	rc, err := records.NewClient(kapi.ServerAccount(b, kns), kns)
	if err != nil {
		b.Fatal(err)
	}
	ns, _ := nstest.Pair(b, "10.201.5.1/30", "10.201.5.2/30")
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	bw := newBenchWorld(b, log)
	idp, keys := bw.idp, bw.keys
	prefix := netip.MustParsePrefix("100.81.0.0/16")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a := startHAReplica(b, ctx, rc, ns, "bench-a", 51851, prefix, log)
	for a.store.Ready() != nil {
		time.Sleep(10 * time.Millisecond)
	}
	m := metrics.New()
	srv := httptest.NewServer(httpapi.New(httpapi.Options{Config: idp.APIConfig("bench"), Verifier: bw.verifier, Registry: a.reg, Peers: a.store,
		Network: httpapi.Network{ServerPublicKey: a.dev.PublicKey(), Endpoint: httpapi.StaticEndpoint("10.201.5.1:51851"), MTU: 1420},
		Audit:   audit.New(log), Metrics: m, Logger: log}))
	defer srv.Close()
	register := bw.registrar(b, srv.URL)

	b.ResetTimer()
	// 1. Fill to 10,000 peers with 64 concurrent clients.
	start := time.Now()
	fillPeers(register, keys)
	fill := time.Since(start)

	// 2. One client at a time on top of 10,000 peers: what a person waits.
	single := make([]time.Duration, 0, 1_000)
	for i := 0; i < 1_000; i++ {
		single = append(single, register((benchPeers+i)%benchUsers, keys[benchPeers+i]))
	}

	// 3. A new replica against 11,000 records: until its device holds them
	// all and it says ready.
	t0 := time.Now()
	n := startHAReplica(b, ctx, rc, ns, "bench-n", 51852, prefix, log)
	for n.store.Ready() != nil {
		time.Sleep(5 * time.Millisecond)
	}
	ready := time.Since(t0)
	b.StopTimer()
	peers, err := n.dev.Peers()
	if err != nil || len(peers) != benchPeers+1_000 {
		b.Fatalf("the new replica's device holds %d peers (%v), want %d", len(peers), err, benchPeers+1_000)
	}
	b.ReportMetric(float64(pct(single, 0.5).Microseconds()), "p50-µs")
	b.ReportMetric(float64(pct(single, 0.99).Microseconds()), "p99-µs")
	b.ReportMetric(ready.Seconds(), "new-replica-ready-s")
	fmt.Printf("\nghostwire-server replicas (--kube-ha) at %d peers: real kube-apiserver %s + etcd, userspace wireguard-go devices, %d CPUs\n",
		len(peers), kubetest.APIServerVersion, runtime.NumCPU())
	fmt.Printf("  registration latency with the API writes (Address + Peer record), 1 client at 10,000 peers: p50 %v  p99 %v\n",
		pct(single, 0.5).Round(time.Microsecond), pct(single, 0.99).Round(time.Microsecond))
	fmt.Printf("  registration with %d concurrent clients, 0→10,000: %.0f/s\n", benchClients, float64(benchPeers)/fill.Seconds())
	fmt.Printf("  a new replica holds all %d peers and is ready after %v (list of the records + one device configuration)\n", len(peers), ready.Round(time.Millisecond))
}
