package engine

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ghostwire/ghostwire/app/localapi"
)

// The data-plane suspicion: "sending but nothing comes back" is checked at
// once (forced handshake + a question to the server), not at the periodic
// peer check.

func (r *rig) tunnels(fn func(ts *fakeTunnels)) {
	r.tuns.mu.Lock()
	defer r.tuns.mu.Unlock()
	fn(r.tuns)
}

func (r *rig) rehandshakes() int {
	r.tuns.mu.Lock()
	defer r.tuns.mu.Unlock()
	return r.tuns.rehandshakes
}

// steady: the profile stayed connected (a new handshake time is published
// as a change with the same state).
func steady(h []localapi.State) bool {
	return len(h) == 0 || slices.Equal(h, []localapi.State{localapi.StateConnected})
}

func (r *rig) peerCalls() int { r.srv.mu.Lock(); defer r.srv.mu.Unlock(); return r.srv.peerCalls }

// The server restarts (new key, empty peer table) while the laptop sends:
// the engine registers a new key within about a second of the first
// unanswered packet, long before the periodic peer check.
func TestServerRestartUnderTrafficReRegisters(t *testing.T) {
	r := newRig(t)
	r.connect()
	r.tunnels(func(ts *fakeTunnels) { ts.load = true })
	r.advance(5*time.Second, 50*time.Millisecond)
	if n := r.rehandshakes(); n != 0 {
		t.Fatalf("answered traffic must not be checked, got %d forced handshakes", n)
	}
	old, regs := r.key(), r.srv.registerCount()
	r.resetHistory()
	r.srv.restart()
	start := r.clock.Now()
	r.until("new key", 50*time.Millisecond, func(p localapi.Profile) bool {
		return p.State == localapi.StateConnected && r.key() != old
	})
	took := r.clock.Now().Sub(start)
	// Silence window + one poll + the registration's own handshake wait.
	if bound := r.e.t.SuspectAfter + 2*r.e.t.Poll + 500*time.Millisecond; took > bound {
		t.Fatalf("re-registered %s after the restart; want within %s", took, bound)
	}
	if took >= r.e.t.LivenessTimeout {
		t.Fatalf("a 404 must re-register at once, not after the handshake bound: took %s", took)
	}
	if r.srv.registerCount() != regs+1 || r.srv.lastRegister().Replaces != "" {
		t.Fatalf("want one fresh registration, got %d→%d %+v", regs, r.srv.registerCount(), r.srv.lastRegister())
	}
	if h := r.history(); !slices.Equal(h, []localapi.State{localapi.StateReconnecting, localapi.StateConnected}) {
		t.Fatalf("states %v", h)
	}
	if r.signin.prompts != 1 {
		t.Fatal("re-registering must be silent")
	}
}

// An idle tunnel sends only persistent keepalives (never answered) and
// renews its session every 2 minutes: no check, no flap, for ten minutes.
func TestIdleKeepalivesDoNotProbe(t *testing.T) {
	r := newRig(t)
	r.connect()
	old, regs := r.key(), r.srv.registerCount()
	st0, _ := r.tuns.live.Stats()
	r.resetHistory()
	r.advance(10*time.Minute, time.Second)
	st, _ := r.tuns.live.Stats()
	if st.TxBytes-st0.TxBytes < 10*keepaliveLen {
		t.Fatalf("the fake sent no keepalives: tx %d→%d", st0.TxBytes, st.TxBytes)
	}
	if n := r.rehandshakes(); n != 0 {
		t.Fatalf("keepalives alone must not be checked, got %d forced handshakes", n)
	}
	if r.key() != old || r.srv.registerCount() != regs {
		t.Fatal("an idle tunnel must keep its key")
	}
	if h := r.history(); !steady(h) {
		t.Fatalf("an idle tunnel must not change state: %v", h)
	}
}

