// Package registry keeps the server's peers: who owns each key, which address
// it has, when it expires. It is the only place that decides ownership, the
// per-user device cap, idempotent re-registration, key rotation and expiry,
// and it keeps the WireGuard device in step with one add or remove per peer.
package registry

import (
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"sync"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/ghostwire/ghostwire/server/pool"
)

// Errors Register, Get and Remove return; callers map them to HTTP codes.
var (
	ErrConflict = errors.New("public key registered by another user")
	ErrTooMany  = errors.New("device cap reached")
	ErrNotFound = errors.New("no such peer")
	// ErrRateLimited: the owner created new peers faster than RegisterRate.
	ErrRateLimited = errors.New("too many new registrations")
	// ErrDenied: Options.Denied refuses the owner (the deny list).
	ErrDenied    = errors.New("owner is denied")
	ErrExhausted = pool.ErrExhausted
	// ErrUnavailable: the peers are shared records (several replicas) and
	// the store holding them cannot be reached; nothing was changed.
	ErrUnavailable = errors.New("the shared peer records cannot be reached")
)

// Owner is who a peer belongs to. Subject decides; Name is for display only.
type Owner struct {
	Subject string
	Name    string
	// ObjectID is the Entra oid (when the token has one), so an admin can
	// name the user by it (deny list, bulk removal).
	ObjectID string
}

// Device is the WireGuard device as the registry needs it: one peer at a time.
type Device interface {
	AddPeer(key wgtypes.Key, allowed netip.Prefix) error
	RemovePeer(key wgtypes.Key) error
}

// Stats is what the device reports about a peer.
type Stats struct {
	LatestHandshake time.Time
	RxBytes         int64
	TxBytes         int64
	Endpoint        string
}

// Peer is one registered client key.
type Peer struct {
	Key        wgtypes.Key
	Owner      Owner
	DeviceName string
	Addr       netip.Addr
	CreatedAt  time.Time
	ExpiresAt  time.Time
	Stats
}

// Prefix is the peer's address as a host prefix (/32 or /128).
func (p Peer) Prefix() netip.Prefix { return netip.PrefixFrom(p.Addr, p.Addr.BitLen()) }

// Removal reasons, for the audit log and metrics.
const (
	ReasonDisconnect  = "disconnect"
	ReasonReplaced    = "replaced"
	ReasonIdle        = "idle"
	ReasonNoHandshake = "no_handshake"
	ReasonExpired     = "expired"
	ReasonShutdown    = "shutdown"
	// ReasonAdmin: an admin removed someone else's peer.
	ReasonAdmin = "admin"
	// ReasonDenied: the owner is on the deny list.
	ReasonDenied = "denied"
	// ReasonUnknown: a peer on the device the registry never registered
	// (added by hand with `wg set`, say): the device holds registered peers only.
	ReasonUnknown = "unknown"
)

// Removed is a peer taken off the device, and why.
type Removed struct {
	Peer
	Reason string
}

// Options configures a Registry.
type Options struct {
	// Pool hands out addresses. With replicas it is nil: addresses are then
	// shared records (server/kube/peerstore), and peers come in by Apply.
	Pool      *pool.Pool
	Device    Device
	DeviceCap int
	// MaxLifetime bounds every peer's life from registration.
	MaxLifetime time.Duration
	// IdleTimeout removes a peer whose latest handshake is older.
	IdleTimeout time.Duration
	// Grace removes a peer that has made no handshake this long after registering.
	Grace time.Duration
	// RegisterRate bounds how many new peers (not re-registrations, not key
	// rotations) one owner may create per minute, with RegisterBurst at once.
	// Every removed peer's address rests, so unbounded churn by one user
	// could drain the pool. 0 means no limit.
	RegisterRate  float64
	RegisterBurst int
	// Denied, when set, refuses registrations by owners it matches. It is
	// checked under the registry's lock, so a deny-list reload followed by
	// RemoveWhere leaves no peer of a denied owner behind, whatever
	// registrations were in flight.
	Denied func(Owner) bool
	Now    func() time.Time
}

