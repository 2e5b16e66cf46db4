package httpapi

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/ghostwire/ghostwire/server/api"
	"github.com/ghostwire/ghostwire/server/pool"
	"github.com/ghostwire/ghostwire/server/registry"
)

// cutPeers is the shared store as the API sees it when the Kubernetes API is
// cut off: every call answers registry.ErrUnavailable while down is set.
// (The store itself runs against a real API server in server/kube/peerstore.)
type cutPeers struct {
	local
	down atomic.Bool
}

func (c *cutPeers) Register(ctx context.Context, o registry.Owner, k wgtypes.Key, n string, r *wgtypes.Key) (registry.Peer, bool, *registry.Removed, error) {
	if c.down.Load() {
		return registry.Peer{}, false, nil, registry.ErrUnavailable
	}
	return c.local.Register(ctx, o, k, n, r)
}

func (c *cutPeers) Get(ctx context.Context, o registry.Owner, k wgtypes.Key) (registry.Peer, error) {
	if c.down.Load() {
		return registry.Peer{}, registry.ErrUnavailable
	}
	return c.local.Get(ctx, o, k)
}

func (c *cutPeers) Remove(ctx context.Context, o registry.Owner, k wgtypes.Key) (registry.Peer, error) {
	if c.down.Load() {
		return registry.Peer{}, registry.ErrUnavailable
	}
	return c.local.Remove(ctx, o, k)
}

// With replicas: every peer answer lists them, and a store that cannot be
// reached answers 503 unavailable (never 404 or 500), nothing changed.
func TestReplicasAndUnavailableStore(t *testing.T) {
	p, _ := pool.New(netip.MustParsePrefix("100.90.0.0/24"), time.Hour, nil)
	reg := registry.New(registry.Options{Pool: p, Device: &memDevice{peers: map[wgtypes.Key]netip.Prefix{}}, DeviceCap: 5, MaxLifetime: time.Hour, IdleTimeout: time.Hour, Grace: time.Hour})
	store := &cutPeers{local: local{reg}}
	sk, _ := wgtypes.GeneratePrivateKey()
	replicas := []api.Replica{{Name: "gw-0", PublicKey: sk.PublicKey().String(), Endpoint: "192.0.2.1:51820"}, {Name: "gw-1", PublicKey: newKey(t), Endpoint: "192.0.2.2:51820"}}
	s := New(Options{Verifier: tokens{"alice": {Subject: "https://idp|alice"}}, Registry: reg, Peers: store,
		Replicas: func() []api.Replica { return replicas },
		Network:  Network{ServerPublicKey: sk.PublicKey(), Endpoint: StaticEndpoint("192.0.2.1:51820"), MTU: 1420},
		Logger:   slog.New(slog.DiscardHandler)})
	srv := httptest.NewServer(s)
	defer srv.Close()
	e := &env{srv: srv}
	key := newKey(t)
	code, body := e.register(t, "alice", api.RegisterRequest{PublicKey: key})
	var peer api.Peer
	if err := json.Unmarshal(body, &peer); code != http.StatusCreated || err != nil || len(peer.Replicas) != 2 || peer.Replicas[1].Name != "gw-1" {
		t.Fatalf("register: %d %s", code, body)
	}
	code, body, _ = e.do(t, "GET", peerPath(key), "alice", "", nil)
	if err := json.Unmarshal(body, &peer); code != http.StatusOK || err != nil || len(peer.Replicas) != 2 {
		t.Fatalf("get: %d %s", code, body)
	}
	// Another replica's key is a server's key too.
	code, body = e.register(t, "alice", api.RegisterRequest{PublicKey: replicas[1].PublicKey})
	wantError(t, code, body, http.StatusBadRequest, api.CodeBadRequest, "server's own WireGuard key")

	store.down.Store(true)
	code, body = e.register(t, "alice", api.RegisterRequest{PublicKey: newKey(t)})
	wantError(t, code, body, http.StatusServiceUnavailable, api.CodeUnavailable, "try again")
	for _, m := range []string{"GET", "DELETE"} {
		code, body, h := e.do(t, m, peerPath(key), "alice", "", nil)
		wantError(t, code, body, http.StatusServiceUnavailable, api.CodeUnavailable, "keeps working")
		if h.Get("Retry-After") == "" {
			t.Errorf("%s: no Retry-After", m)
		}
	}
	if reg.Len() != 1 {
		t.Fatalf("the peer must stay while the store is unreachable: %d peers", reg.Len())
	}
}
