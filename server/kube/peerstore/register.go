package peerstore

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ghostwire/ghostwire/server/kube/records"
	"github.com/ghostwire/ghostwire/server/pool"
	"github.com/ghostwire/ghostwire/server/registry"
)

// claimTries bounds how many addresses one registration proposes before it
// gives up (each refusal means another replica took that one meanwhile).
const claimTries = 64

// Register admits key for owner by the registry's rules, records it in the
// API (an Address, then the Peer), programs it into this replica's device at
// once (the client's first handshake comes here within milliseconds; the
// other replicas follow the record), and returns it. With replaces naming a
// peer of the owner, the new key takes over its address and the old record
// is deleted (key rotation). The results are those of registry.Register.
func (s *Store) Register(ctx context.Context, owner registry.Owner, key wgtypes.Key, deviceName string, replaces *wgtypes.Key) (registry.Peer, bool, *registry.Removed, error) {
	if !s.ready.Load() {
		return registry.Peer{}, false, nil, fmt.Errorf("%w: %v", ErrUnavailable, s.Ready())
	}
	// One registration of a key at a time here: a client's retry waits for
	// its first attempt and then finds the peer.
	var old *registry.Peer
	for {
		s.mu.Lock()
		wait := s.keys[key]
		if wait == nil {
			cur, o, err := s.o.Registry.Admit(owner, key, replaces, s.inflight[owner.Subject])
			if err != nil || cur != nil {
				s.mu.Unlock()
				if cur != nil {
					return *cur, false, nil, nil
				}
				return registry.Peer{}, false, nil, err
			}
			old = o
			s.keys[key] = make(chan struct{})
			s.inflight[owner.Subject]++
			s.mu.Unlock()
			break
		}
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return registry.Peer{}, false, nil, ctx.Err()
		case <-wait:
		}
	}
	defer func() {
		s.mu.Lock()
		close(s.keys[key])
		delete(s.keys, key)
		if s.inflight[owner.Subject]--; s.inflight[owner.Subject] <= 0 {
			delete(s.inflight, owner.Subject)
		}
		s.mu.Unlock()
	}()
	return s.register(ctx, owner, key, deviceName, old)
}

func (s *Store) register(ctx context.Context, owner registry.Owner, key wgtypes.Key, deviceName string, old *registry.Peer) (registry.Peer, bool, *registry.Removed, error) {
	var addr netip.Addr
	var claim *records.Address
	var err error
	if old != nil {
		if claim, err = s.repoint(ctx, old, key); err != nil {
			return registry.Peer{}, false, nil, err
		}
		if claim != nil {
			addr = old.Addr
		}
	}
	if claim == nil {
		if addr, claim, err = s.claim(ctx, key); err != nil {
			return registry.Peer{}, false, nil, err
		}
		old = nil // the old peer is gone: an ordinary registration
	}
	rec := &records.Peer{
		ObjectMeta: metav1.ObjectMeta{Name: records.PeerName(key), Labels: map[string]string{"app.kubernetes.io/part-of": "ghostwire"}},
		Spec: records.PeerSpec{PublicKey: key.String(), DeviceName: deviceName, Address: addr.String(), RegisteredBy: s.o.Replica,
			Owner:     records.Owner{Subject: owner.Subject, Name: owner.Name, ObjectID: owner.ObjectID},
			ExpiresAt: metav1.NewTime(s.o.Client.Clock().Now().Add(s.o.MaxLifetime).UTC())},
	}
	got, err := s.o.Client.CreatePeer(ctx, rec)
	if err != nil {
		s.unclaim(claim, old)
		if apierrors.IsAlreadyExists(err) {
			// Registered meanwhile through another replica (a client's retry).
			return s.existing(ctx, owner, key)
		}
		return registry.Peer{}, false, nil, s.unavailable("recording the peer", err)
	}
	c, err := records.Check(got, s.pool.Contains)
	if err != nil { // cannot happen: we wrote it
		return registry.Peer{}, false, nil, fmt.Errorf("the API server changed the peer record: %w", err)
	}
	s.mu.Lock()
	s.noteHolderLocked(claim)
	s.applyLocked(got.UID, c)
	s.mu.Unlock()
	p, ok := s.o.Registry.Lookup(key)
	if !ok {
		return registry.Peer{}, false, nil, errors.New("adding the peer to the WireGuard device failed (see the log)")
	}
	s.o.Metrics.ActivePeers.Set(float64(s.o.Registry.Len()))
	var replaced *registry.Removed
	if old != nil {
		reason := registry.ReasonReplaced
		if _, err := s.deleteRecord(ctx, old.Key); err != nil {
			// The old key routes nothing any more (its address moved); its
			// record expires or is swept like any other.
			reason += " (" + err.Error() + ")"
		}
		replaced = &registry.Removed{Peer: *old, Reason: reason}
	}
	return p, true, replaced, nil
}