// bucket is a token bucket per owner; it outlives the owner's peers so that
// deleting them does not reset it.
type bucket struct {
	tokens float64
	last   time.Time
}

// Registry is safe for concurrent use.
type Registry struct {
	o       Options
	mu      sync.RWMutex
	peers   map[wgtypes.Key]*Peer
	byOwner map[string]map[wgtypes.Key]struct{}
	buckets map[string]*bucket
}

// New returns an empty registry.
func New(o Options) *Registry {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.DeviceCap < 1 {
		o.DeviceCap = 1
	}
	if o.RegisterBurst < 1 {
		o.RegisterBurst = 1
	}
	return &Registry{o: o, peers: map[wgtypes.Key]*Peer{}, byOwner: map[string]map[wgtypes.Key]struct{}{}, buckets: map[string]*bucket{}}
}

// Register adds key for owner and returns the peer; created is false when the
// same owner registered the same key before (the existing peer is returned
// unchanged). With replaces set to a key the owner holds, the new key takes
// over that peer's address and the old key is removed (key rotation, not
// counted against the cap); a replaces key that is unknown or not the
// owner's is ignored, so a client can always pass its previous key.
func (r *Registry) Register(owner Owner, key wgtypes.Key, deviceName string, replaces *wgtypes.Key) (p Peer, created bool, replaced *Removed, err error) {
	if owner.Subject == "" {
		return Peer{}, false, nil, errors.New("registry: empty owner subject")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	cur, old, err := r.admitLocked(owner, key, replaces, 0)
	if err != nil {
		return Peer{}, false, nil, err
	}
	if cur != nil {
		return *cur, false, nil, nil
	}
	now := r.o.Now()
	np := &Peer{Key: key, Owner: owner, DeviceName: deviceName, CreatedAt: now, ExpiresAt: now.Add(r.o.MaxLifetime)}
	if old != nil {
		np.Addr = old.Addr
	} else {
		a, err := r.o.Pool.Allocate()
		if err != nil {
			return Peer{}, false, nil, err
		}
		np.Addr = a
	}
	// Adding the new key first moves the address to it inside WireGuard
	// (allowed IPs are unique per device), so rotation drops no packet.
	if err := r.o.Device.AddPeer(key, np.Prefix()); err != nil {
		if old == nil {
			r.o.Pool.Release(np.Addr)
		}
		return Peer{}, false, nil, fmt.Errorf("adding the peer to the WireGuard device: %w", err)
	}
	if old != nil {
		if err := r.o.Device.RemovePeer(old.Key); err != nil {
			// The old key no longer routes anything (its address moved); keep
			// going, but report it.
			err = fmt.Errorf("removing the replaced peer from the WireGuard device: %w", err)
			defer func() {
				if replaced != nil {
					replaced.Reason += " (" + err.Error() + ")"
				}
			}()
		}
		r.forget(old)
		replaced = &Removed{Peer: *old, Reason: ReasonReplaced}
	}
	r.insertLocked(np)
	return *np, true, replaced, nil
}

// insertLocked puts p into the maps (not onto the device).
func (r *Registry) insertLocked(p *Peer) {
	r.peers[p.Key] = p
	set := r.byOwner[p.Owner.Subject]
	if set == nil {
		set = map[wgtypes.Key]struct{}{}
		r.byOwner[p.Owner.Subject] = set
	}
	set[p.Key] = struct{}{}
}

// admitLocked applies the rules every registration passes: the deny list,
// one owner per key, the device cap (counting pending registrations of the
// owner not yet in the registry) and the rate of new peers (a token is spent
// here). It returns the owner's existing peer for key (nothing to do), or
// the owner's peer that replaces names (key rotation: neither cap nor rate).
func (r *Registry) admitLocked(owner Owner, key wgtypes.Key, replaces *wgtypes.Key, pending int) (cur, old *Peer, err error) {
	if r.o.Denied != nil && r.o.Denied(owner) {
		return nil, nil, ErrDenied
	}
	if p, ok := r.peers[key]; ok {
		if p.Owner.Subject != owner.Subject {
			return nil, nil, ErrConflict
		}
		return p, nil, nil
	}
	if replaces != nil && *replaces != key {
		if o, ok := r.peers[*replaces]; ok && o.Owner.Subject == owner.Subject {
			old = o
		}
	}
	if old == nil && len(r.byOwner[owner.Subject])+pending >= r.o.DeviceCap {
		return nil, nil, ErrTooMany
	}
	if old == nil && !r.take(owner.Subject, r.o.Now()) {
		return nil, nil, ErrRateLimited
	}
	return nil, old, nil
}

// take spends one of owner's registration tokens.
func (r *Registry) take(owner string, now time.Time) bool {
	if r.o.RegisterRate <= 0 {
		return true
	}
	b := r.buckets[owner]
	if b == nil {
		b = &bucket{tokens: float64(r.o.RegisterBurst), last: now}
		r.buckets[owner] = b
	}
	b.tokens = min(float64(r.o.RegisterBurst), b.tokens+now.Sub(b.last).Minutes()*r.o.RegisterRate)
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// RetryAfter is how long until owner may create a new peer again.
func (r *Registry) RetryAfter(owner string) time.Duration {
	r.mu.RLock()
	defer r.mu.RUnlock()
	b := r.buckets[owner]
	if b == nil || r.o.RegisterRate <= 0 || b.tokens >= 1 {
		return 0
	}
	return time.Duration((1 - b.tokens) / r.o.RegisterRate * float64(time.Minute))
}

// forget drops p from the maps (not from the device, not from the pool).
func (r *Registry) forget(p *Peer) {
	delete(r.peers, p.Key)
	if set := r.byOwner[p.Owner.Subject]; set != nil {
		delete(set, p.Key)
		if len(set) == 0 {
			delete(r.byOwner, p.Owner.Subject)
		}
	}
}

// Get returns owner's peer; someone else's key is ErrNotFound, so a key's
// existence is never revealed to another user.
func (r *Registry) Get(owner Owner, key wgtypes.Key) (Peer, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	p, ok := r.peers[key]
	if !ok || p.Owner.Subject != owner.Subject {
		return Peer{}, ErrNotFound
	}
	return *p, nil
}

// Remove deletes owner's peer from the device and releases its address.
func (r *Registry) Remove(owner Owner, key wgtypes.Key) (Peer, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p, ok := r.peers[key]
	if !ok || p.Owner.Subject != owner.Subject {
		return Peer{}, ErrNotFound
	}
	return *p, r.removeLocked(p)
}

// RemoveAny deletes the peer with key whoever owns it (an admin's removal).
func (r *Registry) RemoveAny(key wgtypes.Key) (Peer, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p, ok := r.peers[key]
	if !ok {
		return Peer{}, ErrNotFound
	}
	return *p, r.removeLocked(p)
}

// RemoveWhere deletes every peer whose owner match accepts, oldest first,
// each with reason. A device error does not stop the others.
func (r *Registry) RemoveWhere(match func(Owner) bool, reason string) (removed []Removed, errs []error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range r.peers {
		if !match(p.Owner) {
			continue
		}
		if err := r.removeLocked(p); err != nil {
			errs = append(errs, err)
		}
		removed = append(removed, Removed{Peer: *p, Reason: reason})
	}
	sort.Slice(removed, func(i, j int) bool { return removed[i].CreatedAt.Before(removed[j].CreatedAt) })
	return removed, errs
}

func (r *Registry) removeLocked(p *Peer) error {
	err := r.o.Device.RemovePeer(p.Key)
	r.forget(p)
	if r.o.Pool != nil {
		r.o.Pool.Release(p.Addr)
	}
	if err != nil {
		return fmt.Errorf("removing the peer from the WireGuard device: %w", err)
	}
	return nil
}

// List returns every peer, oldest first.
func (r *Registry) List() []Peer {
	r.mu.RLock()
	out := make([]Peer, 0, len(r.peers))
	for _, p := range r.peers {
		out = append(out, *p)
	}
	r.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].CreatedAt.Before(out[j].CreatedAt) })
	return out
}

