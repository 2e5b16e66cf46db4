package engine

import (
	"sync"
	"testing"
	"time"

	"github.com/ghostwire/ghostwire/app/localapi"
)

// An idle tunnel lets the daemon sleep: the counters are read every Tick
// instead of every Poll, and the first outgoing packet ends the wait at once
// (a dead server must still be noticed within about a second of sending).

// outgoingFake is the tunnel's "a packet went out" signal, armed by
// Outgoing and fired by send.
type outgoingFake struct {
	mu    sync.Mutex
	armed bool
	ch    chan struct{}
}

// notifyingTunnel is a fakeTunnel that reports outgoing packets.
type notifyingTunnel struct{ *fakeTunnel }

func (t *notifyingTunnel) Outgoing() <-chan struct{} {
	o := t.ts.notify
	o.mu.Lock()
	defer o.mu.Unlock()
	select {
	case <-o.ch:
	default:
	}
	o.armed = true
	return o.ch
}

// send starts the scripted traffic and fires the signal if armed, as the
// TUN's first read does.
func (r *rig) send() {
	r.tunnels(func(ts *fakeTunnels) {
		ts.load = true
		ts.live.trafficAt = r.clock.Now()
		o := ts.notify
		o.mu.Lock()
		defer o.mu.Unlock()
		if o.armed {
			o.armed = false
			o.ch <- struct{}{}
		}
	})
}

func newNotifyingRig(t *testing.T) *rig {
	r := newRig(t)
	r.tuns.notify = &outgoingFake{ch: make(chan struct{}, 1)}
	return r
}

func (r *rig) statsCalls() int { r.tuns.mu.Lock(); defer r.tuns.mu.Unlock(); return r.tuns.stats }

// Four idle minutes: about one reading per Tick (plus the peer checks'
// company), not one per Poll, and nothing else changes.
func TestIdleTunnelReadsCountersRarely(t *testing.T) {
	r := newNotifyingRig(t)
	r.connect()
	r.advance(2*time.Second, 100*time.Millisecond) // settle after the connect
	old, n0 := r.key(), r.statsCalls()
	r.resetHistory()
	const idle = 4 * time.Minute
	r.advance(idle, r.e.t.Poll)
	reads := r.statsCalls() - n0
	if most := int(idle/r.e.t.Tick) + int(idle/r.e.t.PeerCheck) + 10; reads > most {
		t.Fatalf("an idle tunnel read its counters %d times in %s; want at most %d (every Tick, %s), not every Poll (%s)",
			reads, idle, most, r.e.t.Tick, r.e.t.Poll)
	}
	if reads < int(idle/r.e.t.Tick)/2 {
		t.Fatalf("only %d readings in %s: clock jumps and stale handshakes would go unnoticed", reads, idle)
	}
	if r.key() != old || r.rehandshakes() != 0 {
		t.Fatal("an idle tunnel must keep its key and not be probed")
	}
	if h := r.history(); !steady(h) {
		t.Fatalf("an idle tunnel must not change state: %v", h)
	}
}

// The server restarted while the tunnel was idle; the first packet sent
// afterwards wakes the watch at once, and the silence is noticed as fast as
// on a busy tunnel.
func TestTrafficAfterIdleNoticesRestart(t *testing.T) {
	r := newNotifyingRig(t)
	r.connect()
	r.advance(10*time.Second, 100*time.Millisecond) // the periodic peer check is 20 s away
	old := r.key()
	r.resetHistory()
	r.srv.restart()
	r.advance(5*time.Second, 100*time.Millisecond) // still idle: nobody can tell yet
	if r.key() != old {
		t.Fatal("nothing was sent: the restart cannot have been noticed")
	}
	start := r.clock.Now()
	r.send()
	r.until("new key", 50*time.Millisecond, func(p localapi.Profile) bool {
		return p.State == localapi.StateConnected && r.key() != old
	})
	took := r.clock.Now().Sub(start)
	if bound := r.e.t.SuspectAfter + 2*r.e.t.Poll + 500*time.Millisecond; took > bound {
		t.Fatalf("re-registered %s after traffic started on an idle tunnel; want within %s (as on a busy one)", took, bound)
	}
}

// While data flows the counters are read every Poll, so an unanswered send is
// judged on time even between signals.
func TestBusyTunnelReadsEveryPoll(t *testing.T) {
	r := newNotifyingRig(t)
	r.connect()
	r.send()
	r.advance(time.Second, 50*time.Millisecond)
	n0 := r.statsCalls()
	r.advance(10*time.Second, 50*time.Millisecond)
	if reads, least := r.statsCalls()-n0, int(10*time.Second/r.e.t.Poll)*3/4; reads < least {
		t.Fatalf("a busy tunnel read its counters %d times in 10 s; want at least %d (every Poll)", reads, least)
	}
}
