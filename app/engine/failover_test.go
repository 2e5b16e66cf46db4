package engine

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/ghostwire/ghostwire/app/localapi"
	"github.com/ghostwire/ghostwire/server/api"
)

// replicaAPI is the fake server run as three replicas: every answer lists
// them, and the one "answering" is the first live one (as the API's load
// balancer would pick).
type replicaAPI struct {
	*fakeServer
	mu       sync.Mutex
	replicas []api.Replica
	dead     map[string]bool // by public key
	peerAsks int
}

func newReplicaAPI(srv *fakeServer, n int) *replicaAPI {
	a := &replicaAPI{fakeServer: srv, dead: map[string]bool{}}
	for i := 0; i < n; i++ {
		a.replicas = append(a.replicas, newReplica(i))
	}
	return a
}

func newReplica(i int) api.Replica {
	k, _ := wgtypes.GeneratePrivateKey()
	return api.Replica{Name: fmt.Sprintf("gw-%d", i), PublicKey: k.PublicKey().String(), Endpoint: fmt.Sprintf("10.203.0.%d:51820", 10+i)}
}

func (a *replicaAPI) dress(p api.Peer) api.Peer {
	a.mu.Lock()
	defer a.mu.Unlock()
	var live []api.Replica
	for _, r := range a.replicas {
		if !a.dead[r.PublicKey] {
			live = append(live, r)
		}
	}
	if len(live) > 0 {
		p.ServerPublicKey, p.Endpoint, p.Replicas = live[0].PublicKey, live[0].Endpoint, live
	}
	return p
}

func (a *replicaAPI) Register(ctx context.Context, token string, req api.RegisterRequest) (api.Peer, error) {
	p, err := a.fakeServer.Register(ctx, token, req)
	return a.dress(p), err
}

func (a *replicaAPI) Peer(ctx context.Context, token, key string) (api.Peer, error) {
	a.mu.Lock()
	a.peerAsks++
	a.mu.Unlock()
	p, err := a.fakeServer.Peer(ctx, token, key)
	return a.dress(p), err
}

func (a *replicaAPI) kill(i int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.dead[a.replicas[i].PublicKey] = true
}

// restart gives replica i a new key (a restarted pod), alive.
func (a *replicaAPI) restart(i int) api.Replica {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.replicas[i] = newReplica(i)
	return a.replicas[i]
}

func (a *replicaAPI) alive(key wgtypes.Key) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return !a.dead[key.String()]
}

// replicaTunnels is the tunnel with standby peers: each peer answers
// handshakes (one rtt later) and data only while its replica lives.
type replicaTunnels struct {
	mu       sync.Mutex
	clock    *fakeClock
	api      *replicaAPI
	live     *replicaTunnel
	load     bool
	oneWay   bool // data is never answered (but handshakes are)
	activate []wgtypes.Key
	sets     int
}

type fakePeer struct {
	hs       time.Time
	rx, tx   int64
	answerAt time.Time
}

type replicaTunnel struct {
	ts        *replicaTunnels
	cfg       TunnelConfig
	active    wgtypes.Key
	peers     map[wgtypes.Key]*fakePeer
	trafficAt time.Time
}

func (ts *replicaTunnels) Up(ctx context.Context, cfg TunnelConfig) (Tunnel, error) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	t := &replicaTunnel{ts: ts, peers: map[wgtypes.Key]*fakePeer{}, trafficAt: ts.clock.Now()}
	t.apply(cfg)
	ts.live = t
	return t, nil
}

func (t *replicaTunnel) apply(cfg TunnelConfig) {
	keep := map[wgtypes.Key]bool{cfg.PeerPublicKey: true}
	for _, s := range cfg.Standby {
		keep[s.PublicKey] = true
	}
	for k := range t.peers {
		if !keep[k] || cfg.PrivateKey != t.cfg.PrivateKey {
			delete(t.peers, k)
		}
	}
	now := t.ts.clock.Wall()
	for k := range keep {
		if t.peers[k] == nil {
			t.peers[k] = &fakePeer{}
			if t.ts.api.alive(k) { // kicked at once: a session starts
				t.peers[k].hs = now
			}
		}
	}
	t.cfg, t.active = cfg, cfg.PeerPublicKey
}

func (t *replicaTunnel) Reconfigure(ctx context.Context, cfg TunnelConfig) error {
	t.ts.mu.Lock()
	defer t.ts.mu.Unlock()
	t.apply(cfg)
	return nil
}

// tick moves the counters: answers to handshakes in flight, and traffic
// through the active peer.
func (t *replicaTunnel) tick() {
	now, mono := t.ts.clock.Wall(), t.ts.clock.Now()
	for k, p := range t.peers {
		if !p.answerAt.IsZero() && !mono.Before(p.answerAt) {
			p.answerAt = time.Time{}
			if t.ts.api.alive(k) {
				p.hs = now
				p.rx += response
			}
		}
	}
	a := t.peers[t.active]
	if !t.ts.load {
		t.trafficAt = mono
		return
	}
	for ; !t.trafficAt.Add(trafficEvery).After(mono); t.trafficAt = t.trafficAt.Add(trafficEvery) {
		a.tx += 100
		if t.ts.api.alive(t.active) && !t.ts.oneWay {
			a.rx += 200
		}
	}
}

