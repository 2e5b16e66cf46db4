package peerstore

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ghostwire/ghostwire/server/kube/records"
	"github.com/ghostwire/ghostwire/server/pool"
	"github.com/ghostwire/ghostwire/server/registry"
)

// Each test runs replicas (store, presence, registry view and a real
// wireguard-go device each) against a real kube-apiserver with the Role the
// manifests give the server. See harness_test.go.

// everyDeviceHolds waits until every replica's device holds exactly want.
func everyDeviceHolds(t *testing.T, want map[wgtypes.Key]netip.Addr, rs ...*replica) {
	t.Helper()
	for _, r := range rs {
		eventually(t, fmt.Sprintf("%s's device holding the %d peers", r.name, len(want)), func() (bool, string) {
			got := r.dev.holds(t)
			if len(got) != len(want) {
				return false, fmt.Sprintf("%d peers", len(got))
			}
			for k, a := range want {
				if got[k] != a {
					return false, fmt.Sprintf("key %s has %v, want %v", k, got[k], a)
				}
			}
			return true, ""
		})
	}
}

// registerMany registers n keys concurrently, spread over rs (a client
// whose request fails at one replica retries at the next, as through the
// load balancer), and returns what each key got.
func registerMany(t *testing.T, n int, rs []*replica, pick func(i, attempt int) *replica) map[wgtypes.Key]netip.Addr {
	t.Helper()
	var mu sync.Mutex
	got := map[wgtypes.Key]netip.Addr{}
	var wg sync.WaitGroup
	var failures atomic.Int64
	slots := make(chan struct{}, 64) // 64 clients at a time
	for i := 0; i < n; i++ {
		wg.Add(1)
		slots <- struct{}{}
		go func() {
			defer func() { <-slots; wg.Done() }()
			key := newKey()
			for attempt := 0; attempt < 10; attempt++ {
				r := pick(i, attempt)
				// Requests in flight at a replica that is killed die with it.
				ctx, cancel := context.WithTimeout(r.ctx, 10*time.Second)
				p, _, _, err := r.store.Register(ctx, owners[i%2], key, fmt.Sprintf("laptop-%d", i), nil)
				cancel()
				if err == nil {
					mu.Lock()
					got[key] = p.Addr
					mu.Unlock()
					return
				}
				if failures.Add(1) <= 3 {
					t.Logf("attempt at %s failed (retrying elsewhere): %v", r.name, err)
				}
			}
			t.Errorf("key %d: no replica registered it", i)
		}()
	}
	wg.Wait()
	if f := failures.Load(); f > 0 {
		t.Logf("%d attempts failed and were retried at another replica", f)
	}
	seen := map[netip.Addr]wgtypes.Key{}
	for k, a := range got {
		if o, dup := seen[a]; dup {
			t.Fatalf("address %s given to two keys: %s and %s", a, o, k)
		}
		seen[a] = k
	}
	return got
}

// recordedAddresses reads every Peer record through the API and fails on a
// duplicate address.
func recordedAddresses(t *testing.T, r *replica) map[wgtypes.Key]netip.Addr {
	t.Helper()
	out := map[wgtypes.Key]netip.Addr{}
	seen := map[string]string{}
	for _, obj := range r.store.peers.GetStore().List() {
		p := obj.(*records.Peer)
		if o, dup := seen[p.Spec.Address]; dup {
			t.Fatalf("records %s and %s share address %s", o, p.Name, p.Spec.Address)
		}
		seen[p.Spec.Address] = p.Name
		k, _ := wgtypes.ParseKey(p.Spec.PublicKey)
		out[k] = netip.MustParseAddr(p.Spec.Address)
	}
	return out
}

// 64 registrations at once, spread over three replicas: no duplicate
// address, no lost peer, every device holds every peer.
func TestHAEveryReplicaHoldsEveryPeer(t *testing.T) {
	e := newEnv(t, "100.70.0.0/24")
	rs := []*replica{e.start("gw-0", replicaOpts{}), e.start("gw-1", replicaOpts{}), e.start("gw-2", replicaOpts{})}
	got := registerMany(t, 64, rs, func(i, attempt int) *replica { return rs[(i+attempt)%3] })
	if len(got) != 64 {
		t.Fatalf("%d of 64 registered", len(got))
	}
	everyDeviceHolds(t, got, rs...)
	eventually(t, "64 records", func() (bool, string) {
		n := len(recordedAddresses(t, rs[0]))
		return n == 64, fmt.Sprint(n)
	})
	if rec := recordedAddresses(t, rs[1]); len(rec) != 64 {
		t.Fatalf("records: %d", len(rec))
	}
}

