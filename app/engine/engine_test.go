package engine

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ghostwire/ghostwire/app/localapi"
	"github.com/ghostwire/ghostwire/server/api"
)

func TestSignInRegisterConnect(t *testing.T) {
	r := newRig(t)
	r.e.Up(SignInDeviceCode)
	p := r.until("the sign-in prompt", 100*time.Millisecond, func(p localapi.Profile) bool {
		return p.State == localapi.StateSigningIn && p.SignIn != nil
	})
	if p.SignIn == nil || p.SignIn.UserCode != "ABCD-EFGH" || p.SignIn.VerificationURI == "" || p.SignIn.Seq == 0 {
		t.Fatalf("signing-in must show the URL and code, got %+v", p.SignIn)
	}
	r.signin.approve <- struct{}{}
	p = r.untilState(localapi.StateConnected)
	if p.Address != "100.83.0.2/32" || len(p.Routes) != 2 || p.User != "ada@example.com" || p.SignIn != nil {
		t.Fatalf("connected profile incomplete: %+v", p)
	}
	if p.LatestHandshake == nil || p.ConnectedSince == nil || p.ExpiresAt == nil {
		t.Fatalf("connected without a handshake time: %+v", p)
	}
	want := []localapi.State{localapi.StateRegistering, localapi.StateSigningIn, localapi.StateRegistering, localapi.StateConnected}
	if h := r.history(); !slices.Equal(h, want) {
		t.Fatalf("states %v, want %v", h, want)
	}
	cfg := r.tuns.cfgs[0]
	if cfg.Interface != "gwd0" || cfg.Keepalive != 25*time.Second || cfg.MTU != 1380 ||
		!slices.Equal(cfg.Routes, mustPrefixes("10.203.96.0/20", "10.203.112.0/20")) || cfg.DNSServers[0] != netip.MustParseAddr("10.203.96.10") {
		t.Fatalf("tunnel config: %+v", cfg)
	}
	if r.srv.lastRegister().DeviceName != "laptop" {
		t.Fatalf("device name not sent: %+v", r.srv.lastRegister())
	}
}

func TestNeverConnectedWhilePacketsDoNotFlow(t *testing.T) {
	r := newRig(t)
	r.tuns.blocked = true
	r.e.Up(SignInAuto)
	r.untilState(localapi.StateSigningIn)
	r.signin.approve <- struct{}{}
	p := r.until("error", time.Second, func(p localapi.Profile) bool { return p.State == localapi.StateError })
	if slices.Contains(r.history(), localapi.StateConnected) {
		t.Fatalf("said connected although no handshake ever happened: %v", r.history())
	}
	if p.ErrorCode != localapi.CodeUnavailable || !strings.Contains(p.Reason, "UDP") {
		t.Fatalf("want an unavailable error naming UDP, got %q %q", p.ErrorCode, p.Reason)
	}
	if len(r.srv.peerKeys()) != 0 || r.tuns.closes != 1 {
		t.Fatalf("a failed first connect must remove its peer and tunnel: peers=%v closes=%d", r.srv.peerKeys(), r.tuns.closes)
	}
}

func TestFastConnectWithValidToken(t *testing.T) {
	r := newRig(t)
	r.connect()
	r.e.Down()
	configs, registers := r.srv.configCalls, r.srv.registerCount()
	r.e.Up(SignInAuto)
	r.untilState(localapi.StateConnected)
	if r.srv.configCalls != configs || r.srv.registerCount() != registers+1 || r.signin.prompts != 1 {
		t.Fatalf("with a valid token, up must be one register call and no sign-in: config calls %d→%d, registers %d→%d, prompts %d",
			configs, r.srv.configCalls, registers, r.srv.registerCount(), r.signin.prompts)
	}
}

