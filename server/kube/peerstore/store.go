// Package peerstore keeps ghostwire-server's peers as shared records in the
// Kubernetes API when the server runs as several replicas (--kube-ha). Every
// replica watches the Peer and Address records (server/kube/records) and
// programs every peer into its own WireGuard device, so any replica can carry
// any client; the local registry (server/registry) is each replica's view.
//
// Who decides what:
//
//   - A registration is decided by the replica that receives it: the rules of
//     the registry (deny list, ownership, device cap, rate), then an Address
//     record created for a free address (the API server refuses a second
//     create of the same name: two replicas never hand out one address), then
//     the Peer record (named after the key: one key, one record). Its lifetime
//     is written on the API server's clock, which every replica estimates.
//   - A disconnect, an admin's removal or the deny list: the replica that
//     receives it (or reloads the list) deletes the record; the others follow
//     the record's deletion. Deleting an exact object (by its UID) means an old
//     decision never removes a newer registration of the same key.
//   - Idle and never-used peers: each replica votes in the record's status from
//     what its own device saw (handshakes judged on its own clock), and the peer
//     goes when every live replica has voted, because a client talks to any of
//     them. Expiry needs no vote: the lifetime is an absolute time.
//   - An address rests after its peer goes: its record stays until every
//     replica that looks has seen it unused for --address-rest.
//
// A replica that starts (or restarts) lists the records and programs them all
// in one device call before it reports ready. When the API server cannot be
// reached, registrations are refused as unavailable and the device keeps
// every peer it has.
package peerstore

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"

	"github.com/ghostwire/ghostwire/server/audit"
	"github.com/ghostwire/ghostwire/server/kube/records"
	"github.com/ghostwire/ghostwire/server/metrics"
	"github.com/ghostwire/ghostwire/server/pool"
	"github.com/ghostwire/ghostwire/server/registry"
	"github.com/ghostwire/ghostwire/server/wgdev"
)

// ErrUnavailable is wrapped when the Kubernetes API cannot be asked (or the
// replica has not read the records yet): the caller answers 503 unavailable.
var ErrUnavailable = registry.ErrUnavailable

// Device is what the store needs of the WireGuard device beyond the registry's.
type Device interface {
	AddPeers([]wgdev.Allowed) error
	Peers() ([]wgtypes.Peer, error)
}

// Replicas says which replicas are alive (server/kube/presence).
type Replicas interface {
	LiveNames() map[string]bool
}

// Options configure a Store.
type Options struct {
	Client   *records.Client
	Replicas Replicas
	// Registry is this replica's view; it must have no Pool.
	Registry *registry.Registry
	Device   Device
	// Prefix is the tunnel range; ServerAddr the server's own address in it.
	Prefix     netip.Prefix
	ServerAddr netip.Addr
	// Replica is this replica's name, as in its Replica record.
	Replica     string
	MaxLifetime time.Duration
	IdleTimeout time.Duration
	Grace       time.Duration
	AddressRest time.Duration
	Audit       *audit.Logger
	Metrics     *metrics.Metrics
	Logger      *slog.Logger
	// Now is the local clock (nil: time.Now).
	Now func() time.Time
}

// orphanGrace is the least time an Address record must look unused before
// it is deleted: longer than a registration takes between creating the
// Address and the Peer record (bounded by records.RequestTimeout each).
var orphanGrace = 30 * time.Second

// holder is an Address record as this replica last saw it.
type holder struct {
	key      wgtypes.Key
	valid    bool
	name     string
	uid      types.UID
	rv       string
	orphaned time.Time // local time it was first seen unused; zero: in use
}

// applied is the record a peer on the device came from.
type applied struct {
	uid   types.UID
	since time.Time // local time this replica first programmed the key
}

// Store is the shared peer store of one replica.
type Store struct {
	o     Options
	log   *slog.Logger
	pool  *pool.Pool
	peers cache.SharedIndexInformer
	addrs cache.SharedIndexInformer
	// synced reports whether both event handlers have been given every
	// record of the first listing (the informers' own HasSynced says only
	// that their caches hold them).
	synced []cache.InformerSynced

	ready  atomic.Bool
	failed atomic.Value // string: why the last API call failed, for /readyz

	mu       sync.Mutex
	holders  map[netip.Addr]*holder
	applied  map[wgtypes.Key]applied
	pending  map[wgtypes.Key]*records.Peer // valid records whose Address record is not seen yet
	bad      map[string]string             // record name → resourceVersion logged as unusable
	deleted  map[types.UID]time.Time       // records this replica deleted (their events are stale)
	inflight map[string]int                // owner → registrations in flight here
	keys     map[wgtypes.Key]chan struct{} // key → registration in flight here
}