// A lossy but alive path: data answers are lost for a while, the forced
// handshake is answered slowly (2 s, after the resend at half the bound
// superseded the first initiation) but within the bound. Nothing changes.
func TestLossyPathAliveKeepsKey(t *testing.T) {
	r := newRig(t)
	r.tuns.rtt = 2 * time.Second
	r.connect()
	r.tunnels(func(ts *fakeTunnels) { ts.load = true })
	r.advance(2*time.Second, 50*time.Millisecond)
	old, regs, asked := r.key(), r.srv.registerCount(), r.peerCalls()
	r.resetHistory()
	r.tunnels(func(ts *fakeTunnels) { ts.dropReplies = true })
	p0 := r.e.Profile()
	p := r.until("the forced handshake's answer", 50*time.Millisecond, func(p localapi.Profile) bool {
		return p.LatestHandshake != nil && p.LatestHandshake.After(*p0.LatestHandshake)
	})
	if n := r.rehandshakes(); n != 2 {
		t.Fatalf("want one forced handshake and its resend, got %d", n)
	}
	if r.peerCalls() != asked+1 {
		t.Fatalf("the server must be asked alongside the handshake: %d→%d", asked, r.peerCalls())
	}
	_ = p
	r.advance(500*time.Millisecond, 50*time.Millisecond)
	r.tunnels(func(ts *fakeTunnels) { ts.dropReplies = false })
	r.advance(30*time.Second, 100*time.Millisecond)
	if n := r.rehandshakes(); n != 2 {
		t.Fatalf("an alive path is checked once (two initiations), got %d forced handshakes", n)
	}
	if r.key() != old || r.srv.registerCount() != regs {
		t.Fatal("an alive path must keep its key")
	}
	if h := r.history(); slices.Contains(h, localapi.StateReconnecting) || r.e.Profile().State != localapi.StateConnected {
		t.Fatalf("an alive path must stay connected without a flap: %v", h)
	}
}

// One-way traffic on a live path (a UDP stream nobody answers) hears only
// the server's passive keepalive every 10 s: after one check proves the
// path alive, the engine falls back to WireGuard's own 15 s rule for a
// while, so the stream costs about one forced handshake a minute.
func TestOneWayTrafficProbesRarely(t *testing.T) {
	r := newRig(t)
	r.connect()
	r.resetHistory()
	regs := r.srv.registerCount()
	r.tunnels(func(ts *fakeTunnels) { ts.load, ts.oneWay = true, true })
	r.advance(5*time.Minute, 250*time.Millisecond)
	if n := r.rehandshakes(); n < 1 || n > 6 {
		t.Fatalf("one-way traffic for 5 minutes: want 1..6 forced handshakes, got %d", n)
	}
	if r.srv.registerCount() != regs || !steady(r.history()) {
		t.Fatalf("one-way traffic on a live path must change nothing: registers %d→%d, states %v", regs, r.srv.registerCount(), r.history())
	}
}