func TestServerRestartReRegistersWithNewKey(t *testing.T) {
	r := newRig(t)
	r.connect()
	old := r.key()
	r.resetHistory()
	r.srv.restart()
	p := r.until("new key", time.Second, func(p localapi.Profile) bool {
		return p.State == localapi.StateConnected && r.key() != old
	})
	if h := r.history(); !slices.Equal(h, []localapi.State{localapi.StateReconnecting, localapi.StateConnected}) {
		t.Fatalf("states %v", h)
	}
	if !r.srv.has(r.key()) || r.srv.has(old) || r.srv.lastRegister().Replaces != "" {
		t.Fatalf("want a fresh registration of the new key: %+v", r.srv.lastRegister())
	}
	if r.tuns.ups != 1 || r.tuns.reconfs != 1 {
		t.Fatalf("the tunnel must be reconfigured in place, got ups=%d reconfs=%d", r.tuns.ups, r.tuns.reconfs)
	}
	if r.signin.prompts != 1 {
		t.Fatal("re-registering must be silent")
	}
	_ = p
}

func TestPeerExpiredOnServer(t *testing.T) {
	r := newRig(t)
	r.connect()
	old := r.key()
	// The server's sweeper removed the peer (idle or lifetime).
	r.srv.mu.Lock()
	delete(r.srv.peers, old)
	r.srv.mu.Unlock()
	r.until("re-registered", time.Second, func(p localapi.Profile) bool {
		return p.State == localapi.StateConnected && r.key() != old
	})
}

func TestHandshakeStaleThenRecovers(t *testing.T) {
	r := newRig(t)
	r.connect()
	old := r.key()
	r.tuns.mu.Lock()
	r.tuns.blocked = true
	r.tuns.mu.Unlock()
	p := r.until("reconnecting", time.Second, func(p localapi.Profile) bool { return p.State == localapi.StateReconnecting })
	if p.LatestHandshake == nil || r.clock.Wall().Sub(*p.LatestHandshake) <= 205*time.Second && !strings.Contains(p.Reason, "handshake") {
		t.Fatalf("reconnecting only after the handshake is stale: %+v", p)
	}
	r.tuns.mu.Lock()
	r.tuns.blocked = false
	r.tuns.mu.Unlock()
	r.until("connected again", time.Second, func(p localapi.Profile) bool { return p.State == localapi.StateConnected })
	if !r.srv.has(r.key()) {
		t.Fatal("connected with a key the server does not know")
	}
	_ = old
}

func TestWallClockJumpReRegisters(t *testing.T) {
	r := newRig(t)
	r.connect()
	old := r.key()
	r.resetHistory()
	// The laptop slept an hour; meanwhile the server swept the peer.
	r.srv.restart()
	r.clock.Sleep(time.Hour)
	start := r.clock.Now()
	r.until("new key", 100*time.Millisecond, func(p localapi.Profile) bool { return p.State == localapi.StateConnected && r.key() != old })
	if h := r.history(); !slices.Equal(h, []localapi.State{localapi.StateReconnecting, localapi.StateConnected}) {
		t.Fatalf("after a clock jump: states %v", h)
	}
	// The next tick notices the jump; the forced handshake gets no answer
	// (the server forgot the key) within the bound; then the peer check.
	if took := r.clock.Now().Sub(start); took > r.e.t.Tick+r.e.t.LivenessTimeout+2*time.Second {
		t.Fatalf("a clock jump must be acted on at the next tick, took %s", took)
	}
}