// Len is the number of peers.
func (r *Registry) Len() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.peers)
}

// Sweep records stats (may be nil) and removes peers past their lifetime,
// idle too long, or silent since registration beyond the grace period. Keys
// in stats that the registry does not hold are removed from the device too.
func (r *Registry) Sweep(stats map[wgtypes.Key]Stats) (removed []Removed, errs []error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.o.Now()
	removed, errs = r.reconcileLocked(now, stats)
	for _, p := range r.peers {
		reason := ""
		if !now.Before(p.ExpiresAt) {
			reason = ReasonExpired
		} else if reason = IdleReason(now, p.CreatedAt, p.LatestHandshake, r.o.Grace, r.o.IdleTimeout); reason == "" {
			continue
		}
		if err := r.removeLocked(p); err != nil {
			errs = append(errs, err)
		}
		removed = append(removed, Removed{Peer: *p, Reason: reason})
	}
	return removed, errs
}

// Reconcile is the part of a sweep that does not judge peers: it forgets
// rate buckets that are full again, records stats (what the device holds),
// and removes from the device every key in stats the registry does not hold
// (added by hand, or left by a shared record this replica never saw), each
// returned with ReasonUnknown. Sweep does it first; with replicas, where the
// peer store judges the peers, the store calls it on every sweep.
func (r *Registry) Reconcile(stats map[wgtypes.Key]Stats) (removed []Removed, errs []error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reconcileLocked(r.o.Now(), stats)
}

