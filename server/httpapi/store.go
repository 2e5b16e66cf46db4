package httpapi

import (
	"context"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/ghostwire/ghostwire/server/api"
	"github.com/ghostwire/ghostwire/server/registry"
)

// Peers is where the API keeps peers: the registry itself on a single
// server, or the shared records of every replica (server/kube/peerstore).
// Errors are the registry's; any other error means the store could not be
// asked (the API answers 503 unavailable).
type Peers interface {
	Register(ctx context.Context, owner registry.Owner, key wgtypes.Key, deviceName string, replaces *wgtypes.Key) (registry.Peer, bool, *registry.Removed, error)
	RetryAfter(owner string) time.Duration
	Get(ctx context.Context, owner registry.Owner, key wgtypes.Key) (registry.Peer, error)
	Remove(ctx context.Context, owner registry.Owner, key wgtypes.Key) (registry.Peer, error)
	RemoveAny(ctx context.Context, key wgtypes.Key) (registry.Peer, error)
	RemoveWhere(ctx context.Context, match func(registry.Owner) bool, reason string) ([]registry.Removed, []error)
	List() []registry.Peer
	Len() int
}

// ReplicaSource lists the live replicas clients may use (nil: one server).
type ReplicaSource func() []api.Replica

// local is a single server's registry as Peers: in memory, nothing to wait for.
type local struct{ r *registry.Registry }

func (l local) Register(_ context.Context, o registry.Owner, k wgtypes.Key, name string, replaces *wgtypes.Key) (registry.Peer, bool, *registry.Removed, error) {
	return l.r.Register(o, k, name, replaces)
}
func (l local) RetryAfter(owner string) time.Duration { return l.r.RetryAfter(owner) }
func (l local) Get(_ context.Context, o registry.Owner, k wgtypes.Key) (registry.Peer, error) {
	return l.r.Get(o, k)
}
func (l local) Remove(_ context.Context, o registry.Owner, k wgtypes.Key) (registry.Peer, error) {
	return l.r.Remove(o, k)
}
func (l local) RemoveAny(_ context.Context, k wgtypes.Key) (registry.Peer, error) {
	return l.r.RemoveAny(k)
}
func (l local) RemoveWhere(_ context.Context, m func(registry.Owner) bool, reason string) ([]registry.Removed, []error) {
	return l.r.RemoveWhere(m, reason)
}
func (l local) List() []registry.Peer { return l.r.List() }
func (l local) Len() int              { return l.r.Len() }
