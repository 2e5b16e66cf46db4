package engine

import (
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ghostwire/ghostwire/app/localapi"
	"github.com/ghostwire/ghostwire/server/api"
)

// `down`, `logout` and the daemon's shutdown must return within a bound in
// every state of the engine and with every check in flight: the ports
// holding their answers back (a server that does not answer, a tunnel that
// takes its time), an answer crossing the cancellation, Stats failing in
// the middle of a check. A `down` during a connection check once never
// returned (issue 15): the probe had taken the server's answer, then saw
// the cancellation, and a deferred receive waited for the answer a second
// time. `make test-engine-stop` (part of `make test`) runs it with -race and
// -count=20, so the schedules that are rare are met too.

// stopBound is generous: the machines are shared and -race is slow. A hang
// is forever, so any bound tells it apart.
const stopBound = 10 * time.Second

// teardownBudget is the engine's bound on removing its peer at down.
const teardownBudget = 500 * time.Millisecond

// situation drives a fresh engine to one point of its life and returns
// once it is there.
type situation struct {
	name  string
	reach func(r *rig)
	// tunnel: a tunnel is up there, so the stop must close it.
	tunnel bool
}

// waitEntered waits until a held call of g has started.
func (r *rig) waitEntered(g *gate, what string) {
	r.t.Helper()
	select {
	case <-g.entered:
	case <-time.After(stopBound):
		r.t.Fatalf("the engine never reached %s; profile %+v", what, r.e.Profile())
	}
}

// stepUntilEntered moves the fake clock until a held call of g starts.
func (r *rig) stepUntilEntered(g *gate, what string, step time.Duration) {
	r.t.Helper()
	deadline := time.Now().Add(stopBound)
	for time.Now().Before(deadline) {
		select {
		case <-g.entered:
			return
		default:
		}
		r.clock.Advance(step)
		time.Sleep(time.Millisecond)
	}
	r.t.Fatalf("the engine never reached %s; profile %+v history %v", what, r.e.Profile(), r.history())
}

// suspectWith connects, then makes data go unanswered (UDP blocked while
// the laptop sends) so the engine checks the connection.
func (r *rig) blockUDPUnderLoad() {
	r.tunnels(func(ts *fakeTunnels) { ts.blocked, ts.load = true, true })
}