// After a wake with a live session, a forced handshake is answered within a
// round trip: same key, no registration, no flap to reconnecting.
func TestWakeWithLiveSessionKeepsKey(t *testing.T) {
	r := newRig(t)
	r.tuns.rtt = 40 * time.Millisecond
	p0 := r.connect()
	old, regs := r.key(), r.srv.registerCount()
	r.resetHistory()
	calls := r.callCount()
	woke := r.clock.Wall()
	r.e.Notify(EventWake)
	p := r.until("a new handshake", 10*time.Millisecond, func(p localapi.Profile) bool {
		return p.LatestHandshake != nil && p.LatestHandshake.After(*p0.LatestHandshake)
	})
	if took := p.LatestHandshake.Sub(woke); took > r.e.t.LivenessTimeout {
		t.Fatalf("the check took %s, more than the %s bound", took, r.e.t.LivenessTimeout)
	}
	r.advance(2*r.e.t.LivenessTimeout, 100*time.Millisecond)
	r.liveSessionKept(old, regs)
	if c := r.callsSince(calls); !slices.Equal(c, []string{"rehandshake"}) {
		t.Fatalf("after a wake the tunnel gets only a forced handshake, got %v", c)
	}
}

// A network change with a working path on a slow link (the answer takes
// 1.5 s, inside the bound): the engine waits for it and changes nothing.
func TestNetworkChangePathAliveNoReRegistration(t *testing.T) {
	r := newRig(t)
	r.tuns.rtt = 1500 * time.Millisecond
	p0 := r.connect()
	old, regs := r.key(), r.srv.registerCount()
	r.resetHistory()
	changed := r.clock.Wall()
	r.e.Notify(EventNetworkChange)
	p := r.until("a new handshake", 20*time.Millisecond, func(p localapi.Profile) bool {
		return p.LatestHandshake != nil && p.LatestHandshake.After(*p0.LatestHandshake)
	})
	if took := p.LatestHandshake.Sub(changed); took < r.tuns.rtt || took > r.e.t.LivenessTimeout {
		t.Fatalf("handshake %s after the change; want between the rtt %s and the bound %s", took, r.tuns.rtt, r.e.t.LivenessTimeout)
	}
	r.advance(2*r.e.t.LivenessTimeout, 100*time.Millisecond)
	r.liveSessionKept(old, regs)
}

// A network change re-applies the running config before the liveness check,
// so the tunnel re-pins its route to the endpoint through the new gateway.
// When that fails (no route to the server yet) the check still decides.
func TestNetworkChangeRepinsBeforeCheck(t *testing.T) {
	for _, fail := range []bool{false, true} {
		t.Run(fmt.Sprintf("reconfigure-fails=%v", fail), func(t *testing.T) {
			r := newRig(t)
			p0 := r.connect()
			old, regs := r.key(), r.srv.registerCount()
			r.tuns.mu.Lock()
			running := r.tuns.cfgs[len(r.tuns.cfgs)-1]
			if fail {
				r.tuns.reconfErr = errors.New("cannot find how the server 10.203.0.1 is reached now (no network?)")
			}
			r.tuns.mu.Unlock()
			r.resetHistory()
			calls := r.callCount()
			r.e.Notify(EventNetworkChange)
			r.until("a new handshake", 10*time.Millisecond, func(p localapi.Profile) bool {
				return p.LatestHandshake != nil && p.LatestHandshake.After(*p0.LatestHandshake)
			})
			r.advance(2*r.e.t.LivenessTimeout, 100*time.Millisecond)
			r.liveSessionKept(old, regs)
			if c := r.callsSince(calls); !slices.Equal(c, []string{"reconfigure", "rehandshake"}) {
				t.Fatalf("want the config re-applied, then the forced handshake; got %v", c)
			}
			r.tuns.mu.Lock()
			again := r.tuns.cfgs[len(r.tuns.cfgs)-1]
			r.tuns.mu.Unlock()
			if !reflect.DeepEqual(again, running) {
				t.Fatalf("the network change must re-apply the running config unchanged:\n%+v\n%+v", again, running)
			}
		})
	}
}

