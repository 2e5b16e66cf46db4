package pool

import "net/netip"

// With several replicas the pool is each replica's view of the addresses
// held cluster-wide (one Address record each, server/kube/peerstore): the
// records mark addresses used and free, and Allocate only proposes a
// candidate, which the API server then accepts or refuses. Addresses rest by
// the records lingering, not here.

// Reserve marks a used (held by a record); false when it is not one of the
// pool's client addresses.
func (p *Pool) Reserve(a netip.Addr) bool {
	a = a.Unmap()
	if !p.Contains(a) {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.used[a] = struct{}{}
	delete(p.resting, a)
	return true
}

// Free marks a unused at once, with no rest (its record is gone, and it
// rested while the record lingered).
func (p *Pool) Free(a netip.Addr) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.used, a.Unmap())
}

// Contains reports whether a is one of the pool's client addresses.
func (p *Pool) Contains(a netip.Addr) bool {
	a = a.Unmap()
	return p.prefix.Contains(a) && !a.Less(p.first) && !p.last.Less(a)
}

// Scatter moves where Allocate starts looking to the n-th client address
// (modulo the pool's size), so replicas that allocate at the same time start
// far apart instead of all proposing the same first free address.
func (p *Pool) Scatter(n uint64) {
	if p.size == 0 || p.size >= 1<<62 {
		return
	}
	b := p.first.As16()
	// Add n mod size to the address's low 64 bits (pools are at most /64s of hosts here).
	lo := uint64(0)
	for _, x := range b[8:] {
		lo = lo<<8 | uint64(x)
	}
	lo += n % p.size
	for i := 15; i >= 8; i-- {
		b[i] = byte(lo)
		lo >>= 8
	}
	a := netip.AddrFrom16(b)
	if p.first.Is4() {
		a = a.Unmap()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.Contains(a) {
		p.cursor = a
	}
}