var situations = []situation{
	{name: "signing in (waiting for the person)", reach: func(r *rig) {
		r.e.Up(SignInAuto)
		r.untilState(localapi.StateSigningIn)
	}},
	{name: "server config held", reach: func(r *rig) {
		g := r.holds.hold("config", false)
		r.e.Up(SignInAuto)
		r.waitEntered(g, "GET /v1/config")
	}},
	{name: "registration held", reach: func(r *rig) {
		g := r.holds.hold("register", false)
		r.e.Up(SignInAuto)
		r.untilState(localapi.StateSigningIn)
		r.signin.approve <- struct{}{}
		r.waitEntered(g, "the registration")
	}},
	{name: "registration answering as it is cancelled", reach: func(r *rig) {
		g := r.holds.hold("register", true)
		r.e.Up(SignInAuto)
		r.untilState(localapi.StateSigningIn)
		r.signin.approve <- struct{}{}
		r.waitEntered(g, "the registration")
	}},
	{name: "tunnel coming up held", reach: func(r *rig) {
		g := r.holds.hold("up", false)
		r.e.Up(SignInAuto)
		r.untilState(localapi.StateSigningIn)
		r.signin.approve <- struct{}{}
		r.waitEntered(g, "the tunnel's Up")
	}},
	{name: "waiting for the first handshake (UDP blocked)", tunnel: true, reach: func(r *rig) {
		r.tunnels(func(ts *fakeTunnels) { ts.blocked = true })
		r.e.Up(SignInAuto)
		r.untilState(localapi.StateSigningIn)
		r.signin.approve <- struct{}{}
		r.until("the tunnel up", 100*time.Millisecond, func(localapi.Profile) bool { return r.tunnelUps() == 1 })
	}},
	{name: "connected", tunnel: true, reach: func(r *rig) { r.connect() }},
	{name: "check: server's answer held", tunnel: true, reach: func(r *rig) {
		r.connect()
		g := r.holds.hold("peer", false)
		r.blockUDPUnderLoad()
		r.stepUntilEntered(g, "the question to the server", 50*time.Millisecond)
	}},
	{name: "check: answer in, forced handshake still waited for", tunnel: true, reach: func(r *rig) {
		// The schedule that hung: the probe takes the server's answer
		// (the peer exists) and goes on waiting for the handshake; the
		// clock stops before its bound, so the cancellation finds it there.
		r.connect()
		calls := r.peerCalls()
		r.blockUDPUnderLoad()
		r.until("the question answered", 50*time.Millisecond, func(localapi.Profile) bool { return r.peerCalls() > calls })
		time.Sleep(5 * time.Millisecond) // the probe reads the answer
	}},
	{name: "check: answer crossing the cancellation", tunnel: true, reach: func(r *rig) {
		r.connect()
		g := r.holds.hold("peer", true)
		r.blockUDPUnderLoad()
		r.stepUntilEntered(g, "the question to the server", 50*time.Millisecond)
	}},
	{name: "check: Stats fails mid-check, then the new registration held", tunnel: true, reach: func(r *rig) {
		r.connect()
		peer := r.holds.hold("peer", false)
		reg := r.holds.hold("register", false)
		r.blockUDPUnderLoad()
		r.stepUntilEntered(peer, "the question to the server", 50*time.Millisecond)
		r.tunnels(func(ts *fakeTunnels) { ts.broken = true })
		r.stepUntilEntered(reg, "the registration after the broken tunnel", 50*time.Millisecond)
	}},
	{name: "check: sign-in token held", tunnel: true, reach: func(r *rig) {
		r.connect()
		g := r.holds.hold("token", false)
		r.blockUDPUnderLoad()
		r.stepUntilEntered(g, "the token for the question", 50*time.Millisecond)
	}},
	{name: "outage: server unreachable, probing on a backoff", tunnel: true, reach: func(r *rig) {
		r.connect()
		r.srv.mu.Lock()
		r.srv.down = true
		r.srv.mu.Unlock()
		r.blockUDPUnderLoad()
		r.until("the outage", 100*time.Millisecond, func(p localapi.Profile) bool {
			return p.State == localapi.StateReconnecting && strings.Contains(p.Reason, "retrying")
		})
	}},
	{name: "periodic peer check held", tunnel: true, reach: func(r *rig) {
		r.connect()
		g := r.holds.hold("peer", false)
		r.stepUntilEntered(g, "the periodic peer check", time.Second)
	}},
	{name: "re-registering after the server restarted, held", tunnel: true, reach: func(r *rig) {
		r.connect()
		g := r.holds.hold("register", false)
		r.srv.restart()
		r.stepUntilEntered(g, "the registration after the restart", time.Second)
	}},
	{name: "waiting to retry a failed reconnect", tunnel: true, reach: func(r *rig) {
		r.connect()
		r.srv.mu.Lock()
		r.srv.down = true
		r.srv.peers = map[string]api.Peer{}
		r.srv.mu.Unlock()
		r.until("retrying", time.Second, func(p localapi.Profile) bool {
			return p.State == localapi.StateReconnecting && strings.Contains(p.Reason, "retrying in")
		})
	}},
	{name: "key rotation held", tunnel: true, reach: func(r *rig) {
		r.srv.lifetime = 10 * time.Minute
		r.connect()
		g := r.holds.hold("register", false)
		r.stepUntilEntered(g, "the rotation", 10*time.Second)
	}},
	{name: "network change: re-applying the config held", tunnel: true, reach: func(r *rig) {
		r.connect()
		g := r.holds.hold("reconfigure", false)
		r.e.Notify(EventNetworkChange)
		r.stepUntilEntered(g, "the re-pin", 50*time.Millisecond)
	}},
	{name: "wake: dead path, server's answer held", tunnel: true, reach: func(r *rig) {
		r.connect()
		g := r.holds.hold("peer", false)
		r.tunnels(func(ts *fakeTunnels) { ts.blocked = true })
		r.e.Notify(EventWake)
		r.stepUntilEntered(g, "the question after the wake", 50*time.Millisecond)
	}},
	{name: "stopped with an error", reach: func(r *rig) {
		r.srv.mu.Lock()
		r.srv.capped = true
		r.srv.mu.Unlock()
		r.e.Up(SignInAuto)
		r.untilState(localapi.StateSigningIn)
		r.signin.approve <- struct{}{}
		r.untilState(localapi.StateError)
	}},
	{name: "connected, the server's DELETE held at down", tunnel: true, reach: func(r *rig) {
		r.connect()
		r.holds.hold("delete", false)
	}},
}

func (r *rig) tunnelUps() int { r.tuns.mu.Lock(); defer r.tuns.mu.Unlock(); return r.tuns.ups }

// stops are what a person or the system does to end a connection.
var stops = []struct {
	name string
	stop func(e *Engine)
}{
	{"down", (*Engine).Down},
	{"logout", (*Engine).Logout},
	// The daemon's shutdown (SIGTERM) downs every profile at once; a CLI
	// `down` may arrive meanwhile.
	{"shutdown-with-a-down-racing", func(e *Engine) {
		var wg sync.WaitGroup
		for range 2 {
			wg.Add(1)
			go func() { defer wg.Done(); e.Down() }()
		}
		wg.Wait()
	}},
}

func TestStopIsBoundedInEveryState(t *testing.T) {
	for _, sit := range situations {
		for _, st := range stops {
			t.Run(sit.name+"/"+st.name, func(t *testing.T) {
				r := newRigWith(t, func(c *Config) { c.Timing.TeardownTimeout = teardownBudget })
				sit.reach(r)
				done := make(chan struct{})
				go func() { st.stop(r.e); close(done) }()
				select {
				case <-done:
				case <-time.After(stopBound):
					r.hung.Store(true)
					buf := make([]byte, 1<<20)
					n := runtime.Stack(buf, true)
					t.Fatalf("%s did not return within %s (state %s); goroutines:\n%s", st.name, stopBound, r.e.Profile().State, buf[:n])
				}
				p := r.e.Profile()
				if p.State != localapi.StateDisconnected || r.e.Running() || p.Address != "" {
					t.Fatalf("after %s: running=%v %+v", st.name, r.e.Running(), p)
				}
				r.tuns.mu.Lock()
				ups, closes := r.tuns.ups, r.tuns.closes
				r.tuns.mu.Unlock()
				if sit.tunnel && (ups == 0 || closes != ups) {
					t.Fatalf("after %s: %d tunnels up, %d closed", st.name, ups, closes)
				}
				// Nothing of the run outlives the stop: no call to a port is
				// still in flight.
				if n := r.holds.inflight.Load(); n != 0 {
					t.Fatalf("after %s: %d calls to the ports still in flight", st.name, n)
				}
			})
		}
	}
}
