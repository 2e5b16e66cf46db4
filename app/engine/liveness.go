package engine

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// livenessPoll is how often Stats is read while waiting for the answer to a
// forced handshake: a small fraction of a typical round trip's worst case.
const livenessPoll = 50 * time.Millisecond

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
	v, err := e.suspect(ctx, ev.String())
	if err != nil {
		return err // gone or dead (register again), or a person must act
	}
	if v.alive {
		return nil
	}
	// The server cannot be asked: a new key and a fresh configuration are
	// the quickest way back; the old peer is removed.
	return &errReconnect{reason: fmt.Sprintf("%s: %s, registering again", ev, v.cause), deleteOld: true}
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

// probe forces a handshake and waits, at most LivenessTimeout, for one newer
// than the call. took is how long the answer took. When asked is not nil
// its answer is returned as early; one saying the peer is gone ends the
// wait at once (the handshake cannot be answered then).
func (e *Engine) probe(ctx context.Context, asked <-chan peerAnswer) (alive bool, took time.Duration, early *peerAnswer, err error) {
	since, start := e.c.Clock.Wall(), e.c.Clock.Now()
	if err := e.tun.Rehandshake(); err != nil {
		// Nothing was sent (no route yet?); wireguard-go retries by itself,
		// so the wait below still decides.
		e.log.Warn("could not send a handshake", "err", err)
	}
	deadline := start.Add(e.t.LivenessTimeout)
	for {
		st, err := e.tun.Stats()
		if err != nil {
			e.dropTunnel()
			return false, 0, early, &errReconnect{reason: fmt.Sprintf("the tunnel stopped working (%v), bringing it up again", err), deleteOld: true}
		}
		e.showStats(st)
		now := e.c.Clock.Now()
		if st.LatestHandshake.After(since) {
			return true, now.Sub(start), early, nil
		}
		if !now.Before(deadline) {
			return false, now.Sub(start), early, nil
		}
		select {
		case <-ctx.Done():
			return false, 0, early, ctx.Err()
		case a := <-asked:
			early, asked = &a, nil
			if errors.Is(a.err, ErrNotFound) {
				return false, now.Sub(start), early, nil
			}
		case <-e.c.Clock.After(min(livenessPoll, deadline.Sub(now))):
		}
	}
}
