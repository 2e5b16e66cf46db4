package peerstore

import (
	"context"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"

	"github.com/ghostwire/ghostwire/server/kube/records"
	"github.com/ghostwire/ghostwire/server/registry"
)

// What the HTTP API asks of the peers, answered from this replica's view
// where that is enough and from the records where it is not.

// Get returns owner's peer. A key this replica has not seen yet (registered
// through another replica a moment ago) is looked up in the records, so a
// client never hears "not found" for a peer that exists.
func (s *Store) Get(ctx context.Context, owner registry.Owner, key wgtypes.Key) (registry.Peer, error) {
	p, err := s.o.Registry.Get(owner, key)
	if err == nil {
		return p, nil
	}
	rec, gerr := s.o.Client.GetPeer(ctx, records.PeerName(key))
	if gerr != nil {
		if apierrors.IsNotFound(gerr) {
			return registry.Peer{}, registry.ErrNotFound
		}
		return registry.Peer{}, s.unavailable("reading the peer record", gerr)
	}
	c, cerr := records.Check(rec, s.pool.Contains)
	if cerr != nil || c.Owner.Subject != owner.Subject {
		return registry.Peer{}, registry.ErrNotFound
	}
	return peerOf(c), nil
}

// Remove deletes owner's peer (a disconnect).
func (s *Store) Remove(ctx context.Context, owner registry.Owner, key wgtypes.Key) (registry.Peer, error) {
	p, err := s.Get(ctx, owner, key)
	if err != nil {
		return registry.Peer{}, err
	}
	_, err = s.deleteRecord(ctx, key)
	return p, err
}

// RemoveAny deletes the peer with key whoever owns it (an admin).
func (s *Store) RemoveAny(ctx context.Context, key wgtypes.Key) (registry.Peer, error) {
	p, ok := s.o.Registry.Lookup(key)
	if !ok {
		return registry.Peer{}, registry.ErrNotFound
	}
	_, err := s.deleteRecord(ctx, key)
	return p, err
}

// RemoveWhere deletes every peer whose owner match accepts, oldest first
// (the order of Registry.List).
func (s *Store) RemoveWhere(ctx context.Context, match func(registry.Owner) bool, reason string) ([]registry.Removed, []error) {
	var removed []registry.Removed
	var errs []error
	for _, p := range s.o.Registry.List() {
		if !match(p.Owner) {
			continue
		}
		mine, err := s.deleteRecord(ctx, p.Key)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if mine { // a replica deleting at the same moment reports its own
			removed = append(removed, registry.Removed{Peer: p, Reason: reason})
		}
	}
	return removed, errs
}

// List is every peer this replica holds, oldest first, with its live stats.
func (s *Store) List() []registry.Peer { return s.o.Registry.List() }

// Len is the number of peers this replica holds.
func (s *Store) Len() int { return s.o.Registry.Len() }

// RetryAfter is how long until owner may create a new peer here again.
func (s *Store) RetryAfter(owner string) time.Duration { return s.o.Registry.RetryAfter(owner) }

// deleteRecord deletes key's record (the exact one this replica programmed,
// when it did) and drops the peer here at once; the others follow the
// record. Its Address record stays, so the address rests. A record already
// gone is no error; mine says whether this call deleted it (another replica
// may have decided the same at the same moment: one of them reports it).
func (s *Store) deleteRecord(ctx context.Context, key wgtypes.Key) (mine bool, err error) {
	s.mu.Lock()
	uid := s.applied[key].uid
	s.mu.Unlock()
	err = s.o.Client.DeletePeer(ctx, records.PeerName(key), uid)
	if apierrors.IsConflict(err) {
		// A newer record of the key than the one seen here: leave it.
		return false, nil
	}
	if err != nil && !apierrors.IsNotFound(err) {
		return false, s.unavailable("deleting the peer record", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tombstoneLocked(uid)
	s.dropLocked(key)
	return err == nil, nil
}

// tombstoneLocked remembers a deleted record, so that a late event for it
// (one already queued) does not bring the peer back for a moment.
func (s *Store) tombstoneLocked(uid types.UID) {
	if uid == "" {
		return
	}
	now := s.o.Now()
	s.deleted[uid] = now
	for u, at := range s.deleted {
		if now.Sub(at) > 10*time.Minute {
			delete(s.deleted, u)
		}
	}
}

// AddressesInUse is how many addresses are held cluster-wide, as seen here.
func (s *Store) AddressesInUse() int { return s.pool.InUse() }