// New makes a store; Run starts it.
func New(o Options) (*Store, error) {
	if o.Client == nil || o.Registry == nil || o.Device == nil || o.Replicas == nil || o.Replica == "" {
		return nil, errors.New("peerstore: client, registry, device, replicas and the replica's name are required")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Audit == nil {
		o.Audit = audit.New(o.Logger)
	}
	if o.Metrics == nil {
		o.Metrics = metrics.New()
	}
	p, err := pool.New(o.Prefix, 0, o.Now)
	if err != nil {
		return nil, err
	}
	if p.ServerAddr() != o.ServerAddr {
		return nil, fmt.Errorf("peerstore: server address %s is not the pool's first address %s", o.ServerAddr, p.ServerAddr())
	}
	// Replicas allocating at the same moment start far apart in the pool.
	p.Scatter(scatterSeed(o.Replica))
	s := &Store{o: o, log: o.Logger.With("replica", o.Replica), pool: p,
		holders: map[netip.Addr]*holder{}, applied: map[wgtypes.Key]applied{}, pending: map[wgtypes.Key]*records.Peer{},
		bad: map[string]string{}, deleted: map[types.UID]time.Time{}, inflight: map[string]int{}, keys: map[wgtypes.Key]chan struct{}{}}
	s.peers = o.Client.PeerInformer()
	s.addrs = o.Client.AddressInformer()
	ra, err := s.addrs.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { s.onAddress(obj) },
		UpdateFunc: func(_, obj any) { s.onAddress(obj) },
		DeleteFunc: func(obj any) { s.onAddressGone(obj) },
	})
	if err != nil {
		return nil, err
	}
	rp, err := s.peers.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { s.onPeer(obj) },
		UpdateFunc: func(_, obj any) { s.onPeer(obj) },
		DeleteFunc: func(obj any) { s.onPeerGone(obj) },
	})
	if err != nil {
		return nil, err
	}
	s.synced = []cache.InformerSynced{ra.HasSynced, rp.HasSynced}
	return s, nil
}

// scatterSeed is where in the pool replica starts allocating: FNV-1a of its name.
func scatterSeed(replica string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(replica))
	return h.Sum64()
}

// cachedPeer is key's Peer record as the informer holds it.
func (s *Store) cachedPeer(key wgtypes.Key) (*records.Peer, bool) {
	obj, ok, _ := s.peers.GetStore().GetByKey(s.o.Client.Namespace() + "/" + records.PeerName(key))
	if !ok {
		return nil, false
	}
	rec, ok := obj.(*records.Peer)
	return rec, ok
}

// Run reads the records, programs every peer into the device in one go, then
// follows changes and sweeps every interval until ctx ends.
func (s *Store) Run(ctx context.Context, sweepEvery time.Duration) {
	go s.addrs.RunWithContext(ctx)
	go s.peers.RunWithContext(ctx)
	t0 := s.o.Now()
	// Wait for the handlers, not only the caches: rebuild must see every
	// Address record the handlers hold, or the store says ready with peers
	// still pending.
	if !cache.WaitForCacheSync(ctx.Done(), s.synced...) {
		return
	}
	n, err := s.rebuild()
	for err != nil && ctx.Err() == nil {
		s.log.Error("programming the shared peers into the device failed; retrying", "error", err.Error())
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
		n, err = s.rebuild()
	}
	s.log.Info("device holds every shared peer", "peers", n, "took", s.o.Now().Sub(t0).Round(time.Millisecond))
	t := time.NewTicker(sweepEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			_, _ = s.Sweep(ctx)
		}
	}
}

// Ready is nil once every record was read and programmed.
func (s *Store) Ready() error {
	if s.ready.Load() {
		return nil
	}
	why := "reading the shared peer records from the Kubernetes API"
	if f, _ := s.failed.Load().(string); f != "" {
		why += " (" + f + ")"
	}
	return errors.New(why)
}

// rebuild programs every usable record into the device with one call per
// few thousand peers (a start, or a restart after a crash), then lets the
// event handlers program changes one by one.
func (s *Store) rebuild() (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ps []registry.Peer
	uids := map[wgtypes.Key]types.UID{}
	for _, obj := range s.peers.GetStore().List() {
		rec, ok := obj.(*records.Peer)
		if !ok {
			continue
		}
		c, ok := s.usableLocked(rec)
		if !ok {
			continue
		}
		ps = append(ps, peerOf(c))
		uids[c.Key] = rec.UID
	}
	err := s.o.Registry.ApplyAll(ps, func(fresh []registry.Peer) error {
		batch := make([]wgdev.Allowed, len(fresh))
		for i, p := range fresh {
			batch[i] = wgdev.Allowed{Key: p.Key, Prefix: p.Prefix()}
		}
		return s.o.Device.AddPeers(batch)
	})
	if err != nil {
		return 0, err
	}
	now := s.o.Now()
	for k, uid := range uids {
		if _, ok := s.applied[k]; !ok {
			s.applied[k] = applied{uid: uid, since: now}
		}
	}
	s.ready.Store(true)
	s.o.Metrics.ActivePeers.Set(float64(s.o.Registry.Len()))
	return len(ps), nil
}

func peerOf(c records.Checked) registry.Peer {
	return registry.Peer{Key: c.Key, Owner: registry.Owner{Subject: c.Owner.Subject, Name: c.Owner.Name, ObjectID: c.Owner.ObjectID},
		DeviceName: c.DeviceName, Addr: c.Addr, CreatedAt: c.CreatedAt, ExpiresAt: c.ExpiresAt}
}