// The same with one replica killed in the middle: registrations it was
// handling either completed (and every live device holds them) or failed
// and went to another replica; none is lost or doubled.
func TestHAEveryReplicaHoldsEveryPeerWithOneKilled(t *testing.T) {
	e := newEnv(t, "100.70.2.0/24")
	rs := []*replica{e.start("gw-0", replicaOpts{}), e.start("gw-1", replicaOpts{}), e.start("gw-2", replicaOpts{})}
	var started atomic.Int64
	var once sync.Once
	got := registerMany(t, 64, rs, func(i, attempt int) *replica {
		if started.Add(1) == 20 {
			once.Do(func() { rs[2].cancel() }) // kill -9: requests in flight there die
		}
		r := rs[(i+attempt)%3]
		if r == rs[2] && rs[2].ctx.Err() != nil && attempt > 0 {
			return rs[(i+attempt+1)%3] // the load balancer stopped sending there
		}
		return r
	})
	if len(got) != 64 {
		t.Fatalf("%d of 64 registered", len(got))
	}
	everyDeviceHolds(t, got, rs[0], rs[1])
	eventually(t, "the records to match", func() (bool, string) {
		rec := recordedAddresses(t, rs[0])
		for k, a := range got {
			if rec[k] != a {
				return false, fmt.Sprintf("key %s recorded with %v, registered with %v", k, rec[k], a)
			}
		}
		return len(rec) == 64, fmt.Sprintf("%d records", len(rec))
	})
}

// Two replicas race for the last free address: one gets it, the other is
// told the pool is exhausted; never both.
func TestHARaceForTheLastAddress(t *testing.T) {
	e := newEnv(t, "100.70.3.0/29") // five client addresses: .2 to .6
	a, b := e.start("gw-a", replicaOpts{}), e.start("gw-b", replicaOpts{})
	for round := 0; round < 3; round++ {
		keys := map[wgtypes.Key]netip.Addr{}
		var last []wgtypes.Key
		for i := 0; i < 4; i++ {
			k := newKey()
			keys[k] = a.register(t, owners[0], k).Addr
		}
		everyDeviceHolds(t, keys, a, b)
		eventually(t, "b seeing four addresses held", func() (bool, string) { return b.store.AddressesInUse() >= 4, fmt.Sprint(b.store.AddressesInUse()) })
		var wg sync.WaitGroup
		errs := make([]error, 2)
		peers := make([]registry.Peer, 2)
		gate := make(chan struct{})
		for i, r := range []*replica{a, b} {
			k := newKey()
			last = append(last, k)
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-gate
				peers[i], _, _, errs[i] = r.store.Register(context.Background(), owners[1], k, "racer", nil)
			}()
		}
		close(gate)
		wg.Wait()
		won := 0
		for i, err := range errs {
			switch {
			case err == nil:
				won++
				keys[last[i]] = peers[i].Addr
			case errors.Is(err, pool.ErrExhausted):
			default:
				t.Fatalf("round %d: replica %d: %v", round, i, err)
			}
		}
		if won != 1 {
			t.Fatalf("round %d: %d replicas got the last address (errors %v)", round, won, errs)
		}
		everyDeviceHolds(t, keys, a, b)
		recordedAddresses(t, a) // fails on a duplicate
		// Free everything for the next round (addresses rest 0 s, and a
		// record unused for orphanGrace goes; here the test deletes them).
		for k := range keys {
			if _, err := a.store.RemoveAny(context.Background(), k); err != nil {
				t.Fatal(err)
			}
		}
		deleteAddresses(t, e)
		eventually(t, "the pool empty again", func() (bool, string) {
			return a.store.AddressesInUse() == 0 && b.store.AddressesInUse() == 0, fmt.Sprint(a.store.AddressesInUse(), b.store.AddressesInUse())
		})
	}
}

