package engine

import (
	"testing"
	"time"

	"github.com/ghostwire/ghostwire/app/localapi"
)

// The forced handshake behind every liveness check must be taken by the
// responder (spaced from the last handshake, sent again once if lost), and a
// signal already answered by a later handshake needs no check at all.

// A network change checked right after a handshake: the forced one waits out
// the responder's flood window instead of being dropped (which would leave
// the session retired, packets queued, for the whole probe).
func TestProbeWaitsOutTheFloodWindow(t *testing.T) {
	r := newRig(t)
	r.connect()
	r.advance(time.Second, 50*time.Millisecond)
	old, regs, n := r.key(), r.srv.registerCount(), r.rehandshakes()
	r.tunnels(func(ts *fakeTunnels) { ts.live.hs = r.clock.Wall() }) // a handshake just now
	r.resetHistory()
	r.e.Notify(EventNetworkChange)
	r.advance(2*time.Second, 5*time.Millisecond)
	var floods int
	r.tunnels(func(ts *fakeTunnels) { floods = ts.floods })
	if floods != 0 {
		t.Fatalf("%d forced handshake(s) were sent inside the responder's flood window", floods)
	}
	if got := r.rehandshakes() - n; got != 1 {
		t.Fatalf("want one forced handshake for the network change, got %d", got)
	}
	if r.key() != old || r.srv.registerCount() != regs || !steady(r.history()) {
		t.Fatalf("an answered check must change nothing: key changed %v, registrations %d→%d, states %v",
			r.key() != old, regs, r.srv.registerCount(), r.history())
	}
}

// One lost initiation after a network change is sent again within the
// liveness bound: the path is found alive, the key is kept.
func TestProbeResendsALostInitiation(t *testing.T) {
	r := newRig(t)
	r.connect()
	r.advance(time.Second, 50*time.Millisecond)
	old, regs, n := r.key(), r.srv.registerCount(), r.rehandshakes()
	r.tunnels(func(ts *fakeTunnels) { ts.lose = 1 })
	r.resetHistory()
	r.e.Notify(EventNetworkChange)
	r.advance(r.e.t.LivenessTimeout+time.Second, 50*time.Millisecond)
	if got := r.rehandshakes() - n; got != 2 {
		t.Fatalf("want the lost initiation sent once more, got %d forced handshakes", got)
	}
	if r.key() != old || r.srv.registerCount() != regs || !steady(r.history()) {
		t.Fatalf("a path that answers the second initiation is alive: key changed %v, registrations %d→%d, states %v",
			r.key() != old, regs, r.srv.registerCount(), r.history())
	}
}

// Both initiations lost: the path is dead, a new key is registered.
func TestProbeGivesUpAfterTheResend(t *testing.T) {
	r := newRig(t)
	r.connect()
	r.advance(time.Second, 50*time.Millisecond)
	old, regs := r.key(), r.srv.registerCount()
	r.tunnels(func(ts *fakeTunnels) { ts.lose = 2 })
	r.e.Notify(EventNetworkChange)
	r.until("new key", 50*time.Millisecond, func(p localapi.Profile) bool {
		return p.State == localapi.StateConnected && r.key() != old
	})
	if r.srv.registerCount() != regs+1 {
		t.Fatalf("want one new registration, got %d", r.srv.registerCount()-regs)
	}
}

// The sleep scenario's trap: a network change from just before the sleep
// fires on wake while the engine registers again; the new session's
// handshake already answers it, so it is not probed (a probe right after
// the handshake would retire the new session for a round trip at best).
func TestSignalQueuedDuringReconnectIsAnswered(t *testing.T) {
	r := newRig(t)
	r.connect()
	r.tunnels(func(ts *fakeTunnels) { ts.load = true })
	r.advance(2*time.Second, 50*time.Millisecond)
	old := r.key()
	gate := r.holds.hold("register", false)
	r.srv.restart()
	// The engine notices the silence, finds the peer gone and registers
	// again: held in the registration, it gets the signal.
	r.until("re-registering", 50*time.Millisecond, func(p localapi.Profile) bool { return p.State == localapi.StateReconnecting })
	r.advance(500*time.Millisecond, 50*time.Millisecond)
	r.e.Notify(EventNetworkChange)
	r.clock.Advance(time.Millisecond)
	gate.open()
	r.until("new key", 5*time.Millisecond, func(p localapi.Profile) bool {
		return p.State == localapi.StateConnected && r.key() != old
	})
	n, regs := r.rehandshakes(), r.srv.registerCount()
	r.advance(5*time.Second, 50*time.Millisecond)
	if got := r.rehandshakes() - n; got != 0 {
		t.Fatalf("the signal queued during the registration was probed (%d forced handshakes) though the new session answered it", got)
	}
	if r.srv.registerCount() != regs {
		t.Fatalf("registered %d more time(s) after reconnecting", r.srv.registerCount()-regs)
	}
}

// answered: only a handshake strictly after the signal's arrival counts.
func TestAnsweredRule(t *testing.T) {
	r := newRig(t)
	r.connect()
	at := r.clock.Wall()
	cases := []struct {
		name    string
		arrived time.Time
		hs      time.Time
		want    bool
	}{
		{"no arrival (clock jump)", time.Time{}, at.Add(time.Second), false},
		{"handshake after", at, at.Add(time.Millisecond), true},
		{"handshake same instant", at, at, false},
		{"handshake before", at, at.Add(-time.Millisecond), false},
		{"never a handshake", at, time.Time{}, false},
	}
	for _, c := range cases {
		r.tunnels(func(ts *fakeTunnels) { ts.live.hs = c.hs })
		if got := r.e.answered(c.arrived); got != c.want {
			t.Errorf("%s: answered = %v, want %v", c.name, got, c.want)
		}
	}
}

// The question to the server is hedged: its first request lost (a link just
// back), a second one half a second later finds the peer gone, and the
// device registers again long before the first request's timeout.
func TestLostQuestionIsHedged(t *testing.T) {
	r := newRig(t)
	r.connect()
	r.tunnels(func(ts *fakeTunnels) { ts.load = true })
	r.advance(2*time.Second, 50*time.Millisecond)
	old := r.key()
	r.srv.mu.Lock()
	r.srv.stallPeer = 1
	r.srv.mu.Unlock()
	r.srv.restart()
	start := r.clock.Now()
	r.until("new key", 10*time.Millisecond, func(p localapi.Profile) bool {
		return p.State == localapi.StateConnected && r.key() != old
	})
	// Silence window + a poll + one hedge interval + the registration.
	if took, bound := r.clock.Now().Sub(start), r.e.t.SuspectAfter+r.e.t.Poll+askHedge+300*time.Millisecond; took > bound {
		t.Fatalf("registered again %s after the restart with the first question lost; want within %s", took, bound)
	}
}
