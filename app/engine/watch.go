package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ghostwire/ghostwire/app/localapi"
)

// verify is an open question "do packets still flow?", asked after a wake, a
// clock jump or a network change: answered by a handshake or bytes arriving
// after since, before deadline.
type verify struct {
	since    time.Time // wall
	rx       int64
	deadline time.Time // monotonic
	reason   string
}

// watch keeps a connected profile alive. It returns an *errReconnect when the
// peer must be registered again with a new key, or another error to retry.
//
// The tunnel's counters are read every Poll: data sent while nothing comes
// back (or a handshake older than a healthy tunnel allows) is checked at
// once with a forced handshake and a question to the server (suspect). The
// periodic peer check and the stale-handshake rule are the backstops.
func (e *Engine) watch(ctx context.Context) error {
	lastMono, lastWall := e.c.Clock.Now(), e.c.Clock.Wall()
	nextCheck := lastMono.Add(e.t.PeerCheck)
	var pending *verify
	var retryRotate time.Time // monotonic; zero: follow the peer's expiry
	var lastKick time.Time    // monotonic: last kick while verifying

	var quiet silence
	var down *outage
	var calmUntil time.Time // monotonic: the slower silence rule applies until then
	if st, err := e.tun.Stats(); err == nil {
		quiet.reset(st)
	}
	rebase := func() {
		if st, err := e.tun.Stats(); err == nil {
			quiet.reset(st)
		}
	}

	startVerify := func(reason string, dead bool) {
		st, _ := e.tun.Stats()
		pending = &verify{since: e.c.Clock.Wall(), rx: st.RxBytes, deadline: e.c.Clock.Now().Add(e.t.HandshakeTimeout), reason: reason}
		if dead {
			// After sleep the session is most likely dead: say so at once.
			e.setState(localapi.StateReconnecting, reason+", checking the connection")
		}
		if err := e.tun.Kick(); err != nil {
			e.log.Warn("could not start a handshake", "err", err)
		}
		lastKick = e.c.Clock.Now()
	}

	burst := true // read the counters again soon: packets may be in flight
	for {
		var ev Event
		var arrived time.Time // wall; zero: not a signal from the OS
		wait, started := e.idleWait(burst || quiet.active() || pending != nil || down != nil)
		burst = false
		select {
		case <-ctx.Done():
			return ctx.Err()
		case a := <-e.events:
			ev, arrived = a.ev, a.at
		case <-started:
			// Packets started to go out; the WireGuard device may not have
			// counted them yet, so the next reading comes after one Poll.
			burst = true
		case <-e.c.Clock.After(wait):
		case f := <-e.later:
			f()
		}
		now, wall := e.c.Clock.Now(), e.c.Clock.Wall()

		// Sleep shows as the wall clock running ahead of the monotonic one.
		mono, walled := now.Sub(lastMono), wall.Sub(lastWall)
		lastMono, lastWall = now, wall
		if d := walled - mono; d > e.t.ClockJump || d < -e.t.ClockJump {
			e.log.Info("wall clock jumped; the machine probably slept", "jump", d.Round(time.Second))
			ev, arrived = EventWake, time.Time{}
		}

		switch ev {
		case EventWake, EventNetworkChange:
			if e.answered(arrived) {
				e.log.Info("no check needed: a handshake completed after the signal", "signal", ev.String())
				break
			}
			// A forced handshake answers within a round trip; only a dead
			// path goes on to the server (often the peer is gone after a
			// long sleep) and a new registration.
			if err := e.checkPath(ctx, ev); err != nil {
				return err
			}
			now, wall = e.c.Clock.Now(), e.c.Clock.Wall()
			lastMono, lastWall = now, wall
			rebase()
			if down != nil {
				down = nil
				e.reconnected(ev.String())
			}
		case eventExtend:
			if err := e.rotate(ctx); err != nil {
				return err
			}
			rebase()
			continue
		}

		st, err := e.tun.Stats()
		if err != nil {
			e.dropTunnel()
			return &errReconnect{reason: fmt.Sprintf("the tunnel stopped working (%v), bringing it up again", err)}
		}
		e.showStats(st)
		silent := quiet.observe(st, now)

		if pending != nil {
			if (!st.LatestHandshake.IsZero() && st.LatestHandshake.After(pending.since)) || st.RxBytes > pending.rx {
				e.log.Info("connection checked: packets flow", "after", pending.reason)
				pending = nil
				if e.Profile().State != localapi.StateConnected {
					e.reconnected("no handshake for a while")
				}
			} else if !now.Before(pending.deadline) {
				return &errReconnect{reason: pending.reason + ": no answer from the server, registering again"}
			} else if now.Sub(lastKick) >= e.t.Tick {
				_ = e.tun.Kick()
				lastKick = now
			}
		}

		switch {
		case down != nil && down.recovered(st):
			down = nil
			calmUntil = now.Add(calmFor)
			rebase()
			e.reconnected("the server answered again")
		case down != nil && !now.Before(down.next):
			// The state's reason already says it; no log line per retry.
			v, err := e.suspectOrFailover(ctx, "the server did not answer")
			if err != nil {
				return err
			}
			now = e.c.Clock.Now()
			rebase()
			if v.alive {
				down = nil
				calmUntil = now.Add(calmFor)
				e.reconnected("the server answered again")
			} else {
				e.again(down, v, now)
			}
		case down == nil && pending == nil:
			why := e.suspicion(st, silent, now, wall, calmUntil)
			if why == "" {
				break
			}
			e.log.Info("checking the connection", "because", why)
			v, err := e.suspectOrFailover(ctx, why)
			if err != nil {
				return err
			}
			now = e.c.Clock.Now()
			st, _ = e.tun.Stats()
			quiet.reset(st)
			if v.alive {
				calmUntil = now.Add(calmFor)
			} else {
				down = e.startOutage(v, st, now)
			}
		}

		if pending == nil && down == nil && !st.LatestHandshake.IsZero() && wall.Sub(st.LatestHandshake) > e.t.StaleAfter {
			e.setState(localapi.StateReconnecting, fmt.Sprintf("no handshake for %s", wall.Sub(st.LatestHandshake).Round(time.Second)))
			if err := e.checkPeer(ctx); err != nil {
				return err
			}
			startVerify("no handshake for a while", true)
			nextCheck = now.Add(e.t.PeerCheck)
		}

		if !now.Before(nextCheck) {
			nextCheck = now.Add(e.t.PeerCheck)
			if err := e.checkPeer(ctx); err != nil {
				return err
			}
		}

		if e.rotationDue(wall, now, retryRotate) {
			if err := e.rotate(ctx); err != nil {
				var rc *errReconnect
				if errors.As(err, &rc) || permanent(err) {
					return err
				}
				e.log.Warn("key rotation failed; will try again", "err", err)
				retryRotate = now.Add(e.t.RetryMin * 5)
			} else {
				retryRotate = time.Time{}
				rebase()
			}
		}
	}
}