// claim creates the Address record of a free address for key. A refusal
// because it exists means another replica took it since this one last
// looked: the next candidate is tried.
func (s *Store) claim(ctx context.Context, key wgtypes.Key) (netip.Addr, *records.Address, error) {
	for i := 0; i < claimTries; i++ {
		a, err := s.pool.Allocate()
		if err != nil {
			return netip.Addr{}, nil, err // pool.ErrExhausted: every address is held
		}
		rec := &records.Address{ObjectMeta: metav1.ObjectMeta{Name: records.AddressName(a), Labels: map[string]string{"app.kubernetes.io/part-of": "ghostwire"}},
			Spec: records.AddressSpec{PublicKey: key.String()}}
		got, err := s.o.Client.CreateAddress(ctx, rec)
		switch {
		case err == nil:
			return a, got, nil
		case apierrors.IsAlreadyExists(err):
			continue // stays reserved here: its record will arrive by the watch
		default:
			s.pool.Free(a)
			return netip.Addr{}, nil, s.unavailable("reserving an address", err)
		}
	}
	return netip.Addr{}, nil, fmt.Errorf("%w (%d addresses in a row were taken by other replicas)", pool.ErrExhausted, claimTries)
}

// repoint moves the old peer's Address record to the new key (key rotation;
// conditional on the record being as seen). It returns nil without error
// when the old peer's address is no longer its own: the caller then makes
// an ordinary registration.
func (s *Store) repoint(ctx context.Context, old *registry.Peer, key wgtypes.Key) (*records.Address, error) {
	cur, err := s.o.Client.GetAddress(ctx, records.AddressName(old.Addr))
	switch {
	case apierrors.IsNotFound(err):
		return nil, nil
	case err != nil:
		return nil, s.unavailable("reading the address record", err)
	case cur.Spec.PublicKey != old.Key.String():
		return nil, nil
	}
	cur.Spec.PublicKey = key.String()
	got, err := s.o.Client.UpdateAddress(ctx, cur)
	switch {
	case apierrors.IsConflict(err) || apierrors.IsNotFound(err):
		return nil, nil
	case err != nil:
		return nil, s.unavailable("moving the address to the new key", err)
	}
	return got, nil
}

// unclaim gives back an Address record a failed registration made (or
// moved back to the old key for a failed rotation); best effort: a leftover
// record is collected as unused by the sweep.
func (s *Store) unclaim(claim *records.Address, old *registry.Peer) {
	ctx, cancel := context.WithTimeout(context.Background(), records.RequestTimeout)
	defer cancel()
	if old != nil {
		claim.Spec.PublicKey = old.Key.String()
		_, _ = s.o.Client.UpdateAddress(ctx, claim)
		return
	}
	_ = s.o.Client.DeleteAddress(ctx, claim.Name, claim.UID, claim.ResourceVersion)
}

// existing answers a registration whose key got recorded meanwhile: the
// same owner gets the peer, anyone else a conflict.
func (s *Store) existing(ctx context.Context, owner registry.Owner, key wgtypes.Key) (registry.Peer, bool, *registry.Removed, error) {
	rec, err := s.o.Client.GetPeer(ctx, records.PeerName(key))
	if err != nil {
		return registry.Peer{}, false, nil, s.unavailable("reading the peer record", err)
	}
	c, err := records.Check(rec, s.pool.Contains)
	if err != nil {
		return registry.Peer{}, false, nil, fmt.Errorf("the peer record for this key is not usable: %w", err)
	}
	if c.Owner.Subject != owner.Subject {
		return registry.Peer{}, false, nil, registry.ErrConflict
	}
	return peerOf(c), false, nil, nil
}

func (s *Store) noteHolderLocked(a *records.Address) {
	addr, err := records.ParseAddressName(a.Name)
	if err != nil {
		return
	}
	key, err := wgtypes.ParseKey(a.Spec.PublicKey)
	if err != nil {
		return
	}
	s.pool.Reserve(addr)
	h := s.holders[addr]
	if h == nil {
		h = &holder{}
		s.holders[addr] = h
	}
	*h = holder{key: key, valid: true, name: a.Name, uid: a.UID, rv: a.ResourceVersion}
}