func adminClient(t *testing.T, e *env) *records.Client {
	t.Helper()
	c, err := records.NewClient(e.api.Admin, e.ns)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func deleteAddresses(t *testing.T, e *env) {
	t.Helper()
	err := e.api.Client.CoreV1().RESTClient().Delete().AbsPath("/apis/ghostwire.io/v1alpha1/namespaces/" + e.ns + "/addresses").Do(context.Background()).Error()
	if err != nil {
		t.Fatal(err)
	}
}

// A replica that starts (or restarts) programs every record before it says
// ready: at the first moment it is ready, its device holds them all.
func TestHARestartRebuildsBeforeReady(t *testing.T) {
	e := newEnv(t, "100.71.0.0/20")
	a := e.start("gw-a", replicaOpts{})
	got := registerMany(t, 500, []*replica{a}, func(int, int) *replica { return a })
	b := e.start("gw-b", replicaOpts{noWait: true})
	for {
		if b.store.Ready() == nil {
			if n := len(b.dev.holds(t)); n != len(got) {
				t.Fatalf("ready with %d of %d peers on the device", n, len(got))
			}
			break
		}
		if !strings.Contains(b.store.Ready().Error(), "reading the shared peer records") {
			t.Fatalf("not ready for an unexpected reason: %v", b.store.Ready())
		}
		time.Sleep(time.Millisecond)
	}
	everyDeviceHolds(t, got, a, b)
	if !strings.Contains(b.log.String(), "device holds every shared peer") {
		t.Error("the rebuild was not logged")
	}
	// A replica that restarts under the same name takes its record over.
	b.stop()
	b2 := e.start("gw-b", replicaOpts{})
	everyDeviceHolds(t, got, b2)
	eventually(t, "one live gw-b", func() (bool, string) {
		live := a.pres.Live(true)
		n := 0
		for _, r := range live {
			if r.Name == "gw-b" {
				n++
				if r.PublicKey != b2.dev.key.PublicKey() {
					return false, "gw-b still announces its old key"
				}
			}
		}
		return n == 1, fmt.Sprint(live)
	})
}

// Records edited by hand into nonsense are ignored with a log line; the
// devices keep what they had, and nobody can take an address by editing a
// Peer record alone.
func TestHANonsenseRecords(t *testing.T) {
	e := newEnv(t, "100.72.0.0/24")
	a, b := e.start("gw-a", replicaOpts{}), e.start("gw-b", replicaOpts{})
	k1, k2 := newKey(), newKey()
	want := map[wgtypes.Key]netip.Addr{k1: a.register(t, owners[0], k1).Addr, k2: a.register(t, owners[1], k2).Addr}
	everyDeviceHolds(t, want, a, b)
	admin := adminClient(t, e)
	ctx := context.Background()
	patch := func(name, p string) {
		t.Helper()
		if _, err := admin.PatchPeer(ctx, name, []byte(p)); err != nil {
			t.Fatalf("patch %s: %v", name, err)
		}
	}
	// The schema refuses some nonsense outright: the API server's own check.
	if _, err := admin.PatchPeer(ctx, records.PeerName(k1), []byte(`{"spec":{"publicKey":"not a key"}}`)); !apierrors.IsInvalid(err) {
		t.Errorf("the CRD schema accepted a public key that is not one: %v", err)
	}
	// What the schema lets through, the replicas refuse.
	patch(records.PeerName(k1), `{"spec":{"address":"not-an-address"}}`)
	patch(records.PeerName(k2), `{"spec":{"address":"10.0.0.1"}}`)
	other := newKey()
	stranger := &records.Peer{ObjectMeta: metav1.ObjectMeta{Name: records.PeerName(other)},
		Spec: records.PeerSpec{PublicKey: newKey().String(), Owner: records.Owner{Subject: "x"}, Address: "100.72.0.50", ExpiresAt: metav1.Now()}}
	if _, err := admin.CreatePeer(ctx, stranger); err != nil {
		t.Fatal(err)
	}
	// A well-formed record taking k1's address without its Address record.
	thief := newKey()
	if _, err := admin.CreatePeer(ctx, &records.Peer{ObjectMeta: metav1.ObjectMeta{Name: records.PeerName(thief)},
		Spec: records.PeerSpec{PublicKey: thief.String(), Owner: records.Owner{Subject: "mallory"}, Address: want[k1].String(),
			ExpiresAt: metav1.NewTime(time.Now().Add(time.Hour))}}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.CreateAddress(ctx, &records.Address{ObjectMeta: metav1.ObjectMeta{Name: "not-an-address"},
		Spec: records.AddressSpec{PublicKey: k1.String()}}); err != nil {
		t.Fatal(err)
	}
	for _, r := range []*replica{a, b} {
		eventually(t, r.name+" logging every unusable record", func() (bool, string) {
			l := r.log.String()
			return strings.Count(l, "ignoring a Peer record that is not usable") >= 3 &&
				strings.Contains(l, "ignoring an Address record"), l
		})
	}
	time.Sleep(200 * time.Millisecond) // anything wrongly programmed would show by now
	everyDeviceHolds(t, want, a, b)
	// And the replicas keep working.
	k3 := newKey()
	want[k3] = b.register(t, owners[0], k3).Addr
	everyDeviceHolds(t, want, a, b)
}

// The API server unreachable: at start (the replica is not ready and says
// why; registrations are refused as unavailable) and mid-run (registrations
// refused, the devices keep every peer), then back. It stops the shared API
// server, so it runs last.
func TestHAZAPIServerUnreachable(t *testing.T) {
	e := newEnv(t, "100.77.0.0/24")
	a := e.start("gw-a", replicaOpts{})
	k1 := newKey()
	want := map[wgtypes.Key]netip.Addr{k1: a.register(t, owners[0], k1).Addr}

	e.api.StopAPI()
	t.Cleanup(func() { _ = e.api.StartAPI() })
	start := time.Now()
	_, _, _, err := a.store.Register(context.Background(), owners[0], newKey(), "x", nil)
	if !errors.Is(err, registry.ErrUnavailable) {
		t.Fatalf("registration with the API down: %v, want unavailable", err)
	}
	if d := time.Since(start); d > 2*records.RequestTimeout {
		t.Errorf("the refusal took %v", d)
	}
	if _, err := a.store.Remove(context.Background(), owners[0], k1); !errors.Is(err, registry.ErrUnavailable) {
		t.Fatalf("disconnect with the API down: %v, want unavailable", err)
	}
	everyDeviceHolds(t, want, a)
	if a.store.Ready() != nil {
		t.Fatalf("a replica that holds its peers stays ready while the API is down: %v", a.store.Ready())
	}
	b := e.start("gw-b", replicaOpts{noWait: true})
	time.Sleep(time.Second)
	if b.store.Ready() == nil {
		t.Fatal("a replica that could not read the records says ready")
	}
	if _, _, _, err := b.store.Register(context.Background(), owners[0], newKey(), "x", nil); !errors.Is(err, registry.ErrUnavailable) {
		t.Fatalf("registration at a replica that never reached the API: %v", err)
	}

	if err := e.api.StartAPI(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "b ready once the API is back", func() (bool, string) { err := b.store.Ready(); return err == nil, fmt.Sprint(err) })
	everyDeviceHolds(t, want, a, b)
	k2 := newKey()
	eventually(t, "registrations working again", func() (bool, string) {
		p, _, _, err := a.store.Register(context.Background(), owners[0], k2, "x", nil)
		if err == nil {
			want[k2] = p.Addr
		}
		return err == nil, fmt.Sprint(err)
	})
	everyDeviceHolds(t, want, a, b)
}

// The pool's starting point per replica is FNV-1a of its name, the values
// the hand-written loop gave before (replicas of mixed versions agree).
func TestScatterSeed(t *testing.T) {
	for _, c := range []struct {
		name string
		want uint64
	}{
		{"", 14695981039346656037},
		{"gw-a", 16193571460510343185},
		{"ghostwire-server-0", 11332432407198547854},
		{"ghostwire-server-1", 11332433506710176065},
	} {
		if got := scatterSeed(c.name); got != c.want {
			t.Errorf("scatterSeed(%q) = %d, want %d", c.name, got, c.want)
		}
	}
}
