package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ghostwire/ghostwire/app/localapi"
	"github.com/ghostwire/ghostwire/server/api"
)

// WireGuard's own timers and sizes the suspicion rules are built on.
const (
	// keepaliveBytes is the size of a keepalive on the wire (header + tag):
	// the peer never answers one, so it alone expects nothing back.
	keepaliveBytes = 32
	rekeyAfterTime = 120 * time.Second
	rekeyTimeout   = 5 * time.Second
	// quietCalm is WireGuard's own "sent data, heard nothing" rule
	// (KeepaliveTimeout + RekeyTimeout): the peer's passive keepalive
	// answers one-way traffic within 10 s. It replaces SuspectAfter for a
	// while after a probe found the path alive, so a one-way stream (UDP
	// metrics, say) costs one forced handshake per calmFor, not one per
	// second.
	quietCalm = 15 * time.Second
	calmFor   = time.Minute
	// askTimeout bounds the question to the server during a probe; it is
	// sent again every askHedge while unanswered, askTries times at most.
	askTimeout = 5 * time.Second
	askHedge   = 500 * time.Millisecond
	askTries   = 4
)

// silence notices "sending but nothing comes back" in the tunnel's
// counters: the first sample in which more than a keepalive went out, while
// nothing has come in since.
type silence struct {
	rx, tx  int64
	hs      time.Time
	since   time.Time // monotonic: oldest unanswered send; zero: none
	sending bool      // the last sample saw more than a keepalive go out
}

// observe takes a sample and returns how long data has gone unanswered.
func (s *silence) observe(st TunnelStats, now time.Time) time.Duration {
	if st.TxBytes < s.tx || st.RxBytes < s.rx { // a new peer: counters restart
		s.reset(st)
		return 0
	}
	sent := st.TxBytes - s.tx
	answered := st.RxBytes > s.rx || st.LatestHandshake.After(s.hs)
	s.rx, s.tx, s.hs = st.RxBytes, st.TxBytes, st.LatestHandshake
	s.sending = sent > keepaliveBytes
	switch {
	case answered:
		s.since = time.Time{}
	case sent > keepaliveBytes && s.since.IsZero():
		s.since = now
	}
	if s.since.IsZero() {
		return 0
	}
	return now.Sub(s.since)
}

// reset takes st as the new baseline with nothing unanswered (after a probe,
// whose own handshake must not count as unanswered data).
func (s *silence) reset(st TunnelStats) {
	s.rx, s.tx, s.hs, s.since, s.sending = st.RxBytes, st.TxBytes, st.LatestHandshake, time.Time{}, false
}

// active reports whether data is going out or waits for an answer: then the
// counters are read every Poll, so a silence is noticed within SuspectAfter.
func (s *silence) active() bool { return s.sending || !s.since.IsZero() }

// outage is a path found dead while the server could not be asked: the
// profile says reconnecting and probes again on a backoff until a handshake
// comes back or the server answers.
type outage struct {
	since   time.Time // wall: when the path was found dead
	rx      int64
	backoff time.Duration
	next    time.Time // monotonic: next probe
}

// staleHandshake is the age past which a healthy tunnel cannot have gone
// without a handshake: the session is renewed on the first send after
// RekeyAfterTime, and with only persistent keepalives that send comes up to
// one keepalive interval later; a lost initiation retries after
// RekeyTimeout. (RekeyAfterTime + RekeyTimeout alone, 125 s, is reached by
// every idle tunnel and would force a handshake each cycle.)
func staleHandshake(keepalive time.Duration) time.Duration {
	return rekeyAfterTime + keepalive + rekeyTimeout
}

// suspicion says why the connection looks dead, or "" if it does not.
func (e *Engine) suspicion(st TunnelStats, quiet time.Duration, now, wall, calmUntil time.Time) string {
	window := e.suspectWindow(now.Before(calmUntil))
	if quiet >= window {
		return fmt.Sprintf("data sent but nothing came back for %s", quiet.Round(100*time.Millisecond))
	}
	ka := 25 * time.Second
	if e.tcfg != nil && e.tcfg.Keepalive > 0 {
		ka = e.tcfg.Keepalive
	}
	if !st.LatestHandshake.IsZero() {
		if age := wall.Sub(st.LatestHandshake); age > staleHandshake(ka) {
			return fmt.Sprintf("no handshake for %s", age.Round(time.Second))
		}
	}
	return ""
}