// idleWait is how long the watch may wait before reading the counters
// again, and a channel that ends the wait when packets start to go out.
// While traffic is moving or a check is open that is Poll; on an idle
// tunnel that can report outgoing packets it is Tick, which still catches
// clock jumps, stale handshakes and due peer checks in time.
func (e *Engine) idleWait(busy bool) (time.Duration, <-chan struct{}) {
	n, ok := e.tun.(OutgoingNotifier)
	if busy || !ok {
		return e.pollEvery(), nil
	}
	return max(e.t.Tick, e.t.Poll), n.Outgoing()
}

// answered reports whether a handshake completed after a signal arrived: it
// proves the path as it is after the change, so probing again would only
// retire a fresh session. This is the common case for a signal queued while
// the engine was reconnecting (a network change just before sleep fires on
// wake, while the wake itself registers again). A debounced network change
// arrives after the changes it reports, so the rule never hides a change.
func (e *Engine) answered(arrived time.Time) bool {
	if arrived.IsZero() {
		return false
	}
	st, err := e.tun.Stats()
	return err == nil && st.LatestHandshake.After(arrived)
}

// rotateBefore is how long before the peer's expiry the key is rotated: a
// tenth of the lifetime, at most five minutes.
func rotateBefore(lifetime time.Duration) time.Duration {
	return min(lifetime/10, 5*time.Minute)
}

func (e *Engine) rotationDue(wall, now, retry time.Time) bool {
	if e.peer == nil || e.peer.ExpiresAt.IsZero() {
		return false
	}
	if !retry.IsZero() {
		return !now.Before(retry)
	}
	life := e.peer.ExpiresAt.Sub(e.peer.CreatedAt)
	return !wall.Before(e.peer.ExpiresAt.Add(-rotateBefore(life)))
}

// rotate registers a new key that replaces the current one (same address, so
// open connections survive) and reconfigures the tunnel in place.
func (e *Engine) rotate(ctx context.Context) error {
	oldAddr := e.peer.Address
	e.log.Info("rotating the key before the peer's lifetime ends", "expires", e.peer.ExpiresAt)
	// The current key is the last registration: the new one replaces it.
	err := e.connect(ctx, false, SignInAuto)
	if err != nil && e.tun == nil {
		// The new key replaced the old one on the server, but the tunnel
		// could not take it and was closed: start again from a new one.
		return &errReconnect{reason: fmt.Sprintf("the key rotation failed (%v), bringing the tunnel up again", err)}
	}
	if err != nil {
		return err
	}
	if e.peer.Address != oldAddr {
		e.log.Warn("the server gave a new address at key rotation; open connections will break", "old", oldAddr, "new", e.peer.Address)
	}
	return nil
}

// checkPeer asks the server about our own peer: gone means register again.
func (e *Engine) checkPeer(ctx context.Context) error {
	s := e.signerNow()
	if s == nil || e.key == nil {
		return nil
	}
	tok, err := s.Token(ctx)
	if err != nil {
		return err // ErrSignInRequired: a person must act
	}
	peer, err := e.c.API.Peer(ctx, tok.AccessToken, e.key.PublicKey().String())
	switch {
	case err == nil:
		e.applyPeer(ctx, peer)
		return nil
	case errors.Is(err, ErrNotFound):
		e.peerGone()
		return &errReconnect{reason: "the server no longer knows this device (it restarted or the peer expired), registering again"}
	case errors.Is(err, ErrUnauthorized):
		// Token() said the token is valid yet the server refused it: the
		// next Token() call renews it; nothing to do now.
		e.log.Warn("the server refused the token while checking the peer", "err", err)
		return nil
	case errors.Is(err, ErrForbidden):
		return err
	default:
		// Unreachable: the handshake watch decides whether packets flow.
		e.log.Info("could not ask the server about this peer", "err", err)
		return nil
	}
}
