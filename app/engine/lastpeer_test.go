package engine

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/ghostwire/ghostwire/app/localapi"
	"github.com/ghostwire/ghostwire/server/api"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// A daemon killed with -9 leaves its peer on the server. The next daemon
// knows its public key (kept across restarts, not a secret) and, after
// the sign-in, registers a new key that replaces it: same address, one
// peer on the server.
func TestCrashedPeerIsReplacedAfterSignIn(t *testing.T) {
	crashed, _ := wgtypes.GeneratePrivateKey()
	left := crashed.PublicKey().String()
	r := newRigWith(t, func(c *Config) { c.LastPeer = left })
	r.srv.mu.Lock()
	r.srv.peers[left] = api.Peer{PublicKey: left, Address: "100.83.0.77/32"}
	r.srv.mu.Unlock()

	p := r.connect()
	if got := r.srv.lastRegister().Replaces; got != left {
		t.Fatalf("the first registration after a restart must replace the crashed daemon's peer: replaces %q, want %q", got, left)
	}
	if p.Address != "100.83.0.77/32" || r.srv.has(left) || len(r.srv.peerKeys()) != 1 {
		t.Fatalf("want the crashed peer taken over (its address, one peer): address %s, peers %v", p.Address, r.srv.peerKeys())
	}
	if r.kept() != r.key() {
		t.Fatalf("the new registration must be kept for the next restart: kept %q, key %q", r.kept(), r.key())
	}
}

// A remembered key the server no longer has (swept, server restarted) is
// harmless: the server ignores it and the registration is a plain one.
func TestUnknownLastPeerIsAPlainRegistration(t *testing.T) {
	gone, _ := wgtypes.GeneratePrivateKey()
	r := newRigWith(t, func(c *Config) { c.LastPeer = gone.PublicKey().String() })
	p := r.connect()
	if p.Address != "100.83.0.2/32" || len(r.srv.peerKeys()) != 1 {
		t.Fatalf("address %s, peers %v", p.Address, r.srv.peerKeys())
	}
}

// down forgets the key once the server removed the peer; when it could
// not (the API unreachable), the key is kept and the next up replaces it.
func TestDownKeepsTheKeyWhenTheServerCannotBeTold(t *testing.T) {
	r := newRigWith(t, func(c *Config) { c.Timing.TeardownTimeout = teardownBudget })
	r.connect()
	r.e.Down()
	if r.kept() != "" {
		t.Fatalf("after a clean down nothing is left on the server, yet %q is kept", r.kept())
	}

	r.e.Up(SignInAuto) // still signed in
	p0 := r.untilState(localapi.StateConnected)
	key := r.key()
	r.srv.mu.Lock()
	r.srv.down = true
	r.srv.mu.Unlock()
	r.e.Down()
	if r.kept() != key || !r.srv.has(key) {
		t.Fatalf("the peer the server still has must be kept: kept %q, key %q", r.kept(), key)
	}
	r.srv.mu.Lock()
	r.srv.down = false
	r.srv.mu.Unlock()
	r.e.Up(SignInAuto)
	p := r.untilState(localapi.StateConnected)
	if r.srv.lastRegister().Replaces != key || r.srv.has(key) || p.Address != p0.Address {
		t.Fatalf("the next up must replace the peer left behind: %+v, address %s → %s", r.srv.lastRegister(), p0.Address, p.Address)
	}
}

// The device cap is its own error, with its own code (and exit code).
func TestDeviceCapHasItsOwnCode(t *testing.T) {
	r := newRig(t)
	r.srv.mu.Lock()
	r.srv.capped = true
	r.srv.mu.Unlock()
	r.e.Up(SignInAuto)
	r.untilState(localapi.StateSigningIn)
	r.signin.approve <- struct{}{}
	p := r.untilState(localapi.StateError)
	if p.ErrorCode != localapi.CodeDeviceCap {
		t.Fatalf("error code %q, want %q (%s)", p.ErrorCode, localapi.CodeDeviceCap, p.Reason)
	}
}

// Every re-registration within a run names the previous key, so a peer the
// server still has is replaced, never left beside the new one.
func TestReRegistrationsReplaceTheDeadKey(t *testing.T) {
	r := newRig(t)
	r.connect()
	for i := range 3 {
		old := r.key()
		r.tunnels(func(ts *fakeTunnels) { ts.broken = true })
		r.until(fmt.Sprintf("round %d", i), 100*time.Millisecond, func(p localapi.Profile) bool {
			return p.State == localapi.StateConnected && r.key() != old
		})
		if r.srv.lastRegister().Replaces != old || len(r.srv.peerKeys()) != 1 {
			t.Fatalf("round %d: replaces %q (want %q), peers %v", i, r.srv.lastRegister().Replaces, old, r.srv.peerKeys())
		}
	}
}

// A rotation whose new key the tunnel cannot take (Reconfigure fails) has
// already replaced the old peer on the server: the engine brings a new
// tunnel up instead of going on with none.
func TestRotationTheTunnelRefusesRecovers(t *testing.T) {
	r := newRig(t)
	r.srv.lifetime = 10 * time.Minute
	r.connect()
	old := r.key()
	r.tunnels(func(ts *fakeTunnels) { ts.reconfErr = errors.New("device busy") })
	// The rotation a tenth of the lifetime before the expiry.
	r.until("the new tunnel", time.Second, func(localapi.Profile) bool { return r.tunnelUps() == 2 })
	r.tunnels(func(ts *fakeTunnels) { ts.reconfErr = nil })
	r.until("connected again", 100*time.Millisecond, func(p localapi.Profile) bool {
		return p.State == localapi.StateConnected && r.key() != old
	})
	if len(r.srv.peerKeys()) != 1 {
		t.Fatalf("peers on the server: %v", r.srv.peerKeys())
	}
}
