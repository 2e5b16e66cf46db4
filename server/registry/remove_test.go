package registry

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
)

func TestRemoveAnyAndRemoveWhere(t *testing.T) {
	r, d, c, p := setup(t, "100.82.0.0/28", 5)
	a1, a2, b1 := key(t), key(t), key(t)
	for _, x := range []struct {
		o Owner
		k [32]byte
	}{{alice, a1}, {alice, a2}, {bob, b1}} {
		if _, _, _, err := r.Register(x.o, x.k, "", nil); err != nil {
			t.Fatal(err)
		}
		c.add(1)
	}
	// Someone else's key: Remove refuses, RemoveAny (the admin's) takes it.
	if _, err := r.Remove(alice, b1); !errors.Is(err, ErrNotFound) {
		t.Fatalf("alice removing bob's key: %v", err)
	}
	got, err := r.RemoveAny(b1)
	if err != nil || got.Owner != bob {
		t.Fatalf("RemoveAny: %+v %v", got, err)
	}
	if _, ok := d.peers[b1]; ok || r.Len() != 2 {
		t.Fatalf("bob's peer still there: device %v, registry %d", d.peers, r.Len())
	}
	if _, err := r.RemoveAny(b1); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second RemoveAny: %v", err)
	}
	inUse := p.InUse()
	removed, errs := r.RemoveWhere(func(o Owner) bool { return o.Subject == alice.Subject }, ReasonDenied)
	if len(errs) != 0 || len(removed) != 2 || removed[0].Key != a1 || removed[1].Key != a2 || removed[0].Reason != ReasonDenied {
		t.Fatalf("RemoveWhere: %+v %v", removed, errs)
	}
	if len(d.peers) != 0 || r.Len() != 0 || p.InUse() != inUse-2 {
		t.Fatalf("left: device %d, registry %d, pool %d→%d", len(d.peers), r.Len(), inUse, p.InUse())
	}
}

// Denied is checked under the lock: a registration racing with a deny-list
// change either is refused or is removed by the RemoveWhere that follows it.
func TestDeniedRegistrationRace(t *testing.T) {
	r, d, _, _ := setup(t, "100.82.1.0/24", 1000)
	var denied atomic.Bool
	r.o.Denied = func(o Owner) bool { return denied.Load() && o.Subject == alice.Subject }
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, _, err := r.Register(alice, key(t), "", nil)
			if err != nil && !errors.Is(err, ErrDenied) {
				t.Error(err)
			}
		}()
	}
	denied.Store(true)
	r.RemoveWhere(func(o Owner) bool { return o.Subject == alice.Subject }, ReasonDenied)
	wg.Wait()
	if r.Len() != 0 || len(d.peers) != 0 {
		t.Fatalf("denied owner kept %d peers (device %d)", r.Len(), len(d.peers))
	}
	if _, _, _, err := r.Register(alice, key(t), "", nil); !errors.Is(err, ErrDenied) {
		t.Fatalf("denied register: %v", err)
	}
	if _, _, _, err := r.Register(bob, key(t), "", nil); err != nil {
		t.Fatalf("bob is not denied: %v", err)
	}
}
