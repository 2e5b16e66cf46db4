package peerstore

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ghostwire/ghostwire/server/kube/records"
	"github.com/ghostwire/ghostwire/server/registry"
)

// Peers' lifecycle across replicas: removals, rotation, idle, sweeps,
// skewed clocks and resting addresses follow the shared records.

// A disconnect at one replica, an admin's removal and the deny list at
// another: each decides once, and every device follows the records.
func TestHARemovalsFollowTheRecords(t *testing.T) {
	e := newEnv(t, "100.73.0.0/24")
	a, b, c := e.start("gw-a", replicaOpts{}), e.start("gw-b", replicaOpts{}), e.start("gw-c", replicaOpts{})
	ctx := context.Background()
	want := map[wgtypes.Key]netip.Addr{}
	var alice, bob []wgtypes.Key
	for i := 0; i < 3; i++ {
		k := newKey()
		want[k] = a.register(t, owners[0], k).Addr
		alice = append(alice, k)
		k = newKey()
		want[k] = b.register(t, owners[1], k).Addr
		bob = append(bob, k)
	}
	everyDeviceHolds(t, want, a, b, c)
	// Disconnect: Alice's first device, through replica c.
	if _, err := c.store.Remove(ctx, owners[0], alice[0]); err != nil {
		t.Fatal(err)
	}
	delete(want, alice[0])
	// Someone else's key is not found, whoever asks.
	if _, err := c.store.Remove(ctx, owners[0], bob[0]); !errors.Is(err, registry.ErrNotFound) {
		t.Fatalf("removing Bob's peer as Alice: %v", err)
	}
	// Admin: one of Bob's peers, through a.
	if _, err := a.store.RemoveAny(ctx, bob[0]); err != nil {
		t.Fatal(err)
	}
	delete(want, bob[0])
	everyDeviceHolds(t, want, a, b, c)
	// Deny list: every peer of Bob's, through b.
	removed, errs := b.store.RemoveWhere(ctx, func(o registry.Owner) bool { return o.Subject == owners[1].Subject }, registry.ReasonDenied)
	if len(errs) > 0 || len(removed) != 2 {
		t.Fatalf("removed %d, errors %v", len(removed), errs)
	}
	for _, k := range bob[1:] {
		delete(want, k)
	}
	everyDeviceHolds(t, want, a, b, c)
}

// Key rotation at another replica: the new key takes the old one's address
// on every device, and the old key is gone.
func TestHARotation(t *testing.T) {
	e := newEnv(t, "100.74.0.0/24")
	a, b := e.start("gw-a", replicaOpts{}), e.start("gw-b", replicaOpts{})
	k1, k2 := newKey(), newKey()
	addr := a.register(t, owners[0], k1).Addr
	everyDeviceHolds(t, map[wgtypes.Key]netip.Addr{k1: addr}, a, b)
	p, created, replaced, err := b.store.Register(context.Background(), owners[0], k2, "laptop", &k1)
	if err != nil || !created || replaced == nil || replaced.Key != k1 || p.Addr != addr {
		t.Fatalf("rotation: peer %v created %v replaced %v err %v", p, created, replaced, err)
	}
	everyDeviceHolds(t, map[wgtypes.Key]netip.Addr{k2: addr}, a, b)
	// Someone else cannot rotate Alice's key away: it is an ordinary registration.
	k3 := newKey()
	p3, _, rep3, err := a.store.Register(context.Background(), owners[1], k3, "x", &k2)
	if err != nil || rep3 != nil || p3.Addr == addr {
		t.Fatalf("a stranger's replaces: %v %v %v", p3, rep3, err)
	}
}

