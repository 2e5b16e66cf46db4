package engine

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/ghostwire/ghostwire/app/localapi"
	"github.com/ghostwire/ghostwire/server/api"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// errReconnect asks run to register again with a new key, which replaces
// the old peer if the server still has it; its text is the reason shown
// while reconnecting.
type errReconnect struct {
	reason string
}

func (e *errReconnect) Error() string { return e.reason }

// run connects, watches, and reconnects until ctx ends or a person must act.
func (e *Engine) run(ctx context.Context, mode SignInMode) {
	interactive := true // only the first attempt may ask a person to sign in
	connectedOnce := false
	backoff := e.t.RetryMin
	var reason string
	for ctx.Err() == nil {
		if connectedOnce {
			e.setState(localapi.StateReconnecting, reason)
		} else {
			e.setState(localapi.StateRegistering, "")
		}
		err := e.connect(ctx, interactive, mode)
		interactive = false
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			connectedOnce = true
			backoff = e.t.RetryMin
			err = e.watch(ctx)
			if ctx.Err() != nil {
				return
			}
		}
		var rc *errReconnect
		switch {
		case errors.As(err, &rc):
			reason = rc.reason
			// Re-register at once: the old key is dead, a new one is made
			// and replaces it on the server (same address, when it is
			// still there).
			e.dropPeer()
			continue
		case !connectedOnce || permanent(err):
			// The person is waiting on the first attempt: tell them now.
			e.fail(err)
			return
		}
		reason = fmt.Sprintf("%s; retrying in %s", userMessage(err), backoff.Round(time.Second))
		e.setState(localapi.StateReconnecting, reason)
		select {
		case <-ctx.Done():
			return
		case <-e.c.Clock.After(backoff):
		}
		backoff = min(backoff*2, e.t.RetryMax)
	}
}

// permanent errors need a person; anything else is retried while reconnecting.
func permanent(err error) bool {
	return errors.Is(err, ErrSignInRequired) || errors.Is(err, ErrSignInFailed) ||
		errors.Is(err, ErrForbidden) || errors.Is(err, ErrConflict) || errors.Is(err, ErrRejected) ||
		errors.Is(err, ErrDeviceCap)
}

// dropTunnel closes a tunnel that stopped working.
func (e *Engine) dropTunnel() {
	if e.tun == nil {
		return
	}
	if err := e.tun.Close(); err != nil {
		e.log.Warn("closing a broken tunnel failed", "err", err)
	}
	if e.c.Release != nil {
		e.c.Release(e.c.Name)
	}
	e.tun, e.tcfg = nil, nil
}

// dropPeer forgets the current key (not the last registration, which the
// next one replaces); the tunnel stays so Reconfigure can reuse it.
func (e *Engine) dropPeer() {
	e.key, e.peer, e.tcfg = nil, nil, nil
}

// connect registers a fresh key, which replaces the last registration if
// the server still has it, configures the tunnel and waits until packets
// flow.
func (e *Engine) connect(ctx context.Context, interactive bool, mode SignInMode) error {
	tok, err := e.token(ctx, interactive, mode)
	if err != nil {
		return err
	}
	if e.Profile().State == localapi.StateSigningIn {
		e.setState(localapi.StateRegistering, "")
	}
	key, err := wgtypes.GeneratePrivateKey()
	if err != nil {
		return fmt.Errorf("could not make a key: %w", err)
	}
	peer, err := e.register(ctx, tok, key)
	if err != nil {
		return err
	}
	e.setLast(key.PublicKey().String())
	cfg, err := tunnelConfig(e.c.Interface, key, peer)
	if err != nil {
		// The server answered nonsense; nothing a retry fixes.
		e.deleteQuiet(ctx, tok, key)
		return &ServerError{Kind: ErrRejected, Message: fmt.Sprintf("the server's answer cannot be used (%v): ask your admin to check the server's configuration", err)}
	}
	if e.c.Claim != nil {
		if err := e.c.Claim(e.c.Name, cfg.Routes); err != nil {
			e.deleteQuiet(ctx, tok, key)
			return err
		}
	}
	since := e.c.Clock.Wall()
	if e.tun == nil {
		tun, err := e.c.Tunnels.Up(ctx, cfg)
		if err != nil {
			e.deleteQuiet(ctx, tok, key)
			if e.c.Release != nil {
				e.c.Release(e.c.Name)
			}
			return fmt.Errorf("could not bring the tunnel up: %w", err)
		}
		e.tun = tun
	} else if err := e.tun.Reconfigure(ctx, cfg); err != nil {
		e.deleteQuiet(ctx, tok, key)
		e.dropTunnel() // the next attempt starts from a fresh interface
		return fmt.Errorf("could not reconfigure the tunnel: %w", err)
	}
	e.key, e.peer, e.tcfg = &key, &peer, &cfg
	e.activeName = replicaName(peer)
	e.showPeer(peer)
	if err := e.waitPackets(ctx, since); err != nil {
		return err
	}
	now := e.c.Clock.Wall()
	e.update(func(p *localapi.Profile) {
		p.State, p.Reason, p.ErrorCode = localapi.StateConnected, "", ""
		p.ConnectedSince = &now
	})
	e.log.Info("connected", "address", peer.Address, "endpoint", peer.Endpoint, "expires", peer.ExpiresAt)
	return nil
}