func (r *rig) liveSessionKept(old string, regs int) {
	r.t.Helper()
	r.tuns.mu.Lock()
	n := r.tuns.rehandshakes
	r.tuns.mu.Unlock()
	if n != 1 {
		r.t.Fatalf("want one forced handshake, got %d", n)
	}
	if r.key() != old || r.srv.registerCount() != regs || !r.srv.has(old) {
		r.t.Fatalf("a live session must keep its key: registers %d→%d", regs, r.srv.registerCount())
	}
	if h := r.history(); slices.Contains(h, localapi.StateReconnecting) || r.e.Profile().State != localapi.StateConnected {
		r.t.Fatalf("a live session must stay connected without a flap: states %v", h)
	}
}

func TestNetworkChangeWithPeerGone(t *testing.T) {
	r := newRig(t)
	r.connect()
	old := r.key()
	r.srv.restart()
	r.e.Notify(EventNetworkChange)
	// No clock steps needed beyond the tick: the event asks the server now.
	r.until("new key", 100*time.Millisecond, func(p localapi.Profile) bool { return p.State == localapi.StateConnected && r.key() != old })
	if r.clock.Now().Sub(newFakeClock().Now()) > 30*time.Second+r.e.t.PeerCheck {
		t.Fatal("a network change must be acted on at once, not at the next periodic check")
	}
}

// A network change after which the server does not answer the forced
// handshake within the bound: a new key replaces the old peer, seconds
// later rather than after the 20 s handshake timeout.
func TestNetworkChangeDeadPathReRegisters(t *testing.T) {
	r := newRig(t)
	r.connect()
	old := r.key()
	r.tuns.mu.Lock()
	r.tuns.blocked = true
	r.tuns.mu.Unlock()
	regs := r.srv.registerCount()
	start := r.clock.Now()
	r.e.Notify(EventNetworkChange)
	r.until("re-register", 50*time.Millisecond, func(p localapi.Profile) bool {
		return p.State == localapi.StateReconnecting && r.srv.registerCount() > regs
	})
	if took := r.clock.Now().Sub(start); took > r.e.t.LivenessTimeout+2*time.Second {
		t.Fatalf("re-registered %s after the change; want within the %s bound", took, r.e.t.LivenessTimeout)
	}
	if !strings.Contains(r.e.Profile().Reason, "network changed") {
		t.Fatalf("reason should name the network change: %q", r.e.Profile().Reason)
	}
	// The new key replaces the dead one on the server: one registration,
	// the same address (open connections survive the new session).
	if r.srv.has(old) || r.srv.lastRegister().Replaces != old || len(r.srv.peerKeys()) != 1 {
		t.Fatalf("the new key must replace the dead one: has old=%v last=%+v peers=%v", r.srv.has(old), r.srv.lastRegister(), r.srv.peerKeys())
	}
	r.tuns.mu.Lock()
	r.tuns.blocked = false
	r.tuns.mu.Unlock()
	r.until("new key", time.Second, func(p localapi.Profile) bool { return p.State == localapi.StateConnected && r.key() != old })
}

func TestRefreshRefusedNeedsSignIn(t *testing.T) {
	r := newRig(t)
	r.signin.tokenLife = 10 * time.Minute
	r.connect()
	r.signin.mu.Lock()
	r.signin.refuseRefresh = true
	r.signin.mu.Unlock()
	r.srv.restart() // the next peer check needs a token
	p := r.until("needs-sign-in", time.Second, func(p localapi.Profile) bool { return p.State == localapi.StateNeedsSignIn })
	if p.ErrorCode != localapi.CodeSignIn || !strings.Contains(p.Reason, "ghostwire login") {
		t.Fatalf("needs-sign-in must say what to do: %q %q", p.ErrorCode, p.Reason)
	}
	if r.tuns.closes != 1 || p.Address != "" {
		t.Fatal("a profile that needs sign-in has no tunnel")
	}
	// Login signs in again and reconnects.
	r.signin.mu.Lock()
	r.signin.refuseRefresh = false
	r.signin.mu.Unlock()
	r.e.Login(SignInAuto)
	r.untilState(localapi.StateSigningIn)
	r.signin.approve <- struct{}{}
	r.untilState(localapi.StateConnected)
}

