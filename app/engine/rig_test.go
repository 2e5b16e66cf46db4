package engine

import (
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ghostwire/ghostwire/app/localapi"
	"github.com/ghostwire/ghostwire/server/api"
)

// rig is one engine with its fakes.
type rig struct {
	t      *testing.T
	clock  *fakeClock
	srv    *fakeServer
	signin *fakeSignIn
	tuns   *fakeTunnels
	holds  *holds
	e      *Engine
	// hung: a stop never returned (the test failed; no Down at cleanup).
	hung atomic.Bool
	// lastPeer is what the engine asked to keep across restarts.
	lastPeer atomic.Pointer[string]

	mu     sync.Mutex
	states []localapi.State
}

func newRig(t *testing.T) *rig {
	return newRigWith(t, func(*Config) {})
}

// newRigWith is newRig with the engine's config changed by edit first.
func newRigWith(t *testing.T, edit func(*Config)) *rig {
	r := &rig{t: t, clock: newFakeClock(), holds: &holds{}}
	r.srv = newFakeServer(r.clock, r.holds)
	r.signin = &fakeSignIn{h: r.holds, srv: r.srv, clock: r.clock, approve: make(chan struct{}, 1), tokenLife: time.Hour}
	r.tuns = &fakeTunnels{h: r.holds, clock: r.clock, srv: r.srv}
	c := Config{Name: "work", Server: "https://vpn.test", Interface: "gwd0", DeviceName: "laptop",
		API: r.srv, Tunnels: r.tuns, Clock: r.clock,
		NewSignIn:  func(api.Config) (SignIn, error) { return r.signin, nil },
		OnChange:   r.record,
		OnLastPeer: func(k string) { r.lastPeer.Store(&k) }}
	edit(&c)
	r.e = New(c)
	t.Cleanup(func() {
		if !r.hung.Load() { // a Down after a hung stop would hang too
			r.e.Down()
		}
	})
	return r
}

func (r *rig) record() {
	s := r.e.Profile().State
	r.mu.Lock()
	defer r.mu.Unlock()
	if n := len(r.states); n == 0 || r.states[n-1] != s {
		r.states = append(r.states, s)
	}
}

func (r *rig) history() []localapi.State {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]localapi.State(nil), r.states...)
}

func (r *rig) resetHistory() { r.mu.Lock(); r.states = nil; r.mu.Unlock() }

// until runs the fake clock in steps until cond holds (10 s of real time at most).
func (r *rig) until(what string, step time.Duration, cond func(p localapi.Profile) bool) localapi.Profile {
	r.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if p := r.e.Profile(); cond(p) {
			return p
		}
		r.clock.Advance(step)
		time.Sleep(2 * time.Millisecond)
	}
	p := r.e.Profile()
	r.t.Fatalf("timed out waiting for %s; profile: state=%s reason=%q history=%v", what, p.State, p.Reason, r.history())
	return p
}

// advance runs the fake clock for d in steps, letting the engine act.
func (r *rig) advance(d, step time.Duration) {
	for end := r.clock.Now().Add(d); r.clock.Now().Before(end); {
		r.clock.Advance(step)
		time.Sleep(2 * time.Millisecond)
	}
}

// callsSince returns the tunnel calls made after the first n.
func (r *rig) callsSince(n int) []string {
	r.tuns.mu.Lock()
	defer r.tuns.mu.Unlock()
	return append([]string(nil), r.tuns.calls[n:]...)
}

func (r *rig) callCount() int { r.tuns.mu.Lock(); defer r.tuns.mu.Unlock(); return len(r.tuns.calls) }

func (r *rig) untilState(s localapi.State) localapi.Profile {
	r.t.Helper()
	return r.until(string(s), 100*time.Millisecond, func(p localapi.Profile) bool { return p.State == s })
}

// connect signs in and connects, the normal start of most tests.
func (r *rig) connect() localapi.Profile {
	r.t.Helper()
	r.e.Up(SignInAuto)
	r.untilState(localapi.StateSigningIn)
	r.signin.approve <- struct{}{}
	return r.untilState(localapi.StateConnected)
}

func (r *rig) key() string {
	r.tuns.mu.Lock()
	defer r.tuns.mu.Unlock()
	return r.tuns.live.cfg.PrivateKey.PublicKey().String()
}

// kept is the last registration the engine asked to keep ("" when none).
func (r *rig) kept() string {
	if p := r.lastPeer.Load(); p != nil {
		return *p
	}
	return ""
}

func mustPrefixes(ss ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range ss {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}