// verdict is what a suspicion probe found.
type verdict struct {
	alive bool
	took  time.Duration
	cause string // when not alive and not decided: why the server could not be asked
}

// suspect answers a suspicion: a forced handshake (answered within
// LivenessTimeout = alive, nothing changes) and, at the same time, the
// server is asked about our peer (gone = register again at once, without
// waiting for the handshake's bound). Dead with the peer still known
// registers again with a fresh config; dead while the server cannot be asked
// returns a verdict with the cause, for the caller to retry on a backoff.
func (e *Engine) suspect(ctx context.Context, why string) (verdict, error) {
	key := ""
	if e.key != nil {
		key = e.key.PublicKey().String()
	}
	q := e.ask(ctx, e.signerNow(), key)
	defer q.close()

	alive, took, err := e.probe(ctx, q)
	if err != nil {
		return verdict{}, err
	}
	if alive {
		if a, ok := q.peek(); ok && a.err == nil {
			e.applyPeer(ctx, a.peer)
		}
		e.log.Info("connection checked: packets flow", "after", why, "took", took.Round(time.Millisecond))
		return verdict{alive: true, took: took}, nil
	}
	ans := q.answer()
	switch err := ans.err; {
	case errors.Is(err, ErrNotFound):
		e.peerGone()
		return verdict{}, &errReconnect{reason: why + ": the server no longer knows this device (it restarted or the peer expired), registering again"}
	case err == nil:
		// The server knows us but the handshake went unanswered: a fresh
		// key and configuration (endpoint resolved again) is the quickest
		// way back, as after a wake; the new key replaces the old peer.
		return verdict{}, &errReconnect{reason: fmt.Sprintf("%s: no WireGuard answer within %s though the server knows this device, registering again", why, took.Round(100*time.Millisecond))}
	case errors.Is(err, ErrForbidden), permanent(err):
		return verdict{}, err
	}
	return verdict{took: took, cause: fmt.Sprintf("no WireGuard answer within %s and the server's API could not be asked (%v)", took.Round(100*time.Millisecond), ans.err)}, nil
}

// applyPeer records what the server says about our peer (its expiry moves
// when the server extends it).
func (e *Engine) applyPeer(ctx context.Context, peer api.Peer) {
	e.applyReplicas(ctx, peer)
	if e.peer == nil || peer.ExpiresAt.IsZero() {
		return
	}
	e.peer.ExpiresAt = peer.ExpiresAt
	exp := peer.ExpiresAt
	e.update(func(p *localapi.Profile) { p.ExpiresAt = &exp })
}

// startOutage says reconnecting, with why, and plans the next probe.
func (e *Engine) startOutage(v verdict, st TunnelStats, now time.Time) *outage {
	o := &outage{since: e.c.Clock.Wall(), rx: st.RxBytes, backoff: e.t.RetryMin}
	o.next = now.Add(o.backoff)
	e.setState(localapi.StateReconnecting, fmt.Sprintf("no answer from the server: %s; retrying in %s", v.cause, o.backoff.Round(time.Second)))
	return o
}

// recovered reports whether packets came back during an outage.
func (o *outage) recovered(st TunnelStats) bool {
	return st.LatestHandshake.After(o.since) || st.RxBytes > o.rx
}

// again plans the next probe after another unanswered one, backing off to
// ProbeBackoffMax so a dead server is not hammered, and says so.
func (e *Engine) again(o *outage, v verdict, now time.Time) {
	o.backoff = min(o.backoff*2, e.t.ProbeBackoffMax)
	o.next = now.Add(o.backoff)
	e.setState(localapi.StateReconnecting, fmt.Sprintf("no answer from the server: %s; retrying in %s", v.cause, o.backoff.Round(time.Second)))
}

// reconnected says connected again after a recovered outage.
func (e *Engine) reconnected(why string) {
	e.log.Info("connection checked: packets flow again", "after", why)
	now := e.c.Clock.Wall()
	e.update(func(p *localapi.Profile) {
		p.State, p.Reason, p.ErrorCode = localapi.StateConnected, "", ""
		p.ConnectedSince = &now
	})
}
