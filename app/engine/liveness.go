package engine

import (
	"context"
	"errors"
	"fmt"
	"time"
)

const (
	// livenessPoll is how often Stats is read while waiting for the answer
	// to a forced handshake: a small fraction of a typical round trip's
	// worst case.
	livenessPoll = 50 * time.Millisecond
	// initiationGap is how long after the latest handshake a forced one
	// waits: the responder silently drops an initiation that comes within
	// 20 ms of the last one it took (wireguard-go's HandshakeInitationRate,
	// the kernel's 50 per second) or whose TAI64N timestamp, coarsened to
	// ~16 ms, is not newer. Dropped, it would leave the session retired and
	// packets queued until the probe gives up.
	initiationGap = 50 * time.Millisecond
)

// checkPath answers "do packets still flow?" after a wake or a network
// change within about one round trip, instead of waiting for the server's
// passive keepalive (10 s): a forced handshake answered within
// LivenessTimeout means yes, and nothing changes (no state flap, same key).
// The server is asked about our peer at the same time (suspect): gone means
// register again at once (often the case after a long sleep). A dead path
// registers again with a new key either way.
func (e *Engine) checkPath(ctx context.Context, ev Event) error {
	e.log.Info("checking the connection", "because", ev.String())
	if ev == EventNetworkChange {
		e.repin(ctx)
	}
	v, err := e.suspectOrFailover(ctx, ev.String())
	if err != nil {
		return err // gone or dead (register again), or a person must act
	}
	if v.alive {
		return nil
	}
	// The server cannot be asked: a new key and a fresh configuration are
	// the quickest way back; the new key replaces the old peer.
	return &errReconnect{reason: fmt.Sprintf("%s: %s, registering again", ev, v.cause)}
}

// repin applies the running config again after a network change: the
// tunnel then pins its host route to the endpoint (routing loop) through
// the gateway that reaches it now, resolves the endpoint again, and drops
// the cached source address. A failure is logged; the liveness check that
// follows decides whether the connection must be rebuilt.
func (e *Engine) repin(ctx context.Context) {
	if e.tcfg == nil {
		return
	}
	if err := e.tun.Reconfigure(ctx, *e.tcfg); err != nil {
		e.log.Warn("could not re-apply the tunnel's routes after the network change", "err", err)
	}
}

// probe forces a handshake and waits, at most 1.5 times LivenessTimeout, for
// one newer than the call. took is how long the answer took. An answer to q
// saying the peer is gone ends the wait at once (the handshake cannot be
// answered then); q is only looked at, never consumed.
//
// Without an answer halfway through LivenessTimeout the initiation is sent
// again and given a whole LivenessTimeout of its own: one lost UDP packet
// (common right after a network change) then costs half a second or so, not
// a new registration with a new address that breaks open connections, and
// wireguard-go itself would retry only after 5 s. A resend supersedes the
// first initiation (a new handshake, a new index), hence the full wait after
// it: a slow path (a saturated uplink's queue) answering within
// LivenessTimeout stays alive. A dead path is given up after 1.5 times
// LivenessTimeout.
func (e *Engine) probe(ctx context.Context, q *question) (alive bool, took time.Duration, err error) {
	if err := e.spaceInitiation(ctx); err != nil {
		return false, 0, err
	}
	since, start := e.c.Clock.Wall(), e.c.Clock.Now()
	e.initiate()
	resend := start.Add(e.t.LivenessTimeout / 2)
	deadline := resend.Add(e.t.LivenessTimeout)
	answered := q.answered()
	for {
		st, err := e.tun.Stats()
		if err != nil {
			e.dropTunnel()
			return false, 0, &errReconnect{reason: fmt.Sprintf("the tunnel stopped working (%v), bringing it up again", err)}
		}
		e.showStats(st)
		now := e.c.Clock.Now()
		if st.LatestHandshake.After(since) {
			return true, now.Sub(start), nil
		}
		if !now.Before(deadline) {
			return false, now.Sub(start), nil
		}
		if !resend.IsZero() && !now.Before(resend) {
			e.log.Debug("no answer to the handshake yet, sending it again", "after", now.Sub(start).Round(time.Millisecond))
			e.initiate()
			resend = time.Time{}
		}
		select {
		case <-ctx.Done():
			return false, 0, ctx.Err()
		case <-answered:
			answered = nil // seen; the answer stays in q for the caller
			if a, _ := q.peek(); errors.Is(a.err, ErrNotFound) {
				return false, now.Sub(start), nil
			}
		case <-e.c.Clock.After(min(livenessPoll, deadline.Sub(now))):
		}
	}
}

// initiate sends a handshake initiation now.
func (e *Engine) initiate() {
	if err := e.tun.Rehandshake(); err != nil {
		// Nothing was sent (no route yet?); wireguard-go retries by itself,
		// so the probe's wait still decides.
		e.log.Warn("could not send a handshake", "err", err)
	}
}

// spaceInitiation waits until initiationGap has passed since the latest
// handshake, so the responder takes the forced one.
func (e *Engine) spaceInitiation(ctx context.Context) error {
	st, err := e.tun.Stats()
	if err != nil || st.LatestHandshake.IsZero() {
		return nil // the probe's own Stats call handles a broken tunnel
	}
	wait := initiationGap - e.c.Clock.Wall().Sub(st.LatestHandshake)
	if wait <= 0 || wait > initiationGap { // > : the wall clock stepped back
		return nil
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-e.c.Clock.After(wait):
		return nil
	}
}
