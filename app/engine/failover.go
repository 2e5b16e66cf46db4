package engine

import (
	"context"
	"errors"
	"slices"
	"sort"
	"strings"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/ghostwire/ghostwire/app/localapi"
	"github.com/ghostwire/ghostwire/server/api"
)

// A server that runs as several replicas answers a registration with the
// list of its live replicas (api.Peer.Replicas); each one carries every
// peer. The tunnel then holds every replica as a WireGuard peer: the one
// that answered carries the routes, the others are standbys with a session
// of their own. When the active replica stops answering (data out, nothing
// back), the engine forces a handshake with it and with the standbys at
// once and moves the routes to a standby that answers while the active one
// does not: one device update, the same key and address, no sign-in and no
// call to the server on the way. Afterwards it asks the server, in the
// background, which replicas are live now (one may have restarted with a
// new key).

// StandbyPeer is one of the server's other replicas.
type StandbyPeer struct {
	Name      string
	PublicKey wgtypes.Key
	Endpoint  string // host:port
}

// Replicas is a Tunnel that holds the server's other replicas as standby
// peers (optional: without it the engine reconnects as with one server).
type Replicas interface {
	// PeerStats is the live state of every peer, the active one included.
	PeerStats() (map[wgtypes.Key]TunnelStats, error)
	// RehandshakePeer sends a handshake initiation to one peer now.
	RehandshakePeer(key wgtypes.Key) error
	// Activate moves the routes to the standby key in one device update.
	Activate(key wgtypes.Key) error
	// SetStandby replaces the standby peers with cfg.Standby; cfg is the
	// running configuration with only Standby changed, and the active peer
	// stays. Like Reconfigure it ends with ctx (the engine's run).
	SetStandby(ctx context.Context, cfg TunnelConfig) error
}

const (
	// failoverPoll is how often the peers' counters are read while the
	// replicas are being asked: the move waits on it.
	failoverPoll = 10 * time.Millisecond
	// failoverGraceMin: once a standby answered, the active replica has
	// this long (or, if longer, as long again as the standby took) to answer
	// too before the routes move: both are in the same cluster, so an active
	// replica that takes much longer than a standby is gone.
	failoverGraceMin = 50 * time.Millisecond
)

// standbyOf lists the replicas of a registration's answer other than the
// one that answered; entries that cannot be used are left out.
func standbyOf(p api.Peer, active wgtypes.Key) []StandbyPeer {
	var out []StandbyPeer
	for _, r := range p.Replicas {
		k, err := wgtypes.ParseKey(r.PublicKey)
		if err != nil || k == (wgtypes.Key{}) || k == active || r.Endpoint == "" ||
			slices.ContainsFunc(out, func(s StandbyPeer) bool { return s.PublicKey == k }) {
			continue
		}
		out = append(out, StandbyPeer{Name: r.Name, PublicKey: k, Endpoint: r.Endpoint})
	}
	// Each replica lists itself first: the same set from another replica
	// must compare equal.
	sortByName(out)
	return out
}

// sortByName orders standbys by name, as Config.Standby keeps them.
func sortByName(s []StandbyPeer) {
	slices.SortFunc(s, func(a, b StandbyPeer) int { return strings.Compare(a.Name, b.Name) })
}

// replicas returns the tunnel as Replicas when it holds standby replicas
// (ok false: there is only the one server, or the tunnel cannot).
func (e *Engine) replicas() (r Replicas, ok bool) {
	if e.tcfg == nil || len(e.tcfg.Standby) == 0 {
		return nil, false
	}
	r, ok = e.tun.(Replicas)
	return r, ok
}

// failoverCalm replaces FailoverAfter for a while after a check found the
// replica in use alive (calm, as quietCalm does with one server): a one-way
// stream then costs one check every 2 s (three handshake initiations, about
// 450 bytes), and a replica that dies meanwhile is left within 2 s.
const failoverCalm = 2 * time.Second

