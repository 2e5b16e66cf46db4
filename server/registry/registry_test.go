package registry

import (
	"errors"
	"net/netip"
	"sync"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/ghostwire/ghostwire/server/pool"
)

// memDevice keeps peers the way WireGuard does (an allowed IP belongs to one
// peer). The real device is exercised by server/wgdev's system test and the
// server's; this double lets the registry's rules run without root.
type memDevice struct {
	mu    sync.Mutex
	peers map[wgtypes.Key]netip.Prefix
	fail  error
}

func (d *memDevice) AddPeer(k wgtypes.Key, p netip.Prefix) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.fail != nil {
		return d.fail
	}
	for o, q := range d.peers {
		if q == p {
			d.peers[o] = netip.Prefix{}
		}
	}
	d.peers[k] = p
	return nil
}

func (d *memDevice) RemovePeer(k wgtypes.Key) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.peers, k)
	return nil
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func setup(t *testing.T, cidr string, cap int) (*Registry, *memDevice, *clock, *pool.Pool) {
	t.Helper()
	c := &clock{t: time.Unix(1_800_000_000, 0)}
	p, err := pool.New(netip.MustParsePrefix(cidr), 10*time.Minute, c.now)
	if err != nil {
		t.Fatal(err)
	}
	d := &memDevice{peers: map[wgtypes.Key]netip.Prefix{}}
	r := New(Options{Pool: p, Device: d, DeviceCap: cap, MaxLifetime: 12 * time.Hour, IdleTimeout: 10 * time.Minute, Grace: 2 * time.Minute, Now: c.now})
	return r, d, c, p
}

func key(t testing.TB) wgtypes.Key {
	k, err := wgtypes.GeneratePrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k.PublicKey()
}

var alice, bob = Owner{Subject: "iss|alice", Name: "alice@example.com"}, Owner{Subject: "iss|bob", Name: "bob"}

func TestRegisterIdempotentConflictCap(t *testing.T) {
	r, d, _, _ := setup(t, "10.201.0.0/24", 2)
	k1 := key(t)
	p, created, _, err := r.Register(alice, k1, "laptop", nil)
	if err != nil || !created || p.Addr != netip.MustParseAddr("10.201.0.2") {
		t.Fatalf("%+v %v %v", p, created, err)
	}
	if d.peers[k1] != netip.MustParsePrefix("10.201.0.2/32") {
		t.Fatalf("device: %v", d.peers)
	}
	again, created, _, err := r.Register(alice, k1, "laptop", nil)
	if err != nil || created || again.Addr != p.Addr || !again.CreatedAt.Equal(p.CreatedAt) {
		t.Fatalf("re-register not idempotent: %+v %v %v", again, created, err)
	}
	if _, _, _, err := r.Register(bob, k1, "x", nil); !errors.Is(err, ErrConflict) {
		t.Fatalf("someone else's key: %v", err)
	}
	if _, err := r.Get(bob, k1); !errors.Is(err, ErrNotFound) {
		t.Fatalf("bob sees alice's peer: %v", err)
	}
	if _, err := r.Remove(bob, k1); !errors.Is(err, ErrNotFound) || len(d.peers) != 1 {
		t.Fatalf("bob removed alice's peer: %v", err)
	}
	if _, _, _, err := r.Register(alice, key(t), "phone", nil); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := r.Register(alice, key(t), "third", nil); !errors.Is(err, ErrTooMany) {
		t.Fatalf("cap: %v", err)
	}
	if _, _, _, err := r.Register(bob, key(t), "bob", nil); err != nil {
		t.Fatalf("cap is per user: %v", err)
	}
	if _, err := r.Remove(alice, k1); err != nil || len(d.peers) != 2 || r.Len() != 2 {
		t.Fatalf("remove: %v %d %d", err, len(d.peers), r.Len())
	}
}