func (t *replicaTunnel) Stats() (TunnelStats, error) {
	t.ts.mu.Lock()
	defer t.ts.mu.Unlock()
	t.tick()
	p := t.peers[t.active]
	return TunnelStats{LatestHandshake: p.hs, RxBytes: p.rx, TxBytes: p.tx}, nil
}

func (t *replicaTunnel) PeerStats() (map[wgtypes.Key]TunnelStats, error) {
	t.ts.mu.Lock()
	defer t.ts.mu.Unlock()
	t.tick()
	out := map[wgtypes.Key]TunnelStats{}
	for k, p := range t.peers {
		out[k] = TunnelStats{LatestHandshake: p.hs, RxBytes: p.rx, TxBytes: p.tx}
	}
	return out, nil
}

func (t *replicaTunnel) Kick() error { return nil }

func (t *replicaTunnel) Rehandshake() error { return t.RehandshakePeer(t.active) }

func (t *replicaTunnel) RehandshakePeer(k wgtypes.Key) error {
	t.ts.mu.Lock()
	defer t.ts.mu.Unlock()
	p := t.peers[k]
	if p == nil {
		return fmt.Errorf("no peer %s", k)
	}
	p.tx += initiation
	p.answerAt = t.ts.clock.Now().Add(time.Millisecond)
	return nil
}

func (t *replicaTunnel) Activate(k wgtypes.Key) error {
	t.ts.mu.Lock()
	defer t.ts.mu.Unlock()
	if t.peers[k] == nil || k == t.active {
		return fmt.Errorf("no standby %s", k)
	}
	t.active = k
	t.ts.activate = append(t.ts.activate, k)
	return nil
}

func (t *replicaTunnel) SetStandby(_ context.Context, c TunnelConfig) error {
	t.ts.mu.Lock()
	defer t.ts.mu.Unlock()
	t.ts.sets++
	cfg := t.cfg
	cfg.PeerPublicKey, cfg.Standby = t.active, c.Standby
	t.apply(cfg)
	return nil
}

func (t *replicaTunnel) Close() error { return nil }

type replicaRig struct {
	*rig
	api  *replicaAPI
	tuns *replicaTunnels
}

func newReplicaRig(t *testing.T) *replicaRig {
	rr := &replicaRig{}
	rr.rig = newRigWith(t, func(c *Config) {
		rr.api = newReplicaAPI(c.API.(*fakeServer), 3)
		rr.tuns = &replicaTunnels{clock: c.Clock.(*fakeClock), api: rr.api}
		c.API, c.Tunnels = rr.api, rr.tuns
	})
	return rr
}

func (rr *replicaRig) active() wgtypes.Key {
	rr.tuns.mu.Lock()
	defer rr.tuns.mu.Unlock()
	return rr.tuns.live.active
}

func (rr *replicaRig) replicaKey(i int) wgtypes.Key {
	rr.api.mu.Lock()
	defer rr.api.mu.Unlock()
	k, _ := wgtypes.ParseKey(rr.api.replicas[i].PublicKey)
	return k
}