func (r *Registry) reconcileLocked(now time.Time, stats map[wgtypes.Key]Stats) (removed []Removed, errs []error) {
	for o, b := range r.buckets {
		if r.o.RegisterRate <= 0 || b.tokens+now.Sub(b.last).Minutes()*r.o.RegisterRate >= float64(r.o.RegisterBurst) {
			delete(r.buckets, o) // full again: same as no bucket
		}
	}
	for k, s := range stats {
		if p, ok := r.peers[k]; ok {
			p.Stats = s
			continue
		}
		if err := r.o.Device.RemovePeer(k); err != nil {
			errs = append(errs, fmt.Errorf("removing an unregistered peer from the WireGuard device: %w", err))
		}
		removed = append(removed, Removed{Peer: Peer{Key: k}, Reason: ReasonUnknown})
	}
	return removed, errs
}

// RateBuckets is how many owners' registration buckets the registry keeps
// (those not full again since the last sweep).
func (r *Registry) RateBuckets() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.buckets)
}

// IdleReason is the rule for a peer's activity as one device saw it, watched
// since watching (its registration, or when a replica started holding it):
// ReasonNoHandshake when it made no handshake for longer than grace,
// ReasonIdle when its latest handshake is older than idle (and it has been
// watched that long), "" when it is active.
func IdleReason(now, watching, handshake time.Time, grace, idle time.Duration) string {
	switch {
	case handshake.IsZero() && now.Sub(watching) > grace:
		return ReasonNoHandshake
	case !handshake.IsZero() && now.Sub(handshake) > idle && now.Sub(watching) > idle:
		return ReasonIdle
	}
	return ""
}

// RemoveAll takes every peer off the device (shutdown).
func (r *Registry) RemoveAll() (removed []Removed, errs []error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range r.peers {
		if err := r.removeLocked(p); err != nil {
			errs = append(errs, err)
		}
		removed = append(removed, Removed{Peer: *p, Reason: ReasonShutdown})
	}
	return removed, errs
}