func TestReplaceKeepsAddress(t *testing.T) {
	r, d, _, p := setup(t, "10.201.0.0/24", 1)
	old := key(t)
	a, _, _, _ := r.Register(alice, old, "laptop", nil)
	nk := key(t)
	b, created, rep, err := r.Register(alice, nk, "laptop", &old)
	if err != nil || !created || b.Addr != a.Addr || rep == nil || rep.Key != old || rep.Reason != ReasonReplaced {
		t.Fatalf("rotation: %+v %v %+v %v", b, created, rep, err)
	}
	if _, ok := d.peers[old]; ok || d.peers[nk] != a.Prefix() || r.Len() != 1 || p.InUse() != 1 {
		t.Fatalf("device after rotation: %v len %d inuse %d", d.peers, r.Len(), p.InUse())
	}
	// Replacing someone else's key is ignored (nothing revealed, nothing taken).
	bk := key(t)
	bp, _, _, _ := r.Register(bob, bk, "b", nil)
	ck := key(t)
	if _, _, _, err := r.Register(alice, ck, "x", &bk); !errors.Is(err, ErrTooMany) {
		t.Fatalf("replacing bob's key must not count as rotation: %v", err)
	}
	if got, _ := r.Get(bob, bk); got.Addr != bp.Addr {
		t.Fatal("bob's peer changed")
	}
	// An unknown replaces key (server restarted) is a plain registration.
	r2, _, _, _ := setup(t, "10.201.0.0/24", 1)
	if _, created, rep, err := r2.Register(alice, key(t), "x", &old); err != nil || !created || rep != nil {
		t.Fatalf("unknown replaces: %v %v %v", created, rep, err)
	}
}

func TestPoolExhaustedAndDeviceFailure(t *testing.T) {
	r, d, _, p := setup(t, "10.201.0.0/30", 5) // one client address
	if _, _, _, err := r.Register(alice, key(t), "", nil); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := r.Register(bob, key(t), "", nil); !errors.Is(err, ErrExhausted) {
		t.Fatalf("exhausted: %v", err)
	}
	r2, d2, _, p2 := setup(t, "10.201.0.0/24", 5)
	d2.fail = errors.New("boom")
	if _, _, _, err := r2.Register(alice, key(t), "", nil); err == nil || p2.InUse() != 0 || r2.Len() != 0 {
		t.Fatalf("device failure must roll back: %v inuse %d", err, p2.InUse())
	}
	_, _ = d, p
}

func TestSweep(t *testing.T) {
	r, d, c, p := setup(t, "10.201.0.0/24", 5)
	silent, active, idle := key(t), key(t), key(t)
	for _, k := range []wgtypes.Key{silent, active, idle} {
		if _, _, _, err := r.Register(alice, k, "", nil); err != nil {
			t.Fatal(err)
		}
	}
	c.add(time.Minute)
	rm, _ := r.Sweep(map[wgtypes.Key]Stats{active: {LatestHandshake: c.now()}, idle: {LatestHandshake: c.now()}})
	if len(rm) != 0 {
		t.Fatalf("removed too early: %+v", rm)
	}
	c.add(2 * time.Minute) // silent is past the grace
	rm, _ = r.Sweep(nil)
	if len(rm) != 1 || rm[0].Key != silent || rm[0].Reason != ReasonNoHandshake {
		t.Fatalf("grace: %+v", rm)
	}
	c.add(8*time.Minute + time.Second) // idle's handshake is 10 min old, active keeps shaking hands
	rm, _ = r.Sweep(map[wgtypes.Key]Stats{active: {LatestHandshake: c.now(), RxBytes: 42}})
	if len(rm) != 1 || rm[0].Key != idle || rm[0].Reason != ReasonIdle {
		t.Fatalf("idle: %+v", rm)
	}
	if got, _ := r.Get(alice, active); got.RxBytes != 42 {
		t.Fatalf("stats not recorded: %+v", got)
	}
	c.add(12 * time.Hour)
	rm, _ = r.Sweep(map[wgtypes.Key]Stats{active: {LatestHandshake: c.now()}})
	if len(rm) != 1 || rm[0].Key != active || rm[0].Reason != ReasonExpired {
		t.Fatalf("lifetime: %+v", rm)
	}
	if len(d.peers) != 0 || p.InUse() != 0 || r.Len() != 0 {
		t.Fatalf("left: device %d pool %d registry %d", len(d.peers), p.InUse(), r.Len())
	}
	// A peer someone added to the device by hand is removed.
	stray := key(t)
	d.AddPeer(stray, netip.MustParsePrefix("10.201.0.99/32"))
	rm, _ = r.Sweep(map[wgtypes.Key]Stats{stray: {}})
	if len(rm) != 1 || rm[0].Key != stray || rm[0].Reason != ReasonUnknown || len(d.peers) != 0 {
		t.Fatalf("stray peer: %+v, device %v", rm, d.peers)
	}
}