func TestSilentTokenRefresh(t *testing.T) {
	r := newRig(t)
	r.signin.tokenLife = 5 * time.Minute
	r.connect()
	r.srv.restart()
	r.clock.Advance(6 * time.Minute) // token expired: the re-register refreshes it
	r.until("connected", time.Second, func(p localapi.Profile) bool {
		return p.State == localapi.StateConnected && r.srv.has(r.key())
	})
	if r.signin.prompts != 1 || r.signin.n < 2 {
		t.Fatalf("want a silent refresh: prompts=%d tokens=%d", r.signin.prompts, r.signin.n)
	}
}

func TestDownDuringSignInCancels(t *testing.T) {
	r := newRig(t)
	r.e.Up(SignInAuto)
	r.untilState(localapi.StateSigningIn)
	r.e.Down()
	p := r.e.Profile()
	if p.State != localapi.StateDisconnected || p.SignIn != nil {
		t.Fatalf("after down: %+v", p)
	}
	r.signin.mu.Lock()
	err := r.signin.signInCtxErr
	r.signin.mu.Unlock()
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("the sign-in flow must see its context cancelled, got %v", err)
	}
	if r.tuns.ups != 0 || r.srv.registerCount() != 0 || r.e.Running() {
		t.Fatal("nothing may be registered or brought up after down")
	}
}

func TestDownRemovesPeerAndTunnel(t *testing.T) {
	r := newRig(t)
	r.connect()
	key := r.key()
	r.e.Down()
	if r.srv.has(key) || r.tuns.closes != 1 {
		t.Fatalf("down must delete the peer and close the tunnel: has=%v closes=%d", r.srv.has(key), r.tuns.closes)
	}
	if p := r.e.Profile(); p.State != localapi.StateDisconnected || p.Address != "" || len(p.Routes) != 0 {
		t.Fatalf("after down: %+v", p)
	}
}

func TestKeyRotationKeepsAddressAndConnection(t *testing.T) {
	r := newRig(t)
	r.srv.lifetime = 10 * time.Minute
	p0 := r.connect()
	old := r.key()
	r.resetHistory()
	// A tenth of the lifetime before expiry (minute 9) the key rotates.
	p := r.until("rotated", time.Second, func(p localapi.Profile) bool { return r.key() != old })
	p = r.untilState(localapi.StateConnected)
	if got := r.srv.lastRegister(); got.Replaces != old {
		t.Fatalf("rotation must register with Replaces=old key, got %+v", got)
	}
	if p.Address != p0.Address {
		t.Fatalf("address changed at rotation: %s → %s", p0.Address, p.Address)
	}
	if h := r.history(); slices.Contains(h, localapi.StateReconnecting) || slices.Contains(h, localapi.StateDisconnected) {
		t.Fatalf("rotation must not drop the connection: %v", h)
	}
	if r.srv.has(old) || r.tuns.ups != 1 || r.tuns.reconfs != 1 {
		t.Fatalf("old peer removed=%v, tunnel ups=%d reconfs=%d", !r.srv.has(old), r.tuns.ups, r.tuns.reconfs)
	}
	if r.clock.Wall().After(p0.ExpiresAt.Add(-30 * time.Second)) {
		t.Fatalf("rotated too late: at %s, expiry %s", r.clock.Wall(), p0.ExpiresAt)
	}
}

func TestExtendRotatesNow(t *testing.T) {
	r := newRig(t)
	r.connect()
	old := r.key()
	if err := r.e.Extend(); err != nil {
		t.Fatal(err)
	}
	r.until("rotated", 100*time.Millisecond, func(p localapi.Profile) bool { return r.key() != old && p.State == localapi.StateConnected })
	if r.srv.lastRegister().Replaces != old {
		t.Fatal("extend must replace the old key")
	}
}