// usableLocked checks a record and that its Address record names its key.
// An unusable record is logged once per version; one waiting for its
// Address record is kept pending.
func (s *Store) usableLocked(rec *records.Peer) (records.Checked, bool) {
	if _, gone := s.deleted[rec.UID]; gone {
		return records.Checked{}, false
	}
	c, err := records.Check(rec, s.pool.Contains)
	if err != nil {
		if s.bad[rec.Name] != rec.ResourceVersion {
			s.bad[rec.Name] = rec.ResourceVersion
			s.log.Warn("ignoring a Peer record that is not usable (edited by hand?); the device keeps what it had", "record", rec.Name, "problem", err.Error())
		}
		return c, false
	}
	delete(s.bad, rec.Name)
	h := s.holders[c.Addr]
	if h == nil || !h.valid || h.key != c.Key {
		s.pending[c.Key] = rec
		return c, false
	}
	delete(s.pending, c.Key)
	return c, true
}

// onPeer programs a new or changed record (once the store has rebuilt).
func (s *Store) onPeer(obj any) {
	rec, ok := obj.(*records.Peer)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.usableLocked(rec)
	if !ok || !s.ready.Load() {
		return
	}
	s.applyLocked(rec.UID, c)
}

func (s *Store) applyLocked(uid types.UID, c records.Checked) {
	if err := s.o.Registry.Apply(peerOf(c)); err != nil {
		s.log.Error("programming a shared peer into the device failed", "key", c.Key.String(), "error", err.Error())
		return
	}
	a, ok := s.applied[c.Key]
	if !ok {
		a.since = s.o.Now()
	}
	a.uid = uid
	s.applied[c.Key] = a
}

// onPeerGone drops a deleted record's peer, unless the device runs a newer
// record of the same key.
func (s *Store) onPeerGone(obj any) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	rec, ok := obj.(*records.Peer)
	if !ok {
		return
	}
	key, err := wgtypes.ParseKey(rec.Spec.PublicKey)
	if err != nil || records.PeerName(key) != rec.Name {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.bad, rec.Name)
	if p := s.pending[key]; p != nil && p.UID == rec.UID {
		delete(s.pending, key)
	}
	if a, ok := s.applied[key]; ok && a.uid == rec.UID {
		s.dropLocked(key)
	}
}

func (s *Store) dropLocked(key wgtypes.Key) {
	if _, _, err := s.o.Registry.Drop(key); err != nil {
		s.log.Error("removing a peer from the device failed", "key", key.String(), "error", err.Error())
	}
	delete(s.applied, key)
	s.o.Metrics.ActivePeers.Set(float64(s.o.Registry.Len()))
}

// onAddress records who holds an address, and programs records that waited
// for it.
func (s *Store) onAddress(obj any) {
	rec, ok := obj.(*records.Address)
	if !ok {
		return
	}
	a, err := records.ParseAddressName(rec.Name)
	if err != nil || !s.pool.Contains(a) {
		s.mu.Lock()
		if s.bad[rec.Name] != rec.ResourceVersion {
			s.bad[rec.Name] = rec.ResourceVersion
			s.log.Warn("ignoring an Address record that names no address of the pool (edited by hand?)", "record", rec.Name)
		}
		s.mu.Unlock()
		return
	}
	s.pool.Reserve(a)
	key, kerr := wgtypes.ParseKey(rec.Spec.PublicKey)
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.holders[a]
	if h == nil {
		h = &holder{}
		s.holders[a] = h
	}
	if h.uid != rec.UID || h.key != key {
		h.orphaned = time.Time{}
	}
	h.key, h.valid, h.name, h.uid, h.rv = key, kerr == nil, rec.Name, rec.UID, rec.ResourceVersion
	if kerr != nil && s.bad[rec.Name] != rec.ResourceVersion {
		s.bad[rec.Name] = rec.ResourceVersion
		s.log.Warn("an Address record names no usable key (edited by hand?); the address stays reserved", "record", rec.Name)
	}
	if !s.ready.Load() {
		return
	}
	for k, p := range s.pending {
		if p.Spec.Address == a.String() || k == key {
			if c, ok := s.usableLocked(p); ok {
				s.applyLocked(p.UID, c)
			}
		}
	}
}

func (s *Store) onAddressGone(obj any) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	rec, ok := obj.(*records.Address)
	if !ok {
		return
	}
	a, err := records.ParseAddressName(rec.Name)
	if err != nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.bad, rec.Name)
	if h := s.holders[a]; h != nil && h.uid == rec.UID {
		delete(s.holders, a)
		s.pool.Free(a)
	}
}

// noteFailure remembers why the API could not be asked (for /readyz while
// not ready) and wraps err as ErrUnavailable.
func (s *Store) unavailable(what string, err error) error {
	s.failed.Store(err.Error())
	return fmt.Errorf("%w: %s: %v", ErrUnavailable, what, err)
}