// Run with -race: concurrent registrations never share an address, and the
// cap holds under contention.
func TestConcurrentRegistrations(t *testing.T) {
	r, d, _, _ := setup(t, "10.201.0.0/20", 3)
	var wg sync.WaitGroup
	for u := 0; u < 40; u++ {
		wg.Add(1)
		go func(u int) {
			defer wg.Done()
			o := Owner{Subject: "user" + string(rune('A'+u))}
			for i := 0; i < 10; i++ {
				_, _, _, _ = r.Register(o, key(t), "", nil)
			}
		}(u)
	}
	wg.Wait()
	seen := map[netip.Addr]bool{}
	per := map[string]int{}
	for _, p := range r.List() {
		if seen[p.Addr] {
			t.Fatalf("address %s given twice", p.Addr)
		}
		seen[p.Addr] = true
		per[p.Owner.Subject]++
	}
	for u, n := range per {
		if n != 3 {
			t.Fatalf("%s has %d peers, cap 3", u, n)
		}
	}
	if len(d.peers) != 120 || r.Len() != 120 {
		t.Fatalf("device %d registry %d", len(d.peers), r.Len())
	}
}

func TestRegisterRateLimit(t *testing.T) {
	c := &clock{t: time.Unix(1_800_000_000, 0)}
	p, _ := pool.New(netip.MustParsePrefix("10.201.0.0/24"), 10*time.Minute, c.now)
	d := &memDevice{peers: map[wgtypes.Key]netip.Prefix{}}
	r := New(Options{Pool: p, Device: d, DeviceCap: 5, MaxLifetime: time.Hour, IdleTimeout: time.Minute, Grace: time.Minute,
		RegisterRate: 6, RegisterBurst: 3, Now: c.now})
	var keys []wgtypes.Key
	for i := 0; i < 3; i++ {
		k := key(t)
		keys = append(keys, k)
		if _, _, _, err := r.Register(alice, k, "", nil); err != nil {
			t.Fatal(err)
		}
	}
	// Deleting does not refill the bucket: churn is what the limit is for.
	for _, k := range keys {
		r.Remove(alice, k)
	}
	if _, _, _, err := r.Register(alice, key(t), "", nil); !errors.Is(err, ErrRateLimited) {
		t.Fatalf("4th new peer in a burst of 3: %v", err)
	}
	if ra := r.RetryAfter(alice.Subject); ra <= 0 || ra > 10*time.Second {
		t.Fatalf("retry after %v, want ≤ 10s at 6/min", ra)
	}
	// Others are not affected; re-registering an existing key and rotating are free.
	bk := key(t)
	if _, _, _, err := r.Register(bob, bk, "", nil); err != nil {
		t.Fatal(err)
	}
	c.add(10 * time.Second) // one token back for alice
	ak := key(t)
	if _, _, _, err := r.Register(alice, ak, "", nil); err != nil {
		t.Fatal(err)
	}
	if _, created, _, err := r.Register(alice, ak, "", nil); err != nil || created {
		t.Fatalf("re-register: %v", err)
	}
	if _, _, _, err := r.Register(alice, key(t), "", &ak); err != nil {
		t.Fatalf("rotation is not rate limited: %v", err)
	}
	// A full bucket is forgotten by the sweep.
	c.add(time.Hour)
	r.Sweep(nil)
	if len(r.buckets) != 0 {
		t.Fatalf("buckets kept: %d", len(r.buckets))
	}
}
