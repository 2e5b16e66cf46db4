// Package pool hands out client tunnel addresses from one CIDR. An address
// that comes back rests for a while before anyone else gets it, so traffic
// and logs are never attributed to the wrong person. Safe for concurrent use.
package pool

import (
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"time"
)

// ErrExhausted means every address is in use or resting.
var ErrExhausted = errors.New("address pool exhausted")

// Pool allocates host addresses of a prefix. The first host address is the
// server's own and never handed out; for IPv4 the network and broadcast
// addresses are skipped too.
type Pool struct {
	prefix netip.Prefix
	server netip.Addr
	first  netip.Addr // first allocatable
	last   netip.Addr // last allocatable
	rest   time.Duration
	now    func() time.Time

	mu      sync.Mutex
	cursor  netip.Addr
	used    map[netip.Addr]struct{}
	resting map[netip.Addr]time.Time // address → when it may be reused
	size    uint64
}

// New returns a pool over prefix; released addresses rest for rest.
// now may be nil (time.Now).
func New(prefix netip.Prefix, rest time.Duration, now func() time.Time) (*Pool, error) {
	if !prefix.IsValid() || prefix.Masked() != prefix {
		return nil, fmt.Errorf("pool prefix %s must be a network prefix without host bits", prefix)
	}
	if now == nil {
		now = time.Now
	}
	hostBits := prefix.Addr().BitLen() - prefix.Bits()
	if hostBits < 2 {
		return nil, fmt.Errorf("pool prefix %s is too small for a server and a client", prefix)
	}
	server := prefix.Addr().Next()
	first := server.Next()
	last := lastAddr(prefix)
	if prefix.Addr().Is4() {
		last = last.Prev() // broadcast
	}
	if last.Less(first) {
		return nil, fmt.Errorf("pool prefix %s has no address left for clients", prefix)
	}
	var size uint64 = 1 << 62
	if hostBits < 62 {
		size = 1<<hostBits - 2
		if prefix.Addr().Is4() {
			size--
		}
	}
	return &Pool{
		prefix: prefix, server: server, first: first, last: last, rest: rest, now: now,
		cursor: first, used: map[netip.Addr]struct{}{}, resting: map[netip.Addr]time.Time{}, size: size,
	}, nil
}

func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	for i := range b {
		bit := i * 8
		switch {
		case bit >= p.Bits():
			b[i] = 0xff
		case bit+8 > p.Bits():
			b[i] |= 0xff >> (p.Bits() - bit)
		}
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// Prefix is the pool's CIDR.
func (p *Pool) Prefix() netip.Prefix { return p.prefix }

// ServerAddr is the server's tunnel address (the first host of the prefix).
func (p *Pool) ServerAddr() netip.Addr { return p.server }

// Allocate returns a free address that is not resting. It walks forward from
// the last one handed out, so addresses are spread over the whole pool and a
// fresh one is found in O(1) until the pool is nearly full.
func (p *Pool) Allocate() (netip.Addr, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if uint64(len(p.used)) >= p.size {
		return netip.Addr{}, ErrExhausted
	}
	now := p.now()
	a := p.cursor
	for n := uint64(0); n < p.size; n++ {
		cand := a
		a = a.Next()
		if !a.IsValid() || p.last.Less(a) {
			a = p.first
		}
		if _, busy := p.used[cand]; busy {
			continue
		}
		if until, ok := p.resting[cand]; ok {
			if now.Before(until) {
				continue
			}
			delete(p.resting, cand)
		}
		p.used[cand] = struct{}{}
		p.cursor = a
		return cand, nil
	}
	return netip.Addr{}, ErrExhausted
}

// Release returns a to the pool; it rests before it is handed out again.
func (p *Pool) Release(a netip.Addr) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.used[a]; !ok {
		return
	}
	delete(p.used, a)
	if p.rest > 0 {
		p.resting[a] = p.now().Add(p.rest)
	}
}

// InUse is the number of allocated addresses.
func (p *Pool) InUse() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.used)
}

// Size is the number of addresses clients can get.
func (p *Pool) Size() uint64 { return p.size }