// Idle is judged from every replica's view: a peer in use at any replica
// stays; it goes when every live replica found it idle.
func TestHAIdleAcrossReplicas(t *testing.T) {
	e := newEnv(t, "100.75.0.0/24")
	e.idle, e.grace = 3*time.Second, 2*time.Second
	a, b := e.start("gw-a", replicaOpts{}), e.start("gw-b", replicaOpts{})
	ca, cb := newClient(t), newClient(t)
	// Both register at a; ca then talks to a only, cb to b only (an old
	// client, or one whose routes moved to b).
	want := map[wgtypes.Key]netip.Addr{ca.pub(): a.register(t, owners[0], ca.pub()).Addr, cb.pub(): a.register(t, owners[1], cb.pub()).Addr}
	everyDeviceHolds(t, want, a, b)
	ctx := context.Background()
	deadline := time.Now().Add(7 * time.Second) // past both the grace and the idle timeout
	for time.Now().Before(deadline) {
		ca.handshake(t, a)
		cb.handshake(t, b)
		for _, r := range []*replica{a, b} {
			if rm, err := r.store.Sweep(ctx); err != nil || len(rm) > 0 {
				t.Fatalf("%s removed %v (err %v) while both peers are in use", r.name, rm, err)
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
	// Each replica voted on the peer the other one carries.
	rec := func(k wgtypes.Key) *records.Peer {
		obj, ok, _ := a.store.peers.GetStore().GetByKey(e.ns + "/" + records.PeerName(k))
		if !ok {
			return nil
		}
		return obj.(*records.Peer)
	}
	eventually(t, "the votes", func() (bool, string) {
		va, vb := rec(cb.pub()).Status.Idle["gw-a"], rec(ca.pub()).Status.Idle["gw-b"]
		return va.Reason == "no_handshake" && vb.Reason == "no_handshake", fmt.Sprint(rec(ca.pub()).Status, rec(cb.pub()).Status)
	})
	// ca goes quiet: after the idle timeout a agrees with b, and it goes.
	var removed []registry.Removed
	eventually(t, "the idle peer removed", func() (bool, string) {
		cb.handshake(t, b)
		for _, r := range []*replica{a, b} {
			rm, _ := r.store.Sweep(ctx)
			removed = append(removed, rm...)
		}
		return len(removed) > 0, "nothing removed yet"
	})
	if len(removed) != 1 || removed[0].Key != ca.pub() || removed[0].Reason != registry.ReasonIdle {
		t.Fatalf("removed %+v; want only the quiet peer, as idle", removed)
	}
	delete(want, ca.pub())
	everyDeviceHolds(t, want, a, b)
}

// A sweep does with replicas what it does with one: rate buckets full again
// are forgotten, and a key on the device that no record names is removed.
func TestHASweepReconciles(t *testing.T) {
	e := newEnv(t, "100.80.0.0/24")
	e.rate = 600 // ten a second: a bucket is full again in 100 ms
	a := e.start("gw-a", replicaOpts{})
	a.register(t, owners[0], newKey())
	if n := a.reg.RateBuckets(); n != 1 {
		t.Fatalf("%d rate buckets after a registration; want 1", n)
	}
	stray := newKey()
	if err := a.dev.AddPeer(stray, netip.MustParsePrefix("100.80.0.200/32")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	rm, err := a.store.Sweep(context.Background())
	if err != nil || len(rm) != 1 || rm[0].Key != stray || rm[0].Reason != registry.ReasonUnknown {
		t.Fatalf("sweep removed %+v (err %v); want only the stray key, as unknown", rm, err)
	}
	if _, ok := a.dev.holds(t)[stray]; ok {
		t.Fatal("the stray key is still on the device")
	}
	if n := a.reg.RateBuckets(); n != 0 {
		t.Fatalf("%d rate buckets after the sweep; want 0 (full again)", n)
	}
}

// A replica whose clock is an hour ahead writes lifetimes on the API
// server's clock, expires nobody early, and is not taken for dead.
func TestHASkewedClock(t *testing.T) {
	e := newEnv(t, "100.76.0.0/24")
	e.lifetime = 6 * time.Second
	a := e.start("gw-a", replicaOpts{})
	skewed := records.NewClock(func() time.Time { return time.Now().Add(time.Hour) })
	b := e.start("gw-b", replicaOpts{clock: skewed})
	if off := skewed.Offset(); off > -time.Hour+5*time.Second || off < -time.Hour-5*time.Second {
		t.Fatalf("the skewed replica estimates the API server %v ahead, want about -1h", off)
	}
	k := newKey()
	p := b.register(t, owners[0], k)
	if d := time.Until(p.ExpiresAt); d < 3*time.Second || d > 9*time.Second {
		t.Fatalf("a peer registered at the skewed replica expires in %v, want about %v", d, e.lifetime)
	}
	k2 := newKey()
	a.register(t, owners[0], k2)
	ctx := context.Background()
	if rm, _ := b.store.Sweep(ctx); len(rm) > 0 {
		t.Fatalf("the skewed replica expired %v at once", rm)
	}
	eventually(t, "a seeing b alive", func() (bool, string) { return a.pres.LiveNames()["gw-b"], fmt.Sprint(a.pres.LiveNames()) })
	time.Sleep(e.lifetime)
	var removed []registry.Removed
	eventually(t, "both peers expired", func() (bool, string) {
		rm, _ := b.store.Sweep(ctx)
		removed = append(removed, rm...)
		return len(removed) == 2, fmt.Sprint(len(removed))
	})
	for _, r := range removed {
		if r.Reason != registry.ReasonExpired {
			t.Errorf("removed %s as %s, want expired", r.Key, r.Reason)
		}
	}
}

// An address rests after its peer goes (its record lingers --address-rest),
// and a record left by a registration that died half-way (its Address made,
// its Peer never) is collected too.
func TestHAAddressRests(t *testing.T) {
	old := orphanGrace
	orphanGrace = time.Second
	t.Cleanup(func() { orphanGrace = old })
	e := newEnv(t, "100.78.0.0/24")
	e.rest = 2 * time.Second
	a, b := e.start("gw-a", replicaOpts{}), e.start("gw-b", replicaOpts{})
	ctx := context.Background()
	k := newKey()
	addr := a.register(t, owners[0], k).Addr
	if _, err := b.store.Remove(ctx, owners[0], k); err != nil {
		t.Fatal(err)
	}
	admin := adminClient(t, e)
	half, err := admin.CreateAddress(ctx, &records.Address{ObjectMeta: metav1.ObjectMeta{Name: "100.78.0.99"},
		Spec: records.AddressSpec{PublicKey: newKey().String()}})
	if err != nil {
		t.Fatal(err)
	}
	removedAt := time.Now()
	for _, name := range []string{records.AddressName(addr), half.Name} {
		eventually(t, "the address record "+name+" collected", func() (bool, string) {
			_, _ = a.store.Sweep(ctx)
			_, _ = b.store.Sweep(ctx)
			_, err := admin.GetAddress(ctx, name)
			if err == nil && time.Since(removedAt) < e.rest {
				return false, "resting"
			}
			return apierrors.IsNotFound(err), fmt.Sprint(err)
		})
	}
	if d := time.Since(removedAt); d < e.rest {
		t.Fatalf("the address rested only %v, want at least %v", d, e.rest)
	}
}
