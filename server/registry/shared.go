package registry

import (
	"errors"
	"fmt"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// With several replicas the registry is each replica's view of the shared
// peer records (server/kube/peerstore decides and stores; every replica
// applies what the records say). These methods serve that: the same rules as
// Register without deciding an address, and adding or dropping a peer the
// records already decided on.

// Admit checks a registration against the rules Register applies (deny
// list, key ownership, device cap with pending more registrations of owner
// in flight, rate of new peers) without registering anything. It returns
// the owner's existing peer for key, or the owner's peer that replaces names.
func (r *Registry) Admit(owner Owner, key wgtypes.Key, replaces *wgtypes.Key, pending int) (cur, old *Peer, err error) {
	if owner.Subject == "" {
		return nil, nil, errors.New("registry: empty owner subject")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	c, o, err := r.admitLocked(owner, key, replaces, pending)
	if c != nil {
		cp := *c
		c = &cp
	}
	if o != nil {
		op := *o
		o = &op
	}
	return c, o, err
}

// Apply adds p to the view and the device, or updates it (same key). A new
// address is programmed into the device; an unchanged one is not, so
// applying the same record again costs nothing. Live stats are kept.
func (r *Registry) Apply(p Peer) error {
	if p.Owner.Subject == "" {
		return errors.New("registry: empty owner subject")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	cur, ok := r.peers[p.Key]
	if ok && cur.Addr == p.Addr && cur.Owner.Subject == p.Owner.Subject {
		cur.Owner, cur.DeviceName, cur.CreatedAt, cur.ExpiresAt = p.Owner, p.DeviceName, p.CreatedAt, p.ExpiresAt
		return nil
	}
	if err := r.o.Device.AddPeer(p.Key, p.Prefix()); err != nil {
		return fmt.Errorf("adding the peer to the WireGuard device: %w", err)
	}
	np := p
	if ok {
		np.Stats = cur.Stats
		r.forget(cur)
	}
	r.insertLocked(&np)
	return nil
}

// ApplyAll adds many peers with one device call (dev.AddPeers), for a
// replica rebuilding its device at start. Peers already in the view (and
// records without an owner) are left as they are.
func (r *Registry) ApplyAll(ps []Peer, addAll func([]Peer) error) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	var fresh []Peer
	for _, p := range ps {
		if _, ok := r.peers[p.Key]; !ok && p.Owner.Subject != "" {
			fresh = append(fresh, p)
		}
	}
	if err := addAll(fresh); err != nil {
		return fmt.Errorf("adding %d peers to the WireGuard device: %w", len(fresh), err)
	}
	for i := range fresh {
		np := fresh[i]
		r.insertLocked(&np)
	}
	return nil
}

// Drop takes key off the device and out of the view (its address goes back
// to the pool when the registry has one). It returns the peer it dropped.
func (r *Registry) Drop(key wgtypes.Key) (Peer, bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p, ok := r.peers[key]
	if !ok {
		return Peer{}, false, nil
	}
	return *p, true, r.removeLocked(p)
}

// Lookup returns the peer with key, whoever owns it.
func (r *Registry) Lookup(key wgtypes.Key) (Peer, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	p, ok := r.peers[key]
	if !ok {
		return Peer{}, false
	}
	return *p, true
}