// suspectWindow is how long data may go unanswered before the connection
// is checked: shorter with standby replicas, where a false alarm costs a
// few forced handshakes and no change, and a real one is a failover whose
// gap this window makes up most of. calm is the minute after a false alarm.
func (e *Engine) suspectWindow(calm bool) time.Duration {
	if _, ok := e.replicas(); ok {
		// A move is not a false alarm: the replica it went to is as
		// likely to go next (a rolling restart) as any.
		if calm && (e.lastMove.IsZero() || e.c.Clock.Now().Sub(e.lastMove) > calmFor) {
			return failoverCalm
		}
		return e.t.FailoverAfter
	}
	if calm {
		return quietCalm
	}
	return e.t.SuspectAfter
}

// pollEvery is how often the counters are read while data goes out: a
// fifth of the window with standby replicas, so a dead replica is noticed
// within the window and a fifth, not within the window and a whole Poll.
func (e *Engine) pollEvery() time.Duration {
	if _, ok := e.replicas(); ok {
		return min(e.t.Poll, e.suspectWindow(false)/5)
	}
	return e.t.Poll
}

// suspectOrFailover answers a suspicion: with standby replicas, by
// failover (alive when the active one answers or another took over);
// otherwise, or when no replica answers, as with one server (suspect).
func (e *Engine) suspectOrFailover(ctx context.Context, why string) (verdict, error) {
	r, ok := e.replicas()
	if !ok {
		return e.suspect(ctx, why)
	}
	moved, alive, err := e.failover(ctx, r, why)
	switch {
	case err != nil:
		return verdict{}, err
	case moved || alive:
		return verdict{alive: true}, nil
	}
	e.log.Info("no replica of the server answered", "after", why)
	return e.suspect(ctx, why)
}

// failover asks the active replica and every standby for a handshake at
// once; the active one answering keeps everything as it is, a standby
// answering while the active one does not gets the routes. An unanswered
// initiation is sent again once, halfway, as the single-server probe does.
func (e *Engine) failover(ctx context.Context, r Replicas, why string) (moved, alive bool, err error) {
	if err := e.spaceInitiation(ctx); err != nil {
		return false, false, err
	}
	active := e.tcfg.PeerPublicKey
	stats, err := r.PeerStats()
	if err != nil {
		return false, false, nil // the single-server path handles a broken tunnel
	}
	cands := make([]StandbyPeer, len(e.tcfg.Standby))
	copy(cands, e.tcfg.Standby)
	// Freshest session first: among answers that come together, the one
	// most recently known to work wins.
	sort.SliceStable(cands, func(i, j int) bool {
		return stats[cands[i].PublicKey].LatestHandshake.After(stats[cands[j].PublicKey].LatestHandshake)
	})
	since, start := e.c.Clock.Wall(), e.c.Clock.Now()
	ask := func() {
		e.initiate()
		for _, c := range cands {
			if err := r.RehandshakePeer(c.PublicKey); err != nil {
				e.log.Debug("could not send a handshake to a standby replica", "replica", c.Name, "err", err)
			}
		}
	}
	ask()
	resend := start.Add(e.t.LivenessTimeout / 2)
	deadline := resend.Add(e.t.LivenessTimeout)
	var winner *StandbyPeer
	var answeredAt time.Time
	for {
		stats, err := r.PeerStats()
		if err != nil {
			return false, false, nil
		}
		now := e.c.Clock.Now()
		if stats[active].LatestHandshake.After(since) {
			e.log.Info("connection checked: the replica in use answers", "after", why, "took", now.Sub(start).Round(time.Millisecond))
			return false, true, nil
		}
		if winner == nil {
			for i := range cands {
				if stats[cands[i].PublicKey].LatestHandshake.After(since) {
					winner, answeredAt = &cands[i], now
					break
				}
			}
		}
		if winner != nil && now.Sub(answeredAt) >= max(answeredAt.Sub(start), failoverGraceMin) {
			if err := r.Activate(winner.PublicKey); err != nil {
				e.log.Warn("could not move the routes to another replica", "replica", winner.Name, "err", err)
				return false, false, nil
			}
			e.moved(ctx, *winner, why, now.Sub(start))
			return true, false, nil
		}
		if !now.Before(deadline) {
			return false, false, nil
		}
		if !resend.IsZero() && !now.Before(resend) {
			ask()
			resend = time.Time{}
		}
		select {
		case <-ctx.Done():
			return false, false, ctx.Err()
		case <-e.c.Clock.After(failoverPoll):
		}
	}
}