func TestForbiddenIsAnErrorForPeople(t *testing.T) {
	r := newRig(t)
	r.srv.forbidden = true
	r.e.Up(SignInAuto)
	r.untilState(localapi.StateSigningIn)
	r.signin.approve <- struct{}{}
	p := r.untilState(localapi.StateError)
	if p.ErrorCode != localapi.CodeForbidden || !strings.Contains(p.Reason, "group") {
		t.Fatalf("got %q %q", p.ErrorCode, p.Reason)
	}
}

func TestServerUnreachableAtUp(t *testing.T) {
	r := newRig(t)
	r.srv.down = true
	r.e.Up(SignInAuto)
	p := r.untilState(localapi.StateError)
	if p.ErrorCode != localapi.CodeUnavailable {
		t.Fatalf("got %q %q", p.ErrorCode, p.Reason)
	}
}

func TestUnreachableWhileConnectedRetries(t *testing.T) {
	r := newRig(t)
	r.connect()
	r.srv.mu.Lock()
	r.srv.down = true
	r.srv.peers = map[string]api.Peer{}
	r.srv.mu.Unlock()
	r.until("retrying", time.Second, func(p localapi.Profile) bool {
		return p.State == localapi.StateReconnecting && strings.Contains(p.Reason, "retrying")
	})
	r.srv.mu.Lock()
	r.srv.down = false
	r.srv.mu.Unlock()
	r.until("back", time.Second, func(p localapi.Profile) bool { return p.State == localapi.StateConnected })
}

func TestOverlappingRoutesRefused(t *testing.T) {
	r := newRig(t)
	r.e.c.Claim = func(name string, routes []netip.Prefix) error {
		return &ServerError{Kind: ErrConflict, Message: fmt.Sprintf("profile %q wants %s, which overlaps profile \"prod\"", name, routes[0])}
	}
	r.e.Up(SignInAuto)
	r.untilState(localapi.StateSigningIn)
	r.signin.approve <- struct{}{}
	p := r.untilState(localapi.StateError)
	if p.ErrorCode != localapi.CodeConflict || !strings.Contains(p.Reason, `"prod"`) {
		t.Fatalf("got %q %q", p.ErrorCode, p.Reason)
	}
	if len(r.srv.peerKeys()) != 0 || r.tuns.ups != 0 {
		t.Fatal("a refused profile must leave no peer and no tunnel")
	}
}

func TestLogoutForgetsSession(t *testing.T) {
	r := newRig(t)
	r.connect()
	r.e.Logout()
	if p := r.e.Profile(); p.State != localapi.StateDisconnected || p.User != "" {
		t.Fatalf("after logout: %+v", p)
	}
	r.e.Up(SignInAuto)
	r.untilState(localapi.StateSigningIn)
}

func TestRotateBefore(t *testing.T) {
	for _, c := range []struct{ life, want time.Duration }{
		{10 * time.Minute, time.Minute}, {12 * time.Hour, 5 * time.Minute}, {time.Minute, 6 * time.Second},
	} {
		if got := rotateBefore(c.life); got != c.want {
			t.Errorf("rotateBefore(%s) = %s, want %s", c.life, got, c.want)
		}
	}
}

func TestBrokenTunnelIsReplaced(t *testing.T) {
	r := newRig(t)
	r.connect()
	old := r.key()
	r.tuns.mu.Lock()
	r.tuns.broken = true
	r.tuns.mu.Unlock()
	r.until("new tunnel", time.Second, func(p localapi.Profile) bool {
		return p.State == localapi.StateConnected && r.key() != old
	})
	if r.tuns.ups != 2 || r.tuns.closes != 1 {
		t.Fatalf("a dead tunnel must be closed and a new one brought up: ups=%d closes=%d", r.tuns.ups, r.tuns.closes)
	}
	if r.srv.has(old) || len(r.srv.peerKeys()) != 1 {
		t.Fatalf("the old peer must be removed from the server: %v", r.srv.peerKeys())
	}
}