// register posts the key, renewing the token once if the server refuses it.
// It names the last registration in `replaces`: a peer of ours the server
// still has (the key being rotated, a dead session's, or one a crashed
// daemon left behind) is taken over, with its address and without
// counting against the device cap; the server ignores a key it does not
// know or that is not this user's.
func (e *Engine) register(ctx context.Context, tok Token, key wgtypes.Key) (api.Peer, error) {
	req := api.RegisterRequest{PublicKey: key.PublicKey().String(), DeviceName: e.c.DeviceName, Replaces: e.last}
	peer, err := e.c.API.Register(ctx, tok.AccessToken, req)
	if errors.Is(err, ErrUnauthorized) {
		if tok2, terr := e.signerNow().Token(ctx); terr == nil && tok2.AccessToken != tok.AccessToken {
			peer, err = e.c.API.Register(ctx, tok2.AccessToken, req)
		}
	}
	return peer, err
}

// deleteQuiet removes a peer just registered and not used; if that fails
// it stays the last registration, which the next one replaces.
func (e *Engine) deleteQuiet(ctx context.Context, tok Token, key wgtypes.Key) {
	pub := key.PublicKey().String()
	if err := e.c.API.DeletePeer(ctx, tok.AccessToken, pub); err != nil && !errors.Is(err, ErrNotFound) {
		e.log.Warn("could not remove an unused peer from the server; the next registration replaces it, or it expires by itself", "err", err)
		return
	}
	e.forget(pub)
}

// waitPackets kicks a handshake and waits until one happened after since, or
// until bytes arrive. "Connected" is never said before that.
func (e *Engine) waitPackets(ctx context.Context, since time.Time) error {
	rx0 := int64(-1)
	if st, err := e.tun.Stats(); err == nil && st.LatestHandshake.Before(since) {
		rx0 = st.RxBytes
	}
	if err := e.tun.Kick(); err != nil {
		e.log.Warn("could not start a handshake", "err", err)
	}
	deadline := e.c.Clock.Now().Add(e.t.HandshakeTimeout)
	lastKick := e.c.Clock.Now()
	for {
		if st, err := e.tun.Stats(); err == nil {
			e.showStats(st)
			if !st.LatestHandshake.IsZero() && !st.LatestHandshake.Before(since) {
				return nil
			}
			if rx0 >= 0 && st.RxBytes > rx0 {
				return nil
			}
		}
		now := e.c.Clock.Now()
		if !now.Before(deadline) {
			return &ServerError{Kind: ErrUnreachable, Message: fmt.Sprintf(
				"the server accepted this device but no WireGuard answer came back from %s within %s: a firewall may block UDP to it",
				e.Profile().Endpoint, e.t.HandshakeTimeout)}
		}
		if now.Sub(lastKick) >= 5*time.Second {
			_ = e.tun.Kick()
			lastKick = now
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		// A handshake takes one round trip: poll as the liveness probe
		// does, so a reconnect is not rounded up to a slow tick.
		case <-e.c.Clock.After(min(e.t.Tick, livenessPoll)):
		}
	}
}

func (e *Engine) showPeer(peer api.Peer) {
	e.update(func(p *localapi.Profile) {
		p.Address, p.Endpoint = peer.Address, peer.Endpoint
		p.Routes = append([]string(nil), peer.Routes...)
		p.DNSServers = append([]string(nil), peer.DNSServers...)
		p.SearchDomains = append([]string(nil), peer.SearchDomains...)
		p.MatchDomains = append([]string(nil), peer.MatchDomains...)
		exp := peer.ExpiresAt
		p.ExpiresAt = &exp
	})
}

// showStats records the counters; only a new handshake is published, so the
// status stream does not tick with every byte.
func (e *Engine) showStats(st TunnelStats) {
	e.mu.Lock()
	e.prof.RxBytes, e.prof.TxBytes = st.RxBytes, st.TxBytes
	changed := false
	if !st.LatestHandshake.IsZero() && (e.prof.LatestHandshake == nil || !e.prof.LatestHandshake.Equal(st.LatestHandshake)) {
		hs := st.LatestHandshake
		e.prof.LatestHandshake = &hs
		changed = true
	}
	e.mu.Unlock()
	if changed {
		e.changed()
	}
}

// tunnelConfig checks and converts the server's answer.
func tunnelConfig(ifname string, key wgtypes.Key, p api.Peer) (TunnelConfig, error) {
	c := TunnelConfig{Interface: ifname, PrivateKey: key, Endpoint: p.Endpoint, MTU: p.MTU,
		SearchDomains: p.SearchDomains, MatchDomains: p.MatchDomains,
		Keepalive: time.Duration(p.KeepaliveSeconds) * time.Second}
	var err error
	if c.Address, err = netip.ParsePrefix(p.Address); err != nil {
		return c, fmt.Errorf("address %q: %w", p.Address, err)
	}
	if c.PeerPublicKey, err = wgtypes.ParseKey(p.ServerPublicKey); err != nil {
		return c, fmt.Errorf("server public key: %w", err)
	}
	if p.Endpoint == "" {
		return c, errors.New("no endpoint")
	}
	for _, r := range p.Routes {
		pr, err := netip.ParsePrefix(r)
		if err != nil {
			return c, fmt.Errorf("route %q: %w", r, err)
		}
		c.Routes = append(c.Routes, pr.Masked())
	}
	for _, d := range p.DNSServers {
		a, err := netip.ParseAddr(d)
		if err != nil {
			return c, fmt.Errorf("DNS server %q: %w", d, err)
		}
		c.DNSServers = append(c.DNSServers, a)
	}
	if c.Keepalive <= 0 {
		c.Keepalive = 25 * time.Second
	}
	c.Standby = standbyOf(p, c.PeerPublicKey)
	return c, nil
}