// moved records that the routes now go to replica to, says so, and asks the
// server in the background which replicas are live now.
func (e *Engine) moved(ctx context.Context, to StandbyPeer, why string, took time.Duration) {
	old := StandbyPeer{Name: e.activeName, PublicKey: e.tcfg.PeerPublicKey, Endpoint: e.tcfg.Endpoint}
	cfg := *e.tcfg
	cfg.PeerPublicKey, cfg.Endpoint = to.PublicKey, to.Endpoint
	cfg.Standby = nil
	for _, s := range e.tcfg.Standby {
		if s.PublicKey != to.PublicKey {
			cfg.Standby = append(cfg.Standby, s)
		}
	}
	cfg.Standby = append(cfg.Standby, old)
	sortByName(cfg.Standby)
	e.tcfg, e.activeName, e.lastMove = &cfg, to.Name, e.c.Clock.Now()
	e.log.Info("the server replica in use stopped answering: routes moved to another replica (same key, same address)",
		"because", why, "replica", to.Name, "endpoint", to.Endpoint, "took", took.Round(time.Millisecond))
	e.update(func(p *localapi.Profile) { p.Endpoint = to.Endpoint })
	e.refreshReplicas(ctx)
}

// refreshReplicas asks the server about our peer in the background; its
// answer's replicas become the standby set, applied by the run goroutine.
// The question ends with the run (Engine.start waits for bg).
func (e *Engine) refreshReplicas(ctx context.Context) {
	s, key := e.signerNow(), e.key
	if s == nil || key == nil {
		return
	}
	q := e.ask(ctx, s, key.PublicKey().String())
	e.bg.Add(1)
	go func() {
		defer e.bg.Done()
		defer q.close()
		select {
		case <-q.answered():
		case <-ctx.Done():
			return
		}
		a, _ := q.peek()
		if a.err != nil {
			e.log.Info("could not ask the server which replicas are live; the periodic check will", "err", a.err)
			return
		}
		select {
		case e.later <- func() { e.applyReplicas(ctx, a.peer) }:
		case <-ctx.Done():
		}
	}()
}

// applyReplicas makes the live replicas of a server answer the standby set:
// a replica that restarted (new key) or joined is added, one that left is
// removed. The active one stays as it is while it answers.
func (e *Engine) applyReplicas(ctx context.Context, p api.Peer) {
	r, ok := e.tun.(Replicas)
	if !ok || e.tcfg == nil || len(p.Replicas) == 0 {
		return
	}
	next := standbyOf(p, e.tcfg.PeerPublicKey)
	if slices.Equal(next, e.tcfg.Standby) {
		return
	}
	cfg := *e.tcfg
	cfg.Standby = next
	if err := r.SetStandby(ctx, cfg); err != nil {
		if !errors.Is(err, context.Canceled) {
			e.log.Warn("could not update the standby replicas", "err", err)
		}
		return
	}
	e.tcfg = &cfg
	var names []string
	for _, s := range next {
		names = append(names, s.Name)
	}
	e.log.Info("standby replicas updated", "standby", names)
}

// replicaName is the name of the replica that answered a registration.
func replicaName(p api.Peer) string {
	for _, r := range p.Replicas {
		if r.PublicKey == p.ServerPublicKey {
			return r.Name
		}
	}
	return ""
}