// The active replica dies under traffic: the routes move to a standby that
// answers, within the failover window and a poll or two, with no new
// registration, no sign-in and no "reconnecting" on the way; afterwards the
// standby set comes from the server's current list.
func TestFailoverMovesRoutesWithoutRegistering(t *testing.T) {
	rr := newReplicaRig(t)
	rr.connect()
	if rr.active() != rr.replicaKey(0) {
		t.Fatal("the routes do not go to the replica that answered")
	}
	regs, prompts := rr.srv.registerCount(), rr.signin.prompts
	rr.resetHistory()
	rr.tuns.mu.Lock()
	rr.tuns.load = true
	rr.tuns.mu.Unlock()
	rr.advance(3*time.Second, 10*time.Millisecond)
	rr.api.kill(0)
	killed := rr.clock.Now()
	rr.until("the routes on another replica", 10*time.Millisecond, func(localapi.Profile) bool { return rr.active() != rr.replicaKey(0) })
	gap := rr.clock.Now().Sub(killed)
	// The window, a fifth of it to notice (the counters' poll), the grace,
	// and the fake clock's steps.
	tm := (Timing{}).withDefaults()
	if max := tm.FailoverAfter + tm.FailoverAfter/5 + failoverGraceMin + 100*time.Millisecond; gap > max {
		t.Errorf("the move took %v after the replica died, want ≤ %v", gap, max)
	}
	if rr.active() != rr.replicaKey(1) && rr.active() != rr.replicaKey(2) {
		t.Fatal("moved to an unknown peer")
	}
	if n := rr.srv.registerCount(); n != regs || rr.signin.prompts != prompts {
		t.Fatalf("a failover registered %d times and asked for %d sign-ins", n-regs, rr.signin.prompts-prompts)
	}
	for _, s := range rr.history() {
		if s != localapi.StateConnected {
			t.Fatalf("the profile left connected during the failover: %v", rr.history())
		}
	}
	if p := rr.e.Profile(); p.Endpoint == "10.203.0.10:51820" {
		t.Errorf("the profile still shows the dead replica's endpoint %s", p.Endpoint)
	}
	// In the background the server was asked, and the dead replica left
	// the standby set.
	rr.until("the standby set from the server", 10*time.Millisecond, func(localapi.Profile) bool {
		rr.tuns.mu.Lock()
		defer rr.tuns.mu.Unlock()
		_, dead := rr.tuns.live.peers[rr.replicaKey(0)]
		return rr.tuns.sets > 0 && !dead
	})
	// Replica 0 comes back with a new key: the periodic check adds it.
	fresh := rr.api.restart(0)
	k, _ := wgtypes.ParseKey(fresh.PublicKey)
	rr.until("the restarted replica as a standby", 500*time.Millisecond, func(localapi.Profile) bool {
		rr.tuns.mu.Lock()
		defer rr.tuns.mu.Unlock()
		return rr.tuns.live.peers[k] != nil
	})
	if n := rr.srv.registerCount(); n != regs {
		t.Fatalf("%d registrations", n-regs)
	}
}

// Data unanswered while the replica in use still shakes hands (a one-way
// stream, a slow service): the check finds it alive and nothing moves.
func TestFailoverFalseAlarmKeepsTheRoutes(t *testing.T) {
	rr := newReplicaRig(t)
	rr.connect()
	rr.tuns.mu.Lock()
	rr.tuns.load, rr.tuns.oneWay = true, true
	rr.tuns.mu.Unlock()
	rr.advance(20*time.Second, 50*time.Millisecond)
	rr.tuns.mu.Lock()
	moves := len(rr.tuns.activate)
	rr.tuns.mu.Unlock()
	if moves != 0 || rr.active() != rr.replicaKey(0) {
		t.Fatalf("a live replica lost the routes (%d moves)", moves)
	}
}

// Every replica dies: no move; the engine falls back to what it does with
// one server (it asks the server and registers again).
func TestFailoverNoReplicaAnswersFallsBack(t *testing.T) {
	rr := newReplicaRig(t)
	rr.connect()
	regs := rr.srv.registerCount()
	rr.tuns.mu.Lock()
	rr.tuns.load = true
	rr.tuns.mu.Unlock()
	for i := 0; i < 3; i++ {
		rr.api.kill(i)
	}
	rr.until("a new registration", 100*time.Millisecond, func(localapi.Profile) bool { return rr.srv.registerCount() > regs })
	rr.tuns.mu.Lock()
	defer rr.tuns.mu.Unlock()
	if len(rr.tuns.activate) != 0 {
		t.Fatalf("moved to a dead replica: %v", rr.tuns.activate)
	}
}

// standbyOf keeps the usable replicas other than the active one, once each.
func TestStandbyOf(t *testing.T) {
	a, b := newReplica(0), newReplica(1)
	ka, _ := wgtypes.ParseKey(a.PublicKey)
	p := api.Peer{Replicas: []api.Replica{a, b, b, {Name: "bad", PublicKey: "x", Endpoint: "1.2.3.4:1"}, {Name: "noep", PublicKey: newReplica(2).PublicKey}}}
	got := standbyOf(p, ka)
	if len(got) != 1 || got[0].Name != b.Name {
		t.Fatalf("standbyOf = %+v", got)
	}
}

// A false alarm (the replica in use answered) calms the check for a minute
// to 2 s, not to the 15 s of one server: a replica that dies right after is
// still left within about 2.5 s.
func TestFailoverAfterAFalseAlarm(t *testing.T) {
	rr := newReplicaRig(t)
	rr.connect()
	rr.tuns.mu.Lock()
	rr.tuns.load, rr.tuns.oneWay = true, true
	rr.tuns.mu.Unlock()
	rr.advance(2*time.Second, 10*time.Millisecond) // a check finds the replica alive
	rr.tuns.mu.Lock()
	rr.tuns.oneWay = false
	rr.tuns.mu.Unlock()
	rr.advance(time.Second, 10*time.Millisecond)
	rr.api.kill(0)
	killed := rr.clock.Now()
	rr.until("the routes on another replica", 10*time.Millisecond, func(localapi.Profile) bool { return rr.active() != rr.replicaKey(0) })
	if gap := rr.clock.Now().Sub(killed); gap > failoverCalm+failoverCalm/5+failoverGraceMin+100*time.Millisecond {
		t.Fatalf("the move took %v after a false alarm", gap)
	}
}
