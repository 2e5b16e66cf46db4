package tunnel

import (
	"errors"
	"fmt"
	"slices"
)

// A server that runs as several replicas gives every client every replica:
// the tunnel holds the one carrying the routes (Config.Peer) and the others
// as standbys with a live session each, and moves the routes between them in
// one device update. The address, key, routes and DNS stay as they are.

// PeerStats reads the counters of every peer, the active one and each standby.
func (t *Tunnel) PeerStats() (map[Key]Stats, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s, err := t.ipcGetLocked()
	if err != nil {
		return nil, err
	}
	return parseAllStats(s), nil
}

// Active is the public key of the peer that carries the routes.
func (t *Tunnel) Active() Key {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.cfg.Peer.PublicKey
}

// Activate moves the routes to the standby peer pub in one device update:
// it gets the active peer's allowed IPs, and the active one becomes a
// standby with none. Nothing else changes (no OS route, no address, no DNS;
// every endpoint is pinned already), so new connections flow through pub at
// once.
func (t *Tunnel) Activate(pub Key) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return errors.New("the tunnel is down")
	}
	i := slices.IndexFunc(t.cfg.Standby, func(p Peer) bool { return p.PublicKey == pub })
	if i < 0 {
		return fmt.Errorf("no standby replica with key %s", pub)
	}
	from, to := t.cfg.Peer, t.cfg.Standby[i]
	to.AllowedIPs = from.AllowedIPs
	if err := t.dev.IpcSet(activateConfig(from, to)); err != nil {
		return fmt.Errorf("cannot move the routes to another replica: %w", err)
	}
	from.AllowedIPs = nil
	standby := slices.Clone(t.cfg.Standby)
	standby[i] = from
	t.cfg.Peer, t.cfg.Standby = to, standby
	t.log.Info("routes moved to another replica", "endpoint", to.Endpoint, "from", from.Endpoint)
	return nil
}

// RehandshakePeer sends a handshake initiation to one peer (active or
// standby) now: a LatestHandshake newer than the call proves it answers.
func (t *Tunnel) RehandshakePeer(pub Key) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return errors.New("the tunnel is down")
	}
	found, err := t.rehandshakeLocked(pub)
	if !found {
		return fmt.Errorf("the WireGuard device has no peer %s", pub)
	}
	return err
}

// SetStandby replaces the standby peers (a replica restarted with a new
// key, a new one joined, one left): one device update for the peers, and
// pins only for endpoints that need one. The active peer is left as it is.
func (t *Tunnel) SetStandby(standby []Peer) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return errors.New("the tunnel is down")
	}
	next := t.cfg
	next.Standby = standby
	if err := next.Validate(); err != nil {
		return err
	}
	old := t.cfg
	if err := t.dev.IpcSet(uapiConfig(next, &old)); err != nil {
		return fmt.Errorf("cannot update the standby replicas: %w", err)
	}
	t.cfg = next
	if !slices.Equal(coveredEndpoints(old, t.routes), coveredEndpoints(next, t.routes)) {
		if err := t.applyRoutes(next); err != nil {
			return err
		}
	}
	t.keepaliveStandbysLocked()
	t.log.Info("standby replicas updated", "standby", len(standby))
	return nil
}
