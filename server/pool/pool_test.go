package pool

import (
	"errors"
	"net/netip"
	"sync"
	"testing"
	"time"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func TestSmallPoolSkipsServerNetworkBroadcast(t *testing.T) {
	p, err := New(netip.MustParsePrefix("10.201.0.0/29"), time.Minute, nil)
	if err != nil {
		t.Fatal(err)
	}
	if p.ServerAddr() != netip.MustParseAddr("10.201.0.1") || p.Size() != 5 {
		t.Fatalf("server %s size %d", p.ServerAddr(), p.Size())
	}
	var got []string
	for {
		a, err := p.Allocate()
		if errors.Is(err, ErrExhausted) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, a.String())
	}
	want := []string{"10.201.0.2", "10.201.0.3", "10.201.0.4", "10.201.0.5", "10.201.0.6"}
	if len(got) != len(want) {
		t.Fatalf("got %v want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v want %v", got, want)
		}
	}
}

func TestReleasedAddressRests(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	p, _ := New(netip.MustParsePrefix("10.201.0.0/30"), 10*time.Minute, c.now) // one client address: .2
	a, err := p.Allocate()
	if err != nil || a != netip.MustParseAddr("10.201.0.2") {
		t.Fatalf("%s %v", a, err)
	}
	p.Release(a)
	if _, err := p.Allocate(); !errors.Is(err, ErrExhausted) {
		t.Fatalf("resting address handed out again: %v", err)
	}
	c.add(9 * time.Minute)
	if _, err := p.Allocate(); !errors.Is(err, ErrExhausted) {
		t.Fatalf("address reused before its rest ended: %v", err)
	}
	c.add(2 * time.Minute)
	if b, err := p.Allocate(); err != nil || b != a {
		t.Fatalf("after rest: %s %v", b, err)
	}
	p.Release(netip.MustParseAddr("10.9.9.9")) // unknown: ignored
	if p.InUse() != 1 {
		t.Fatalf("in use %d", p.InUse())
	}
}

func TestIPv6(t *testing.T) {
	p, err := New(netip.MustParsePrefix("fd00:201::/120"), 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := p.Allocate()
	if a != netip.MustParseAddr("fd00:201::2") || p.Size() != 254 {
		t.Fatalf("%s %d", a, p.Size())
	}
}

func TestBadPrefix(t *testing.T) {
	for _, s := range []string{"10.201.0.1/24", "10.201.0.0/31", "10.201.0.0/32"} {
		if _, err := New(netip.MustParsePrefix(s), 0, nil); err == nil {
			t.Errorf("%s accepted", s)
		}
	}
}

// Run with -race: no address is ever given to two holders.
func TestConcurrentAllocateNeverDuplicates(t *testing.T) {
	p, _ := New(netip.MustParsePrefix("10.201.0.0/22"), time.Hour, nil)
	var (
		mu   sync.Mutex
		seen = map[netip.Addr]int{}
		wg   sync.WaitGroup
	)
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 100; i++ {
				a, err := p.Allocate()
				if err != nil {
					return
				}
				mu.Lock()
				seen[a]++
				mu.Unlock()
				if i%3 == 0 {
					p.Release(a) // rests an hour: never handed out again in this test
				}
			}
		}(g)
	}
	wg.Wait()
	for a, n := range seen {
		if n != 1 {
			t.Fatalf("%s handed out %d times", a, n)
		}
	}
	if len(seen) != int(p.Size()) {
		t.Fatalf("handed out %d of %d", len(seen), p.Size())
	}
}