// The server's host is down (no UDP answer, API unreachable) while the
// laptop sends: reconnecting says why, the checks back off to
// ProbeBackoffMax, and when the server comes back (restarted) the device
// registers again within one backoff.
func TestServerUnreachableProbesBounded(t *testing.T) {
	r := newRig(t)
	r.connect()
	r.tunnels(func(ts *fakeTunnels) { ts.load = true })
	r.advance(2*time.Second, 100*time.Millisecond)
	old := r.key()
	r.resetHistory()
	r.srv.mu.Lock()
	r.srv.down = true
	r.srv.mu.Unlock()
	r.tunnels(func(ts *fakeTunnels) { ts.blocked = true })
	asked := r.peerCalls()
	p := r.until("reconnecting", 100*time.Millisecond, func(p localapi.Profile) bool { return p.State == localapi.StateReconnecting })
	if !strings.Contains(p.Reason, "no answer from the server") || !strings.Contains(p.Reason, "could not be asked") || !strings.Contains(p.Reason, "retrying in") {
		t.Fatalf("reconnecting must say why and when: %q", p.Reason)
	}
	r.advance(2*time.Minute, 250*time.Millisecond)
	// Checks at +2, +4, +8, then every 15 s: about 10 in two minutes, plus
	// the periodic peer checks (every 30 s).
	probes, gets := r.rehandshakes()/2, r.peerCalls()-asked // an unanswered check sends two
	if probes < 5 || probes > 12 {
		t.Fatalf("want bounded checks while the server is down (5..12 in 2 min), got %d", probes)
	}
	if gets > probes*askTries+5 { // each check's question is hedged askTries times
		t.Fatalf("the server was asked %d times for %d checks", gets, probes)
	}
	if p := r.e.Profile(); p.State != localapi.StateReconnecting || !strings.Contains(p.Reason, "retrying in 15s") {
		t.Fatalf("after two minutes down: %s %q", p.State, p.Reason)
	}
	if h := r.history(); !slices.Equal(h, []localapi.State{localapi.StateReconnecting}) {
		t.Fatalf("no flap while the server is down: %v", h)
	}
	// Back, restarted: an empty peer table.
	r.srv.mu.Lock()
	r.srv.down = false
	r.srv.mu.Unlock()
	r.srv.restart()
	r.tunnels(func(ts *fakeTunnels) { ts.blocked = false })
	start := r.clock.Now()
	r.until("new key", 100*time.Millisecond, func(p localapi.Profile) bool {
		return p.State == localapi.StateConnected && r.key() != old
	})
	if took := r.clock.Now().Sub(start); took > r.e.t.ProbeBackoffMax+time.Second {
		t.Fatalf("back after %s; want within one backoff (%s)", took, r.e.t.ProbeBackoffMax)
	}
}

// The server's host is down for a short while and comes back with its
// state (a network blip): the handshake answers again, the same key stays.
func TestServerBlipRecoversSameKey(t *testing.T) {
	r := newRig(t)
	r.connect()
	r.tunnels(func(ts *fakeTunnels) { ts.load = true })
	r.advance(2*time.Second, 100*time.Millisecond)
	old, regs := r.key(), r.srv.registerCount()
	r.srv.mu.Lock()
	r.srv.down = true
	r.srv.mu.Unlock()
	r.tunnels(func(ts *fakeTunnels) { ts.blocked = true })
	r.untilState(localapi.StateReconnecting)
	r.advance(5*time.Second, 100*time.Millisecond)
	r.srv.mu.Lock()
	r.srv.down = false
	r.srv.mu.Unlock()
	r.tunnels(func(ts *fakeTunnels) { ts.blocked = false })
	r.until("connected", 100*time.Millisecond, func(p localapi.Profile) bool { return p.State == localapi.StateConnected })
	if r.key() != old || r.srv.registerCount() != regs {
		t.Fatal("a blip must not cost a new key")
	}
}

func TestSilenceIgnoresKeepalives(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC)
	var s silence
	s.reset(TunnelStats{RxBytes: 1000, TxBytes: 1000})
	at := func(sec float64) time.Time { return t0.Add(time.Duration(sec * float64(time.Second))) }
	if q := s.observe(TunnelStats{RxBytes: 1000, TxBytes: 1032}, at(25)); q != 0 {
		t.Fatalf("a keepalive is not unanswered data: %s", q)
	}
	if q := s.observe(TunnelStats{RxBytes: 1000, TxBytes: 1132}, at(26)); q != 0 {
		t.Fatalf("data just sent: %s", q)
	}
	if q := s.observe(TunnelStats{RxBytes: 1000, TxBytes: 1232}, at(27.5)); q != 1500*time.Millisecond {
		t.Fatalf("unanswered for 1.5 s, got %s", q)
	}
	if q := s.observe(TunnelStats{RxBytes: 1100, TxBytes: 1332}, at(28)); q != 0 {
		t.Fatalf("an answer clears it: %s", q)
	}
	if q := s.observe(TunnelStats{RxBytes: 10, TxBytes: 10}, at(29)); q != 0 {
		t.Fatalf("counters restart with a new peer: %s", q)
	}
}
